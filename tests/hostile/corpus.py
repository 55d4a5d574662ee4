"""Hostile model files, built on demand: every one would run code, import a module, or mislead
a reader if mvctl trusted it.

Each builder writes one file into a folder and returns its path. Files whose payload can run
(a pickle, an ``eval`` a skops node would call, a pickled numpy array, a module import) make
the payload create ``canary``: a test that finds the canary missing knows nothing ran. The
skops archives are schema.json files written by hand or patched from skops' own output,
the safetensors files are header and bytes put together here.
"""

from __future__ import annotations

import functools
import io
import json
import operator
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVIL_MODULE = "evil_payload"
"""A module the projects hold whose import creates the canary (see ``write_evil_module``)."""


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[Path, Path], Path]
    """(folder, canary) -> the file."""
    refusal: str
    """A fragment of the error that refuses it."""


def write_evil_module(folder: Path, canary: Path) -> None:
    """``evil_payload.py``: importing it creates the canary."""
    (folder / f"{EVIL_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(canary)!r}).write_text('imported')\n"
        "class Model:\n    pass\n"
        "def run(*args):\n    return args\n",
        "utf-8",
    )


# -- skops ----------------------------------------------------------------------------------


def json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def tuple_node(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "__class__": "tuple",
        "__module__": "builtins",
        "__loader__": "TupleNode",
        "content": list(items),
    }


