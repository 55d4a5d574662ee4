"""Hostile configurations through the real CLI: a clear error and exit 1, never a traceback,
and the recorded state never changes.

Hypothesis writes documents of every kind — valid, almost valid (one thing broken: a key
deleted, a wrong type, an unknown key, a numeric or bad label, an alias naming itself, a
cycle in the steps, a duplicate key, a YAML 1.1 boolean key), garbage, deep nesting, bytes
that are not UTF-8 — and each is given to `mvctl validate`, `plan` and `apply` against a
project whose state holds a finished apply. The CLI runs in this process (``mvctl.cli.main``
with argv) to keep the examples fast; the 50 MB file goes through real subprocesses.
`apply` runs without `--auto-approve`, so a valid document that would change something is
refused for want of a terminal: the state must stay exactly as it was either way.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvctl.state.db import StateDB
from mvctl.state.inventory import Inventory
from tests.functional.inprocess import apply_here, run_cli
from tests.functional.projects import TINY_CONFIG, Project, make_tiny

# MVCTL_FUZZ_EXAMPLES=2000 for a long run; no example database: it would litter the repo.
EXAMPLES = int(os.environ.get("MVCTL_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
COMMANDS = (("validate",), ("plan",), ("apply",))
BIG_BYTES = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The tiny project after one apply, its state pinned by MVCTL_STATE/MVCTL_STORE so that
    a hostile `state:` or `store:` cannot point the commands elsewhere."""
    project = make_tiny(tmp_path_factory.mktemp("hostile") / "proj")
    saved = {name: os.environ.get(name) for name in ("MVCTL_STATE", "MVCTL_STORE")}
    os.environ["MVCTL_STATE"] = f"sqlite:///{project.root / '.mvctl' / 'state.db'}"
    os.environ["MVCTL_STORE"] = str(project.root / ".mvctl" / "store")
    try:
        assert apply_here(project.root).status == "succeeded"
        yield project
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fingerprint() -> Inventory:
    with StateDB.open(os.environ["MVCTL_STATE"], create=False) as db:
        found = db.inventory()
    assert found is not None and found.lock is None
    return found


def feed(project: Project, data: bytes, *, must_fail: bool) -> None:
    """Give ``data`` as the config to every command; each ends cleanly, the state unchanged."""
    path = project.root / "hostile.yaml"
    path.write_bytes(data)
    before = fingerprint()
    for command in COMMANDS:
        result = run_cli("-c", str(path), *command)
        assert "Traceback" not in result.text and "Internal error" not in result.text, result.text
        allowed = (1,) if must_fail else (0, 1) if command == ("validate",) else (0, 1, 3)
        assert result.code in allowed, (command, result.code, result.text)
        if result.code == 3:
            assert "conflict" in result.text, result.text
        if result.code == 1:
            assert result.err.startswith("Error: ") or "Conflicts" in result.out, result.text
        assert fingerprint() == before, command


# -- documents -------------------------------------------------------------------------------


def valid_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(TINY_CONFIG)
    return config


labels = st.from_regex(r"[0-9]\.[0-9]{1,2}\.[0-9]", fullmatch=True)
texts = st.text(alphabet=string.ascii_letters + " éü€-_.", max_size=20)
param_values = st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6, allow_nan=False) | texts


@st.composite
def valid_documents(draw: st.DrawFn) -> bytes:
    config = valid_config()
    model = config["models"]["churn"]
    for label in draw(st.lists(labels, max_size=3, unique=True)):
        model["versions"][label] = {
            "params": {"train": {"lr": draw(param_values)}},
            "description": draw(texts),
        }
    model["aliases"][draw(st.sampled_from(["canary", "staging"]))] = draw(
        st.sampled_from(sorted(model["versions"]))
    )
    return yaml.safe_dump(config, allow_unicode=True).encode()


MUTATIONS = [
    "delete_key",
    "wrong_type",
    "unknown_key",
    "numeric_label",
    "bad_label",
    "alias_to_itself",
    "cycle",
    "duplicate_key",
    "yaml11_boolean_key",
    "non_utf8",
]
WRONG_VALUES: list[Any] = [7, 1.5, True, None, [1, [2]], {"a": {"b": None}}, "", "x" * 300]


