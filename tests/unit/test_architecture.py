"""The shape of the package, enforced: a pure middle, a handler per action, a light CLI.

The layers, from the middle out: ``spec`` (the config language) and ``core`` (the pure
planner) that reads it; ``results`` (the values commands end with); the I/O edges ``state``,
``store`` and ``apply``; ``ops`` (one module per verb); ``render`` (pure formatting of
results); ``cli`` (the rim). Imports inside functions count: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvctl.apply.applier import HANDLERS
from mvctl.core.plan import ACTION_TYPES
from mvctl.core.recorded import Change, Target
from mvctl.core.records import (
    RECORD_TYPES,
    TARGET_KINDS,
    AliasRecord,
    ModelRecord,
    TargetKind,
)
from mvctl.state import StateReader, StateWriter
from mvctl.state.db import StateDB
from mvctl.state.reading import ReadOnlyStateDB
from mvctl.state.writer import ROW_WRITERS

PACKAGE = Path(__file__).resolve().parents[2] / "mvctl"
IO_MODULES = {
    "sqlmodel",
    "sqlalchemy",
    "alembic",
    "subprocess",
    "boto3",
    "click",
    "rich",
    "requests",
    "httpx",
    "urllib",
    "socket",
    "shutil",
    "tempfile",
    "os",
    "pathlib",
    "time",
    "datetime",
    "random",
}
OUTER_LAYERS = (
    "mvctl.state",
    "mvctl.store",
    "mvctl.apply",
    "mvctl.cli",
    "mvctl.render",
    "mvctl.ops",
    "mvctl.workspace",
    "mvctl.results",
)

LAZY_IMPORTS = {
    ("state/db.py", "mvctl.state.migrating"): "SQLAlchemy and alembic, loaded only to migrate",
    ("ops/apply.py", "mvctl.ops.apply_run"): "the applier and step machinery, which a no-op "
    "apply never runs",
    ("spec/__init__.py", "mvctl.spec"): "the YAML reader, which the core's `spec.models` skips",
    ("workspace.py", "mvctl.apply.registration"): "the model-file checks, which only validate, "
    "plan and apply run",
    ("workspace.py", "mvctl.bundles.declared"): "the bundle checks, which only validate, plan "
    "and apply run",
    ("project.py", "mvctl.spec.loader"): "the schema, loaded only to report a config that "
    "holds something unexpected",
    ("project.py", "mvctl.state.db"): "the state's modules, which `validate` never opens",
    ("project.py", "mvctl.state.reading"): "the state's modules, which `validate` never opens",
    ("project.py", "mvctl.store.s3"): "boto3's wrapper, for an s3:// store only",
    ("ops/revert_settings.py", "mvctl.workspace"): "the schema, loaded only for a config whose "
    "notifications, torch steps or anything unexpected revert cannot read plainly",
    ("ops/revert_settings.py", "mvctl.core.resolve"): "the models' resolution, which finds a "
    "torch model's module for the full load only",
    ("apply/ray_remote.py", "mvctl.apply.ray_remote"): "mvctl on a Ray worker, which may lack "
    "it: the task, shipped by value, reports that instead of failing to unpickle",
}
"""The function-level imports of mvctl modules allowed outside the CLI, each keeping a heavy
library out of start-up (or, on a Ray worker, mvctl itself). Anything else imports at the top
of its module."""
LAZY_IMPORT_FOLDERS = {
    "cli/": "a command imports its ops and render modules when it runs, so `mvctl --help` and "
    "every other command start without them",
}

NOT_IMPORTABLE = {"mvctl.__main__": "runs the command line when imported"}

READ_ONLY_OPS = (
    "plan",
    "status",
    "show",
    "history",
    "report",
    "compare",
    "logs",
    "check",
    "freeze",
    "reproduce",
)
"""The ops that only read the state: they open it with create=False and take a StateReader."""
STATE_TYPES = {"StateReader", "StateWriter", "StateDB", "LockingStateDB", "ReadOnlyStateDB"}

CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today")} | {
    ("time", name) for name in ("time", "gmtime", "localtime", "strftime", "ctime")
}
"""Calls that read the wall clock; durations (``time.monotonic``) are not the clock."""

INTERNAL_SIGNALS = {
    "StepsStopped": "tells a step's thread its apply is stopping; the apply is interrupted",
    "_Retry": "a delivery to try again, caught in the notifier",
    "_GiveUp": "a delivery not to try again, caught and logged in the notifier",
}
"""Exception classes of ``mvctl/apply`` outside the error tree: signals caught inside it."""


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from mvctl.render import markdown` imports the module mvctl.render.markdown.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files() -> list[tuple[str, Path]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if not {"migrations", "init_template"} & set(path.relative_to(PACKAGE).parts)
    ]


def module_name(relative: str) -> str:
    parts = ["mvctl", *relative.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def dotted_module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each mvctl module -> the mvctl modules it imports (anywhere in it)."""
    paths = {dotted_module(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in paths}
        for name, path in paths.items()
    }


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` may import, directly or not."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imported in graph[todo.pop()]:
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def modules_of(graph: dict[str, set[str]], layer: str) -> Iterator[str]:
    prefix = f"mvctl.{layer}"
    return (name for name in sorted(graph) if name == prefix or name.startswith(prefix + "."))


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def reaches_into(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    """'module -> forbidden module' for each module of ``layer`` that imports, directly or
    through any chain of imports, a module of a ``forbidden`` layer."""
    graph = import_graph()
    return [
        f"{name} -> {found}"
        for name in modules_of(graph, layer)
        for found in sorted(reachable(graph, name))
        if layer_of(found) in forbidden
    ]


def test_core_imports_no_io_and_no_outer_layer() -> None:
    offenders = []
    for path in sorted((PACKAGE / "core").glob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in IO_MODULES or name.startswith(OUTER_LAYERS):
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_every_action_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(ACTION_TYPES)


def test_every_target_kind_has_a_record_type_and_a_row_writer() -> None:
    kinds = set(typing.get_args(TargetKind))
    assert set(TARGET_KINDS) == kinds
    assert set(RECORD_TYPES) == kinds
    assert set(ROW_WRITERS) == kinds


def test_a_change_takes_only_the_value_type_of_its_kind() -> None:
    created = ModelRecord(archived=False, created_at="2026-11-29T08:30:00Z")
    assert Change(Target("model", "churn"), None, created).after == created
    with pytest.raises(TypeError, match="takes AliasRecord values, not ModelRecord"):
        Change(Target("alias", "churn", "production"), None, created)
    with pytest.raises(TypeError, match="takes ModelRecord values, not dict"):
        Change(Target("model", "churn"), None, {"archived": False})  # type: ignore[arg-type]
    assert Change(Target("alias", "churn", "a"), AliasRecord("1"), None).before == AliasRecord("1")


def test_only_apply_runs_subprocesses_and_only_cli_uses_click() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        names = {name.split(".")[0] for name in imported_modules(path)}
        if "subprocess" in names and not relative.startswith("apply/"):
            offenders.append(f"{relative}: subprocess")
        if "click" in names and not relative.startswith("cli/"):
            offenders.append(f"{relative}: click")
        if names & {"sqlmodel", "sqlalchemy", "alembic"} and not relative.startswith("state/"):
            offenders.append(f"{relative}: database")
    assert offenders == []


def test_mvctl_modules_are_imported_at_the_top_unless_a_heavy_library_waits() -> None:
    """An import inside a function hides a cycle; the shared types move instead. Only the
    imports that keep a heavy library out of start-up wait, each listed with its reason."""
    found = set()
    for relative, path in python_files():
        if any(relative.startswith(folder) for folder in LAZY_IMPORT_FOLDERS):
            continue
        for function in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mvctl"):
                    found.add((relative, node.module or ""))
                elif isinstance(node, ast.Import):
                    found |= {(relative, a.name) for a in node.names if a.name.startswith("mvctl")}
    assert found == set(LAZY_IMPORTS)


IMPORT_EACH_FIRST = textwrap.dedent(
    """
    import importlib, os, sys
    # Third-party modules mvctl needs at import are loaded once, before any mvctl module; each
    # mvctl module is then imported first in a fork of this clean interpreter.
    for name in sys.argv[2].split(","):
        importlib.import_module(name)
    assert not any(m == "mvctl" or m.startswith("mvctl.") for m in sys.modules)
    for module in sys.argv[1].split(","):
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(module)
            except BaseException as error:
                print(f"{module}: {type(error).__name__}: {error}")
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status == 0:
            print(f"{module}: ok")
    """
)


def third_party_imported_at_top() -> set[str]:
    """The libraries mvctl modules import at their top (not inside a function)."""
    found = set()
    for _, path in python_files():
        for node in ast.parse(path.read_text("utf-8")).body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found |= {name for name in names if name.split(".")[0] != "mvctl"}
    return {name for name in found if name != "__future__"}


def test_every_mvctl_module_can_be_imported_first_in_a_fresh_interpreter() -> None:
    """Imported first, in any order, no module meets a half-initialised other one: there is no
    import cycle for a function-level import to dodge."""
    modules = sorted(
        name
        for name in map(module_name, (r for r, _ in python_files()))
        if name not in NOT_IMPORTABLE
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORT_EACH_FIRST,
            ",".join(modules),
            ",".join(sorted(third_party_imported_at_top())),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    failed = {module: why for module, why in results.items() if why != "ok"}
    assert set(results) == set(modules)
    assert failed == {}


def test_the_read_only_ops_open_and_take_the_state_reader() -> None:
    offenders = []
    for name in READ_ONLY_OPS:
        relative = f"ops/{name}.py"
        tree = ast.parse((PACKAGE / relative).read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "open_state":
                create = [k.value for k in node.keywords if k.arg == "create"]
                if not (
                    len(create) == 1
                    and isinstance(create[0], ast.Constant)
                    and create[0].value is False
                ):
                    offenders.append(f"{relative}:{node.lineno}: open_state without create=False")
            elif isinstance(node, ast.Name) and node.id in STATE_TYPES - {"StateReader"}:
                offenders.append(f"{relative}:{node.lineno}: {node.id}")
            elif isinstance(node, ast.alias) and node.name in STATE_TYPES - {"StateReader"}:
                offenders.append(f"{relative}: imports {node.name}")
            elif isinstance(node, ast.arg) and node.arg == "state":
                annotation = ast.unparse(node.annotation) if node.annotation else None
                if annotation != "StateReader":
                    offenders.append(f"{relative}:{node.lineno}: state: {annotation}")
    assert offenders == []


def test_the_state_opened_to_read_has_no_write_and_no_lock() -> None:
    writes = {
        name
        for name, value in vars(StateWriter).items()
        if callable(value) and not name.startswith("_")
    } - set(vars(StateReader))
    assert writes >= {"record", "begin_apply", "acquire_lock", "migrate"}
    assert {name for name in writes if hasattr(ReadOnlyStateDB, name)} == set()
    assert all(callable(getattr(StateDB, name)) for name in writes)


def test_only_the_clock_module_reads_the_clock() -> None:
    offenders = []
    for relative, path in python_files():
        if relative == "clock.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in CLOCK_READS
            ):
                offenders.append(f"{relative}:{node.lineno}: {ast.unparse(node.func)}")
    assert offenders == []


def test_apply_raises_only_errors_of_the_tree_but_its_internal_signals() -> None:
    found = {}
    for path in sorted((PACKAGE / "apply").glob("*.py")):
        for node in ast.parse(path.read_text("utf-8")).body:
            bases = {ast.unparse(base) for base in getattr(node, "bases", [])}
            if isinstance(node, ast.ClassDef) and bases & {"Exception", "BaseException"}:
                found[node.name] = path.name
    assert set(found) == set(INTERNAL_SIGNALS)


def test_render_formats_values_and_reaches_no_edge_or_verb() -> None:
    """Render gets results: nothing it imports, however indirectly, opens a database, a store
    or a process, runs a verb or parses a command line."""
    assert reaches_into("render", ("ops", "apply", "state", "store", "cli", "workspace")) == []


def test_results_are_values_that_reach_no_edge() -> None:
    assert (
        reaches_into("results", ("ops", "apply", "state", "store", "cli", "render", "workspace"))
        == []
    )


def test_spec_stands_alone_and_core_reads_it() -> None:
    """The config language (models, metric names, gate grammar) imports nothing of mvctl but
    the errors and the collector's setting, which import nothing of mvctl, so spec and core
    cannot import each other in a circle."""
    graph = import_graph()
    outside = [
        f"{name} -> {found}"
        for name in modules_of(graph, "spec")
        for found in sorted(reachable(graph, name))
        if layer_of(found) not in ("spec", "errors", "collector")
    ]
    assert outside == []
    assert reachable(graph, "mvctl.errors") == reachable(graph, "mvctl.collector") == set()


def test_the_layers_form_no_cycle() -> None:
    """Between layers, imports go one way: no two layers import each other, even through a
    third (inside a layer, modules may import each other)."""
    graph = import_graph()
    layers: dict[str, set[str]] = {}
    for name, imported in graph.items():
        layers.setdefault(layer_of(name), set()).update(
            layer_of(other) for other in imported if layer_of(other) != layer_of(name)
        )
    cycles = []
    for first, second in itertools.combinations(sorted(layers), 2):
        if second in _closure(layers, first) and first in _closure(layers, second):
            cycles.append(f"{first} <-> {second}")
    assert cycles == []


def _closure(layers: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in layers.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_only_the_cli_ends_the_process() -> None:
    """One error boundary: no module outside cli/ calls sys.exit."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "exit"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(relative)
    assert offenders == []


def test_jsonschema_stays_a_test_dependency() -> None:
    """The schemas are the contract for users and tests; mvctl itself never validates with
    them, so `jsonschema` is in the `test` extra only and nothing in mvctl imports it."""
    offenders = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(name.split(".")[0] == "jsonschema" for name in imported_modules(path))
    ]
    assert offenders == []


def direct_imports_into(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    graph = import_graph()
    return [
        f"{name} -> {imported}"
        for name in modules_of(graph, layer)
        for imported in sorted(graph[name])
        if layer_of(imported) in forbidden
    ]


def test_the_cli_reaches_the_edges_only_through_ops() -> None:
    """A command parses options, calls its ops function and renders: it opens no state or
    store and runs no step itself."""
    assert direct_imports_into("cli", ("state", "store", "apply")) == []


def test_ops_return_results_and_never_format_or_print() -> None:
    assert direct_imports_into("ops", ("render", "cli")) == []


def test_the_command_table_names_each_command_where_it_is_defined() -> None:
    """`mvctl` imports a command's module when the command is asked for; the table it reads
    must list every command of every module under cli/, and nothing else."""
    import importlib

    from mvctl.cli.app import COMMAND_MODULES

    defined = {}
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        module = importlib.import_module(f"mvctl.cli.{path.stem}")
        for command in getattr(module, "COMMANDS", ()):
            defined[command.name] = path.stem
    assert defined == COMMAND_MODULES
