"""The standing hostile suite: generated configs, command lines and file contents, each run
through the real CLI against a fresh copy of a trained project, every command checked for the
invariants of ``tests.hostile.standing`` (a documented exit code, no traceback, nothing written
outside the project, the state untouched on error, no secret anywhere).

Most cases run in this process (``mvctl.cli.main``); a few go through real processes, which
can also be handed arguments that are not UTF-8. The normal suite runs a modest number of
examples under one fixed profile (``STANDING``: derandomized, no deadline, no example
database), so that CI sees the same cases each time; ``MVCTL_HOSTILE_EXAMPLES=N`` runs N
examples of every test (thousands, locally) and ``MVCTL_HOSTILE_SEED=S`` draws them from
seed S instead of the fixed one. The number of cases each test ran, and their commands by exit
code, are printed at the end of the session.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.functional.projects import Result
from tests.hostile.hostile_files import (
    csv_files,
    npz_files,
    parquet_files,
    plan_files,
    safetensors_files,
    skops_files,
)
from tests.hostile.hostile_values import (
    command_lines,
    config_texts,
    dump,
    hostile_configs,
    paths,
    template,
    texts,
)
from tests.hostile.standing import Template, new_case, state_view, store_view
from tests.hostile.tally import counting

EXAMPLES = int(os.environ.get("MVCTL_HOSTILE_EXAMPLES", "0"))
SEED = os.environ.get("MVCTL_HOSTILE_SEED")
T = TypeVar("T", bound=Callable[..., Any])


STANDING = settings(
    derandomize=SEED is None,
    deadline=None,
    database=None,
    # The health checks time generation, so they could pass on one machine and fail on a
    # slower one: a fixed set of cases must not depend on the machine.
    suppress_health_check=list(HealthCheck),
)
"""The suite's one profile: the same cases on every run, however long a command takes."""


def standing(normal: int) -> Callable[[T], T]:
    """Run ``normal`` examples (MVCTL_HOSTILE_EXAMPLES overrides) under ``STANDING``, counting
    each one and its commands."""

    def decorate(test: T) -> T:
        inner = test.hypothesis.inner_test

        @functools.wraps(inner)
        def counted(*args: Any, **kwargs: Any) -> None:
            with counting(test.__name__):
                inner(*args, **kwargs)

        test.hypothesis.inner_test = counted
        configured: T = settings(STANDING, max_examples=EXAMPLES or normal)(test)
        return configured if SEED is None else seed(int(SEED))(configured)

    return decorate


# -- config fields ---------------------------------------------------------------------------


@standing(normal=40)
@given(document=hostile_configs(), applying=st.integers(0, 3))
def test_hostile_config_fields(
    trained: Template, cases: Path, document: tuple[dict[str, Any], list[str]], applying: int
) -> None:
    """Hostile values in every field: validate, plan in each format, and (one in four) apply."""
    config, _places = document
    with new_case(trained, cases, pinned=True) as case:
        case.write("mvctl.yaml", dump(config))
        case.run("validate", "--json")
        case.run("plan", "--detailed-exitcode")
        case.run("plan", "--json", "--out", "saved.json")
        case.run("plan", "--markdown", "--target", "tiny")
        if applying == 0:
            case.run("apply", "--auto-approve")
            case.run("status")
            case.run("history", "--limit", "1")


@standing(normal=40)
@given(document=config_texts(), included=st.booleans())
def test_hostile_config_text(
    trained: Template, cases: Path, document: bytes, included: bool
) -> None:
    """The config's text with raw traps spliced in, or replaced by garbage; or the same as a
    file the config includes."""
    with new_case(trained, cases, pinned=True) as case:
        if included:
            case.write("mvctl.yaml", "project: hostile\ninclude: [more/*.yaml]\n")
            case.write("more/models.yaml", document)
        else:
            case.write("mvctl.yaml", document)
        case.run("validate")
        case.run("plan", "--json")
        case.run("status")