@st.composite
def almost_valid_documents(draw: st.DrawFn) -> bytes:
    config = valid_config()
    model = config["models"]["churn"]
    kind = draw(st.sampled_from(MUTATIONS))
    if kind == "delete_key":
        target = draw(st.sampled_from([config, model["pipeline"][0], model["pipeline"][1]]))
        if "project" in target:
            del target["project"]
        else:
            del target[draw(st.sampled_from(["name", "run"]))]
    elif kind == "wrong_type":
        field = draw(
            st.sampled_from(["project", "models", "pipeline", "versions", "aliases", "owners"])
        )
        holder = config if field in ("project", "models") else model
        holder[field] = draw(st.sampled_from(WRONG_VALUES))
    elif kind == "unknown_key":
        holder = draw(st.sampled_from([config, model, model["pipeline"][0]]))
        holder[draw(st.sampled_from(["modles", "pipline", "rnu", "x-extra", "Models"]))] = 1
    elif kind == "numeric_label":
        label = draw(st.sampled_from(["1.10:", "2:", "1.5:", "0x1F:"]))
        text = yaml.safe_dump(config).replace("\n      1.1.0:", "\n      " + label)
        assert label in text
        return text.encode()
    elif kind == "bad_label":
        model["versions"][draw(st.sampled_from(["", " ", "-x", "a/b", "é", "x" * 200]))] = {}
    elif kind == "alias_to_itself":
        model["aliases"]["production"] = "production"
    elif kind == "cycle":
        model["pipeline"][0]["deps"] = ["train"]
    elif kind == "duplicate_key":
        text = yaml.safe_dump(config)
        return (text + draw(st.sampled_from(["project: again\n", "models: {}\n"]))).encode()
    elif kind == "yaml11_boolean_key":
        model["pipeline"][0]["params"] = {}
        text = yaml.safe_dump(config).replace("params: {}", "params: {on: 1, yes: 2}")
        return text.encode()
    else:
        data = bytearray(yaml.safe_dump(config).encode())
        data.insert(
            draw(st.integers(0, len(data))), draw(st.sampled_from([0xFF, 0xC3, 0x80, 0xFE]))
        )
        return bytes(data)
    return yaml.safe_dump(config, allow_unicode=True).encode()


@st.composite
def nested_documents(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(50, 20_000))
    shape = draw(st.sampled_from(["flow_list", "flow_map", "block_map", "anchors"]))
    if shape == "flow_list":
        return b"project: p\nmodels: " + b"[" * depth + b"]" * depth
    if shape == "flow_map":
        return b"project: p\nmodels: " + b"{a: " * depth + b"1" + b"}" * depth
    if shape == "block_map":
        depth = min(depth, 400)
        return b"project: p\nmodels:\n" + b"".join(b"  " * (i + 1) + b"k:\n" for i in range(depth))
    # "Billion laughs": each anchor doubles the one before.
    lines = [b"a0: &a0 [x, x]"] + [
        b"a%d: &a%d [*a%d, *a%d]" % (i, i, i - 1, i - 1) for i in range(1, 60)
    ]
    return b"\n".join(lines) + b"\n"


# -- the tests -------------------------------------------------------------------------------


@FUZZ
@given(valid_documents())
def test_valid_documents_change_nothing_without_approval(project: Project, data: bytes) -> None:
    feed(project, data, must_fail=False)


@FUZZ
@given(almost_valid_documents())
def test_almost_valid_documents_are_clear_errors(project: Project, data: bytes) -> None:
    feed(project, data, must_fail=True)


@FUZZ
@given(
    st.binary(max_size=2000)
    | st.text(alphabet=string.printable + "[]{}:&*!|>'\"%@`", max_size=400).map(str.encode)
)
def test_garbage_is_a_clear_error(project: Project, data: bytes) -> None:
    feed(project, data, must_fail=False)  # a few random texts do make a (tiny) valid config


@settings(FUZZ, max_examples=max(5, EXAMPLES // 4))
@given(nested_documents())
def test_deep_nesting_is_a_clear_error(project: Project, data: bytes) -> None:
    feed(project, data, must_fail=True)


def test_huge_config_of_many_models(project: Project) -> None:
    """Two thousand models with broken deps: every error found, fast, nothing changed."""
    config = valid_config()
    template = config["models"]["churn"]
    config["models"] = {f"m{n:04d}": {**template, "owners": [f"o{n}"]} for n in range(2000)}
    config["models"]["m0007"]["pipeline"] = [{"name": "x", "run": "y", "deps": ["nope.csv"]}]
    feed(project, yaml.safe_dump(config).encode(), must_fail=True)


def test_fifty_megabyte_files(project: Project) -> None:
    """A 50 MB scalar through real processes; 50 MB of random bytes in this one."""
    scalar = project.root / "big-scalar.yaml"
    scalar.write_bytes(b"project: " + b"a" * BIG_BYTES + b"\n")
    noise = project.root / "big-noise.yaml"
    noise.write_bytes(random.Random(7).randbytes(BIG_BYTES))
    before = fingerprint()
    env = {"MVCTL_STATE": os.environ["MVCTL_STATE"], "MVCTL_STORE": os.environ["MVCTL_STORE"]}
    for command in COMMANDS:
        result = project.mvctl("-c", str(scalar), *command, extra_env=env)
        assert result.code == 1 and "longer than 128 characters" in result.err, result.text
        assert "Traceback" not in result.text
        in_process = run_cli("-c", str(noise), *command)
        assert in_process.code == 1 and "not UTF-8" in in_process.err, in_process.text
    assert fingerprint() == before
