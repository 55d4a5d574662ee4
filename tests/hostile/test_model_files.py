"""Model files never run code: every hostile file in the corpus is refused by the registration
check and by the loader, with one line naming the file, and its payload never runs.

The project folder is put first on sys.path, so a module a file names (``evil_payload``) could
really be imported if anything tried: its import would create the canary.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvctl.apply.artifacts import check_safe_artifact
from mvctl.apply.predictors import open_predictor
from mvctl.apply.safetensors_header import read_header
from mvctl.apply.skops_trust import CONTENT_UNCHECKED, HELPER_TYPES, load_skops, trusted_names
from mvctl.errors import UnsafeArtifactError
from tests.hostile.corpus import (
    ALL_FILES,
    EVIL_MODULE,
    Hostile,
    call_node,
    json_node,
    safetensors_file,
    skops_archive,
    skops_eval,
    skops_forest,
    skops_numpy_load,
    skops_os_system,
    write_evil_module,
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding evil_payload.py, importable (first on sys.path)."""
    write_evil_module(tmp_path, tmp_path / "CANARY")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(EVIL_MODULE, None)


def assert_nothing_ran(folder: Path) -> None:
    assert not (folder / "CANARY").exists()
    assert EVIL_MODULE not in sys.modules


def refusal(error: pytest.ExceptionInfo[UnsafeArtifactError]) -> str:
    message = error.value.message
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("hostile", ALL_FILES, ids=lambda h: h.name)
def test_registration_refuses_each_hostile_file(hostile: Hostile, folder: Path) -> None:
    path = hostile.build(folder, folder / "CANARY")
    with pytest.raises(UnsafeArtifactError) as refused:
        check_safe_artifact(path, (), what="the artifact", registered=True)
    message = refusal(refused)
    assert hostile.refusal in message and str(path) in message
    assert_nothing_ran(folder)


@pytest.mark.parametrize(
    "hostile", [h for h in ALL_FILES if h.name != "unlisted Tree"], ids=lambda h: h.name
)
def test_loading_refuses_each_hostile_file_even_as_mvctl_s_own(
    hostile: Hostile, folder: Path
) -> None:
    """``registered=False``: a model mvctl trained itself gets no more trust for code."""
    path = hostile.build(folder, folder / "CANARY")
    with pytest.raises(UnsafeArtifactError) as refused:
        open_predictor(path, (), what="the model", registered=False, torch_module=None)
    assert hostile.refusal in refusal(refused)
    assert_nothing_ran(folder)


@pytest.mark.parametrize(
    ("build", "listed"),
    [
        (skops_eval, "builtins.eval"),
        (skops_os_system, "os.system"),
        (skops_numpy_load, "numpy.load"),
    ],
)
def test_listing_a_dangerous_name_in_trusted_types_does_not_trust_it(
    build: object, listed: str, folder: Path
) -> None:
    path = build(folder, folder / "CANARY")  # type: ignore[operator]
    with pytest.raises(UnsafeArtifactError) as refused:
        open_predictor(path, (listed,), what="the model", registered=False, torch_module=None)
    assert f"{listed} ('{listed}' is in {listed.split('.')[0]}" in refusal(refused)
    assert listed not in trusted_names((listed,), registered=False)
    assert_nothing_ran(folder)


def test_a_function_node_is_refused_even_when_its_name_is_listed(folder: Path) -> None:
    node = {"__class__": "run", "__module__": EVIL_MODULE, "__loader__": "FunctionNode"}
    path = skops_archive(folder / "listed.skops", node)
    with pytest.raises(UnsafeArtifactError) as refused:
        open_predictor(
            path, (f"{EVIL_MODULE}.run",), what="the model", registered=False, torch_module=None
        )
    assert f"{EVIL_MODULE}.run (a function)" in refusal(refused)
    assert_nothing_ran(folder)


def test_a_listed_name_that_is_not_a_class_is_refused_before_it_is_called(folder: Path) -> None:
    """json.dumps passes the name checks, but skops would call it with the file's arguments."""
    path = skops_archive(folder / "call.skops", call_node("json", "dumps", json_node("x")))
    assert check_safe_artifact(path, ("json.dumps",), what="the model") == "skops"
    with pytest.raises(UnsafeArtifactError) as refused:
        load_skops(path, ("json.dumps",), registered=False, what="the model")
    assert "json.dumps, listed in `trusted_types`, which is a function, not a class" in (
        refusal(refused)
    )


def test_a_registered_forest_loads_when_its_tree_is_listed(folder: Path) -> None:
    path = skops_forest(folder, folder / "CANARY")
    tree = "sklearn.tree._tree.Tree"
    with pytest.raises(UnsafeArtifactError, match=r"list 'sklearn\.tree\._tree\.Tree' under"):
        open_predictor(path, (), what="the model", registered=True, torch_module=None)
    assert check_safe_artifact(path, (tree,), what="the model", registered=True) == "skops"
    predictor = open_predictor(path, (tree,), what="the model", registered=True, torch_module=None)
    assert list(predictor.predict_batch([[0], [1]])) == [0, 1]
    trained = open_predictor(path, (), what="the model", registered=False, torch_module=None)
    assert list(trained.predict_batch([[0], [1]])) == [0, 1]


def test_trusted_names_are_exact_classes() -> None:
    names = trusted_names((), registered=True)
    assert "sklearn.ensemble._forest.RandomForestClassifier" in names
    assert "sklearn.pipeline.Pipeline" in names
    assert not set(CONTENT_UNCHECKED) & set(names)
    assert set(CONTENT_UNCHECKED) <= set(trusted_names((), registered=False))
    assert all(name.startswith("sklearn.") for name in names if name not in HELPER_TYPES)
    for name in (*HELPER_TYPES, *CONTENT_UNCHECKED):
        module, _, attribute = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), type), name


def test_well_formed_safetensors_headers_are_read(tmp_path: Path) -> None:
    header = {
        "b": {"dtype": "F4", "shape": [2, 3], "data_offsets": [4, 7]},
        "__metadata__": {"note": "ok"},
        "a": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]},
        "empty": {"dtype": "F64", "shape": [0, 5], "data_offsets": [7, 7]},
    }
    path = safetensors_file(tmp_path / "ok.safetensors", header, bytes(7))
    read = read_header(path, "the model")
    assert read.metadata == {"note": "ok"}
    assert read.tensors == {"a": (0, 4), "b": (4, 7), "empty": (7, 7)}
    only_metadata = safetensors_file(tmp_path / "none.safetensors", {"__metadata__": {}}, b"")
    assert read_header(only_metadata, "the model").tensors == {}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {}}', "duplicate"),
        (b'{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}', "NaN is not JSON"),
        (b'{"w": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}', "not a list"),
        (b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}', "end before"),
        (b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}', "exactly"),
        (
            b'{"w": {"dtype": "F32", "shape": [99999999999, 99999999999], "data_offsets": [0, 4]}}',
            "needs more than that",
        ),
        (b"{\xff}", "not UTF-8"),
    ],
)
def test_malformed_headers_say_what_is_wrong(raw: bytes, why: str, tmp_path: Path) -> None:
    path = safetensors_file(tmp_path / "bad.safetensors", None, bytes(4), raw=raw)
    with pytest.raises(UnsafeArtifactError, match=why):
        read_header(path, "the model")


def test_a_file_shorter_than_the_length_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x01\x00")
    with pytest.raises(UnsafeArtifactError, match="shorter than the header length"):
        check_safe_artifact(path, what="the model")
