"""Whatever bytes a configuration holds, loading it ends in a Config or in SpecErrors.

Never a traceback: ``mvctl validate`` prints SpecErrors as messages, and anything else is
reported as an internal error. Every error must also carry a place to jump to.
"""

from __future__ import annotations

import os
import string
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvctl.errors import SpecErrors
from tests.spec.support import load_bytes_anywhere

# MVCTL_FUZZ_EXAMPLES=5000 for a long run. No example database: it would litter the repo.
EXAMPLES = int(os.environ.get("MVCTL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FIELDS = [
    "project",
    "state",
    "store",
    "include",
    "models",
    "notifications",
    "policy",
    "owners",
    "task",
    "pipeline",
    "evaluation",
    "versions",
    "aliases",
    "triggers",
    "name",
    "run",
    "uses",
    "with",
    "params",
    "deps",
    "outputs",
    "env",
    "schedule",
    "when",
    "retrain",
    "from",
    "promote",
    "artifact",
    "on",
    "yes",
    "n",
    "<<",
    "1.10",
    "2",
]


def check(data: bytes) -> None:
    try:
        load_bytes_anywhere(data)
    except SpecErrors as errors:
        assert errors.errors
        for error in errors.errors:
            assert error.place is not None and error.place.file, error.message
            assert error.message


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(
    st.text(alphabet=string.printable + "[]{}:-&*!|>'\"%@`#,?\t\u00e9\u2028\ufeff", max_size=500)
)
def test_random_yaml_like_text(text: str) -> None:
    check(text.encode("utf-8"))


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(FIELDS)
)
keys = st.sampled_from(FIELDS) | st.text(max_size=8) | st.integers() | st.booleans() | st.none()
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=40,
)


@FUZZ
@given(structures)
def test_random_structures_dumped_to_yaml(value: Any) -> None:
    check(yaml.safe_dump(value, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), structures, max_size=6))
def test_random_structures_under_known_keys(value: Any) -> None:
    check(yaml.safe_dump({"project": "p", **value}).encode("utf-8"))


steps = st.sampled_from(["a", "b", "c", "d/e.csv"])
labels = st.sampled_from(["1.0.0", "1.1.0", "2", "1.10", "production"])


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-formed models, so the meaning checks (cycles, overrides, aliases) run."""
    pipeline = [
        {
            "name": name,
            draw(st.sampled_from(["run", "uses"])): draw(st.sampled_from(["x", "sklearn"])),
            "deps": draw(st.lists(steps, max_size=3)),
            "outputs": draw(st.lists(st.sampled_from(["m.bin", "d.npz"]), max_size=2)),
            "params": draw(st.dictionaries(st.sampled_from(["lr", "n"]), scalars, max_size=2)),
            **draw(
                st.sampled_from([{}, {"with": {"estimator": "a.B"}}, {"with": {"estimator": 3}}])
            ),
        }
        for name in draw(st.lists(steps, max_size=4))
    ]
    versions = {
        label: draw(
            st.sampled_from(
                [
                    {},
                    {"params": {"a": {"lr": 1}}},
                    {"params": {"z": {}}},
                    {"artifact": "m.skops"},
                ]
            )
        )
        for label in draw(st.lists(labels, max_size=3))
    }
    model = {
        "pipeline": pipeline,
        "versions": versions,
        "aliases": draw(
            st.dictionaries(st.sampled_from(["production", "staging"]), labels, max_size=2)
        ),
    }
    return {"project": "p", "models": {"churn": model}}


@settings(FUZZ, max_examples=2 * EXAMPLES)
@given(configs())
def test_config_shaped_input(value: dict[str, Any]) -> None:
    check(yaml.safe_dump(value).encode("utf-8"))


def test_ten_thousand_open_brackets() -> None:
    for text in ("[" * 10_000, "[" * 10_000 + "]" * 10_000, "{a: " * 10_000, "- " * 10_000):
        check(text.encode())