ENVIRONMENT = {
    "MVCTL_ACTOR": texts,
    "MVCTL_STATE": st.sampled_from(["sqlite:///state.db", "sqlite://", "", "postgresql://"])
    | texts,
    "MVCTL_STORE": st.sampled_from(["store", "", "s3://", "/dev/null"]) | texts,
    "MVCTL_PLAN_KEY": texts,
    "MVCTL_LOCK_LEASE": texts,
    "NO_COLOR": texts,
    "FORCE_COLOR": texts,
    "MVCTL_CONFIG": st.sampled_from(
        ["mvctl.yaml", "", "data", "/dev/zero", "../outside/passwd", "linked/holdout.csv"]
    )
    | texts,
}
"""The variables mvctl reads, each given hostile text (an environment cannot hold NUL)."""


@standing(normal=15)
@given(
    env=st.fixed_dictionaries(
        {},
        optional={
            name: values.map(lambda text: text.replace("\x00", ""))
            for name, values in ENVIRONMENT.items()
        },
    )
)
def test_hostile_environment(trained: Template, cases: Path, env: dict[str, str]) -> None:
    """mvctl's environment variables holding hostile text."""
    with new_case(trained, cases) as case:
        case.env.update(env)
        case.run("validate")
        case.run("plan", "--out", "saved.json")
        case.run("status")
        case.run("apply", "saved.json", "--auto-approve")
        case.run("revert", "--auto-approve")


STATE_URLS = [
    "sqlite:///../outside/state.db",
    "sqlite:////dev/full",
    "sqlite:////dev/null",
    "sqlite:///:memory:",
    "sqlite://",
    "sqlite:///.mvctl",
    "sqlite:///mvctl.yaml",
    "sqlite:///data/holdout.csv",
    "sqlite:///nosuch/dir/state.db",
    "postgresql+psycopg://nobody@127.0.0.1:1/x",
    "postgresql://",
    "mysql://x/y",
    "file:///etc/passwd",
    "s3://",
    "",
]
STORE_URLS = ["../outside/store", "/dev/null", "mvctl.yaml", "s3://", "s3:///x", "http://x", ""]


@standing(normal=15)
@given(
    state=st.sampled_from(STATE_URLS) | texts,
    store=st.sampled_from(STORE_URLS) | paths,
    which=st.sampled_from(["state", "store", "both"]),
)
def test_hostile_state_and_store_locations(
    trained: Template, cases: Path, state: str, store: str, which: str
) -> None:
    """`state:` and `store:` pointing anywhere: the read-only commands end cleanly, and write
    nowhere (not even where the config points)."""
    config = template()
    if which in ("state", "both"):
        config["state"] = state
    if which in ("store", "both"):
        config["store"] = store
    with new_case(trained, cases) as case:
        case.write("mvctl.yaml", dump(config))
        for argv in (("validate",), ("plan",), ("status",), ("history",), ("show", "tiny@1.0.0")):
            case.run(*argv)


# -- command lines ---------------------------------------------------------------------------


def names_outside(argv: list[str]) -> bool:
    return any("outside" in word or "linked" in word or word.startswith("/") for word in argv)


@standing(normal=80)
@given(line=command_lines())
def test_hostile_command_lines(
    trained: Template, cases: Path, line: tuple[list[str], list[str]]
) -> None:
    """Every command and option with hostile values, in this process."""
    argv, outputs = line
    with new_case(trained, cases) as case:
        case.run(*argv, outputs=outputs, quotes_outside=names_outside(argv))