def call_node(module: str, name: str, *args: dict[str, Any]) -> dict[str, Any]:
    """A node skops builds by calling ``module.name(*args)``."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": tuple_node(*args),
    }


def skops_archive(
    path: Path, root: dict[str, Any], members: dict[str, bytes] | None = None
) -> Path:
    """A skops archive holding ``root`` inside a list, as skops writes it (protocol 2)."""
    from skops.io._protocol import PROTOCOL

    schema = {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "content": [root],
        "protocol": PROTOCOL,
        "_skops_version": "0.16.0",
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def patched_skops(path: Path, model: Any, patch: Callable[[dict[str, Any]], None]) -> Path:
    """skops' own archive of ``model``, its schema changed by ``patch`` (called on every node)."""
    from skops.io import dumps

    source = zipfile.ZipFile(io.BytesIO(dumps(model)))
    schema = json.loads(source.read("schema.json"))
    pending: list[Any] = [schema]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            if "__loader__" in value:
                patch(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    with zipfile.ZipFile(path, "w") as archive:
        for name in source.namelist():
            data = json.dumps(schema).encode() if name == "schema.json" else source.read(name)
            archive.writestr(name, data)
    return path


class _TouchCanary:
    """Unpickling this creates the canary (pickle calls open(canary, 'w'))."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.canary), "w"))


def pickle_renamed(folder: Path, canary: Path) -> Path:
    path = folder / "model.skops"
    path.write_bytes(pickle.dumps(_TouchCanary(canary), protocol=4))
    return path


def skops_eval(folder: Path, canary: Path) -> Path:
    code = f"open({str(canary)!r}, 'w').close()"
    return skops_archive(folder / "eval.skops", call_node("builtins", "eval", json_node(code)))


def skops_exec(folder: Path, canary: Path) -> Path:
    code = f"open({str(canary)!r}, 'w').close()"
    return skops_archive(folder / "exec.skops", call_node("builtins", "exec", json_node(code)))


def skops_os_system(folder: Path, canary: Path) -> Path:
    command = f"touch {canary}"
    return skops_archive(folder / "system.skops", call_node("os", "system", json_node(command)))


def skops_numpy_load(folder: Path, canary: Path) -> Path:
    """numpy.load(payload.npy, None, True): the array is a pickle that creates the canary."""
    import numpy as np

    payload = folder / "payload.npy"
    array = np.empty(1, dtype=object)
    array[0] = _TouchCanary(canary)
    np.save(payload, array, allow_pickle=True)
    node = call_node("numpy", "load", json_node(str(payload)), json_node(None), json_node(True))
    return skops_archive(folder / "numpy-load.skops", node)


def _function_transformer(func: Any) -> Any:
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(func=func)


def skops_function_node(folder: Path, canary: Path) -> Path:
    """A FunctionTransformer whose func is numpy.log1p, renamed builtins.exec."""
    import numpy as np

    def rename(node: dict[str, Any]) -> None:
        if node["__loader__"] == "FunctionNode":
            node["__module__"], node["__class__"] = "builtins", "exec"

    return patched_skops(folder / "function.skops", _function_transformer(np.log1p), rename)


def skops_method_node(folder: Path, canary: Path) -> Path:
    """A FunctionTransformer whose func is a fitted scaler's bound transform method."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit([[0.0], [1.0]])
    return patched_skops(
        folder / "method.skops", _function_transformer(scaler.transform), lambda node: None
    )


def skops_partial_node(folder: Path, canary: Path) -> Path:
    import numpy as np

    func = functools.partial(np.add, 1)
    return patched_skops(folder / "partial.skops", _function_transformer(func), lambda node: None)


def skops_operator_node(folder: Path, canary: Path) -> Path:
    func = operator.itemgetter(0)
    return patched_skops(folder / "operator.skops", _function_transformer(func), lambda node: None)


def skops_untrusted_class(folder: Path, canary: Path) -> Path:
    """An object of evil_payload.Model: building it would import the module."""
    node = {"__class__": "Model", "__module__": EVIL_MODULE, "__loader__": "ObjectNode"}
    return skops_archive(folder / "untrusted.skops", node)


def skops_forest(folder: Path, canary: Path) -> Path:
    """A real random forest: a registered file may build its Tree only when the model lists it."""
    from sklearn.ensemble import RandomForestClassifier
    from skops.io import dump

    path = folder / "forest.skops"
    dump(RandomForestClassifier(n_estimators=2, random_state=0).fit([[0], [1]], [0, 1]), path)
    return path


SKOPS_FILES = (
    Hostile("pickle renamed .skops", pickle_renamed, "is a pickle"),
    Hostile("builtins.eval", skops_eval, "builtins.eval"),
    Hostile("builtins.exec", skops_exec, "builtins.exec"),
    Hostile("os.system", skops_os_system, "os.system"),
    Hostile("numpy.load allow_pickle", skops_numpy_load, "numpy.load"),
    Hostile("function node", skops_function_node, "builtins.exec (a function)"),
    Hostile("method node", skops_method_node, "StandardScaler.transform (a bound method)"),
    Hostile("partial node", skops_partial_node, "functools.partial (a functools.partial)"),
    Hostile("operator node", skops_operator_node, "operator.itemgetter (an operator function)"),
    Hostile("untrusted class", skops_untrusted_class, f"does not trust: {EVIL_MODULE}.Model"),
    Hostile("unlisted Tree", skops_forest, "builds sklearn.tree._tree.Tree"),
)


# -- safetensors -----------------------------------------------------------------------------


def safetensors_file(
    path: Path, header: Any, data: bytes, *, length: int | None = None, raw: bytes | None = None
) -> Path:
    """An 8-byte length, the header (JSON of ``header``, or ``raw`` as given), then ``data``."""
    text = raw if raw is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def _f32(shape: list[int], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": "F32", "shape": shape, "data_offsets": [begin, end]}


def _malformed(name: str, header: Any, data: bytes, **kwargs: Any) -> Callable[[Path, Path], Path]:
    def build(folder: Path, canary: Path) -> Path:
        return safetensors_file(folder / f"{name}.safetensors", header, data, **kwargs)

    return build


def module_injection(folder: Path, canary: Path) -> Path:
    """A well-formed file whose metadata asks mvctl to import evil_payload."""
    metadata = {
        "mvctl.format": "1",
        "mvctl.module": f"{EVIL_MODULE}.Model",
        "mvctl.module_args": "{}",
        "mvctl.task": "classification",
    }
    header = {"__metadata__": metadata, "w": _f32([1], 0, 4)}
    return safetensors_file(folder / "injected.safetensors", header, bytes(4))


SAFETENSORS_FILES = (
    Hostile(
        "overlapping",
        _malformed("overlap", {"a": _f32([2], 0, 8), "b": _f32([2], 4, 12)}, bytes(12)),
        "overlaps tensor 'a'",
    ),
    Hostile("truncated", _malformed("truncated", {"w": _f32([4], 0, 16)}, bytes(8)), "truncated"),
    Hostile(
        "trailing bytes",
        _malformed("trailing", {"w": _f32([1], 0, 4)}, bytes(8)),
        "4 bytes follow the last tensor",
    ),
    Hostile(
        "gap",
        _malformed("gap", {"a": _f32([1], 0, 4), "b": _f32([1], 8, 12)}, bytes(12)),
        "gap of 4 bytes before tensor 'b'",
    ),
    Hostile(
        "bad dtype",
        _malformed(
            "dtype", {"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, bytes(16)
        ),
        "unknown dtype 'F128'",
    ),
    Hostile(
        "shape mismatch",
        _malformed("shape", {"w": _f32([3], 0, 8)}, bytes(8)),
        "needs 12 bytes",
    ),
    Hostile(
        "huge header length",
        _malformed("huge", {"w": _f32([1], 0, 4)}, bytes(4), length=2**40),
        "over the limit",
    ),
    Hostile(
        "non-JSON header",
        _malformed("nonjson", None, bytes(4), raw=b"{not json at all}"),
        "header is not JSON",
    ),
    Hostile(
        "non-object header",
        _malformed("array", None, bytes(4), raw=b"[1, 2, 3]"),
        "JSON list, not an object",
    ),
    Hostile(
        "metadata not text",
        _malformed("metadata", {"__metadata__": {"a": 1}, "w": _f32([1], 0, 4)}, bytes(4)),
        "not a map of text to text",
    ),
    Hostile("module injection", module_injection, f"names the torch module '{EVIL_MODULE}.Model'"),
)

ALL_FILES = SKOPS_FILES + SAFETENSORS_FILES