NOT_UTF8 = st.binary(min_size=1, max_size=12).filter(
    lambda data: b"\x00" not in data and not _is_utf8(data)
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@standing(normal=4)
@given(line=command_lines(), raw=NOT_UTF8, where=st.integers(0, 20))
def test_hostile_command_lines_in_real_processes(
    trained: Template, cases: Path, line: tuple[list[str], list[str]], raw: bytes, where: int
) -> None:
    """A generated command line through a real process, then the same with one argument
    replaced by bytes that are not UTF-8 (argv holds bytes on POSIX)."""
    argv, outputs = line
    argv = [word.replace("\x00", "") for word in argv]  # a real argv cannot hold NUL
    with new_case(trained, cases) as case:
        case.run(*argv, outputs=outputs, in_process=False, quotes_outside=names_outside(argv))
    encoded = [os.fsencode(word) for word in argv]
    if encoded:
        encoded[where % len(encoded)] = raw
    with new_case(trained, cases) as case:
        written = [*outputs, os.fsdecode(raw)]
        case.run_bytes(*encoded, outputs=written)


# -- model files -----------------------------------------------------------------------------


def model_file(kind: str, trained: Template) -> st.SearchStrategy[bytes]:
    return (
        skops_files(trained.skops_model)
        if kind == "skops"
        else safetensors_files(trained.safetensors_model)
    )


@standing(normal=24)
@given(data=st.data(), kind=st.sampled_from(["skops", "safetensors"]), promote=st.booleans())
def test_hostile_registered_model_files(
    trained: Template, cases: Path, data: st.DataObject, kind: str, promote: bool
) -> None:
    """A model file mutated from a real one, registered as a version's `artifact:` (and moved
    to `staging`): refused, or registered, scored, promoted and reverted without harm."""
    content = data.draw(model_file(kind, trained), label="content")
    suffix = data.draw(st.sampled_from([kind, kind, "pkl", "bin", "joblib", "npz"]), label="suffix")
    trusted = data.draw(st.sampled_from([[], ["sklearn.tree._tree.Tree"]]), label="trusted")
    model = "churn" if kind == "skops" else "tiny"
    config = template()
    config["models"][model]["versions"]["9.0.0"] = {"artifact": f"models/hostile.{suffix}"}
    config["models"][model]["trusted_types"] = trusted
    if promote:
        config["models"][model]["aliases"]["staging"] = "9.0.0"
    with new_case(trained, cases, importable=True) as case:
        case.write(f"models/hostile.{suffix}", content)
        case.write("mvctl.yaml", dump(config))
        case.run("validate")
        case.run("plan")
        if case.run("apply", "--auto-approve").code == 0:
            case.run("show", f"{model}@9.0.0")
            case.run("compare", f"{model}@1.0.0", f"{model}@9.0.0")
            case.run("revert", "--auto-approve")


@standing(normal=6)
@given(data=st.data())
def test_hostile_model_files_from_steps(
    trained: Template, cases: Path, data: st.DataObject
) -> None:
    """A training step that writes a mutated safetensors file as the model: the version fails
    or trains; either way nothing else is harmed."""
    content = data.draw(safetensors_files(trained.safetensors_model), label="content")
    config = template()
    config["models"]["tiny"]["versions"]["9.0.0"] = {
        "params": {"train": {"payload": "payloads/model.bin"}}
    }
    config["models"]["tiny"]["aliases"]["staging"] = "9.0.0"
    with new_case(trained, cases, importable=True) as case:
        case.write("payloads/model.bin", content)
        case.write("mvctl.yaml", dump(config))
        case.run("apply", "--auto-approve")
        case.run("show", "tiny@9.0.0")
        case.run("logs", "tiny@9.0.0")
        case.run("revert", "--auto-approve")


@standing(normal=2)
@given(content=npz_files())
def test_hostile_training_data_from_steps(trained: Template, cases: Path, content: bytes) -> None:
    """A prepare step that writes a hostile NPZ: the trainer and the evaluation of the data
    split read it (the trainer in its own process, the evaluation in apply's)."""
    config = template()
    config["models"]["churn"]["versions"]["9.0.0"] = {
        "params": {"prepare": {"payload": "payloads/train.npz"}}
    }
    with new_case(trained, cases) as case:
        case.write("payloads/train.npz", content)
        case.write("mvctl.yaml", dump(config))
        case.run("apply", "--auto-approve")
        case.run("compare", "churn@1.0.0", "churn@9.0.0")


# -- data files ------------------------------------------------------------------------------


@st.composite
def data_files(draw: st.DrawFn, holdout: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["csv", "csv", "parquet", "npz"]))
    if kind == "csv":
        return "csv", draw(csv_files(holdout))
    return kind, draw(parquet_files() if kind == "parquet" else npz_files())


@standing(normal=24)
@given(data=st.data(), label=st.sampled_from(["churned", "y_test", ""]) | texts)
def test_hostile_dataset_files(
    trained: Template, cases: Path, data: st.DataObject, label: str
) -> None:
    """The evaluation's data file replaced by hostile content (CSV, Parquet or NPZ): plan,
    apply (which scores both versions on it again) and `compare --data` on the same bytes."""
    holdout = (trained.folder / "proj" / "data" / "holdout.csv").read_text("utf-8")
    kind, content = data.draw(data_files(holdout), label="file")
    config = template()
    config["models"]["churn"]["evaluation"]["datasets"][0] = {
        "path": f"data/hostile.{kind}",
        **({"label": "churned"} if kind != "npz" else {"x_array": "X_test", "y_array": "y_test"}),
    }
    with new_case(trained, cases) as case:
        case.write(f"data/hostile.{kind}", content)
        case.write("mvctl.yaml", dump(config))
        case.run("plan")
        case.run("apply", "--auto-approve")
        case.run(
            "compare",
            "churn@1.0.0",
            "churn@1.1.0",
            "--data",
            f"data/hostile.{kind}",
            "--label",
            label,
        )


# -- saved plans -----------------------------------------------------------------------------


@standing(normal=30)
@given(data=st.data())
def test_hostile_saved_plans(trained: Template, cases: Path, data: st.DataObject) -> None:
    """A saved plan with one change (its hash recomputed or not), or broken text: apply runs
    it only when it still equals the plan computed now, and then does what that plan says."""
    with new_case(trained, cases) as case:
        case.write("mvctl.yaml", trained.plan_config)
        case.run("plan", "--out", "saved.json")
        original = (case.root / "saved.json").read_text("utf-8")
        content, unchanged = data.draw(plan_files(original), label="plan file")
        case.write("saved.json", content)
        applied = case.run("apply", "saved.json", "--auto-approve")
        if not unchanged:
            assert applied.code != 0, applied.text


@standing(normal=3)
@given(document=hostile_configs())
def test_hostile_config_fields_in_real_processes(
    trained: Template, cases: Path, document: tuple[dict[str, Any], list[str]]
) -> None:
    """Hostile fields through real processes: validate, plan and apply."""
    config, _places = document
    with new_case(trained, cases, pinned=True) as case:
        case.write("mvctl.yaml", dump(config))
        for argv in (("validate",), ("plan", "--json"), ("apply", "--auto-approve")):
            case.run(*argv, in_process=False)


# -- the checks themselves -------------------------------------------------------------------


def step_model(command: str) -> dict[str, Any]:
    """A one-step model whose step runs ``command`` (a test's own, trusted)."""
    return {
        "pipeline": [{"name": "only", "run": command, "outputs": ["out.txt"]}],
        "versions": {"1.0.0": {}},
    }


@pytest.mark.parametrize(
    ("command", "caught"),
    [
        ("python -c \"open('../outside/written', 'w').write('x')\"", "written outside the project"),
        (
            "python -c \"import os; print(os.environ['HOSTILE_TOKEN'])\"",
            "a secret is in",
        ),
        ("python -c \"open('../home/.profile', 'a').write('x')\"", "written outside the project"),
    ],
    ids=["write outside", "secret in a log", "write to home"],
)
def test_the_checks_catch_a_harmful_step(
    trained: Template, cases: Path, command: str, caught: str
) -> None:
    """A step (trusted code, here made harmful on purpose) that writes beside the project or
    prints the secret into its log is caught by the checks every generated case runs."""
    config = template()
    config["models"]["harm"] = step_model(command)
    with new_case(trained, cases) as case:
        case.write("mvctl.yaml", dump(config))
        with pytest.raises(AssertionError, match=caught):
            case.run("apply", "--auto-approve", "--target", "harm")


def test_the_checks_catch_a_state_change_on_error(trained: Template, cases: Path) -> None:
    """A command that fails after the state changed under it is caught, as is a read-only
    command that changed the store."""
    import sqlite3
    from contextlib import closing

    with new_case(trained, cases) as case:
        before = state_view(case.database)
        with closing(sqlite3.connect(case.database)) as db, db:
            db.execute("UPDATE meta SET value = '999' WHERE key = 'serial'")
        failed = Result(1, "", "Error: something")
        with pytest.raises(AssertionError, match="the state changed"):
            case._check_state(("plan",), failed, before, store_view(case.store), "shown")
        before_store = store_view(case.store)
        (case.store / "objects" / "stray").write_bytes(b"x")
        after = state_view(case.database)
        with pytest.raises(AssertionError, match="the store changed"):
            case._check_state(("status",), Result(0, "", ""), after, before_store, "shown")
