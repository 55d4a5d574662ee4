"""Hostile model files through the real CLI: `validate`, `plan` and `apply` refuse a version
whose `artifact:` is hostile with one line naming the config place, the file and the reason;
exit 1, no traceback, nothing run, the state and the store as they were.

The commands run in this process (``mvctl.cli.main``) with the project first on sys.path, so a
module a file names could be imported if anything tried (it would create the canary).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvctl.state.db import StateDB
from mvctl.state.inventory import Inventory
from tests.functional.inprocess import apply_here, run_cli
from tests.functional.projects import Project, make_tiny
from tests.hostile.corpus import ALL_FILES, EVIL_MODULE, Hostile, skops_forest, write_evil_module


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = make_tiny(tmp_path_factory.mktemp("hostile-cli") / "proj")
    assert apply_here(project.root).status == "succeeded"
    return project


@pytest.fixture
def project(applied: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "proj"
    shutil.copytree(applied.root, root)
    write_evil_module(root, root / "CANARY")
    monkeypatch.syspath_prepend(str(root))
    for name in ("MVCTL_STATE", "MVCTL_STORE"):
        monkeypatch.delenv(name, raising=False)
    yield Project(root, applied.env)
    sys.modules.pop(EVIL_MODULE, None)


def recorded(root: Path) -> tuple[Inventory, list[str]]:
    with StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=False) as db:
        found = db.inventory()
    assert found is not None
    store = root / ".mvctl" / "store" / "objects"
    return found, sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def register(project: Project, file: Path) -> int:
    """Declare version 9.0.0 with ``file`` as its artifact; return the line of `artifact:`."""
    relative = file.relative_to(project.root).as_posix()
    project.edit_config(
        '      "1.1.0"', f'      "9.0.0":\n        artifact: {relative}\n      "1.1.0"'
    )
    lines = project.config().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith("artifact:"))


@pytest.mark.parametrize("hostile", ALL_FILES, ids=lambda h: h.name)
def test_validate_plan_and_apply_refuse_a_hostile_artifact(
    hostile: Hostile, project: Project
) -> None:
    file = hostile.build(project.root, project.root / "CANARY")
    line = register(project, file)
    before = recorded(project.root)
    config = str(project.root / "mvctl.yaml")
    for command in (("validate",), ("plan",), ("apply", "--auto-approve")):
        result = run_cli("-c", config, *command)
        assert result.code == 1, (command, result.text)
        assert "Traceback" not in result.text and "Internal error" not in result.text
        (error,) = result.err.splitlines()
        assert error.startswith(
            f"Error: {config}:{line}:9: the artifact of churn@9.0.0 ({file.name})"
        )
        assert hostile.refusal in error, (command, error)
        assert not (project.root / "CANARY").exists() and EVIL_MODULE not in sys.modules
        assert recorded(project.root) == before


def test_validate_refuses_a_dangerous_name_in_trusted_types(project: Project) -> None:
    project.edit_config(
        "    owners: [tester]\n", "    owners: [tester]\n    trusted_types: [builtins.eval]\n"
    )
    result = run_cli("-c", str(project.root / "mvctl.yaml"), "validate")
    assert result.code == 1
    assert "'models.churn.trusted_types[0]': 'builtins.eval' is in builtins" in result.err


def test_a_registered_forest_is_accepted_once_its_tree_is_listed(project: Project) -> None:
    file = skops_forest(project.root, project.root / "CANARY")
    register(project, file)
    config = str(project.root / "mvctl.yaml")
    assert run_cli("-c", config, "validate").code == 1
    project.edit_config(
        "    owners: [tester]\n",
        "    owners: [tester]\n    trusted_types: [sklearn.tree._tree.Tree]\n",
    )
    assert run_cli("-c", config, "validate").code == 0
    assert run_cli("-c", config, "plan").code == 0
    assert run_cli("-c", config, "apply", "--auto-approve").code == 0
    shown = run_cli("-c", config, "show", "churn@9.0.0")
    assert "trained" in shown.out


PLAN_AND_REPORT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('sklearn' in sys.modules, file=sys.stderr))\n"
    "from mvctl.cli import main\n"
    "main(['plan'])\n"
)


def test_a_registered_file_that_passed_is_not_checked_again_by_the_next_plan(
    project: Project,
) -> None:
    """Checking a skops file imports scikit-learn (seconds); a passed verdict is remembered by
    the file's digest and the model's trusted types, so the next plan stays fast. A refusal is
    never remembered, and changing `trusted_types` checks again."""
    file = skops_forest(project.root, project.root / "CANARY")
    register(project, file)
    project.edit_config(
        "    owners: [tester]\n",
        "    owners: [tester]\n    trusted_types: [sklearn.tree._tree.Tree]\n",
    )

    def plan() -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-c", PLAN_AND_REPORT],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, done.stderr.strip().splitlines()[-1]

    assert plan() == (0, "True")
    assert plan() == (0, "False")
    project.edit_config("    trusted_types: [sklearn.tree._tree.Tree]\n", "")
    assert plan() == (1, "True")
    assert plan() == (1, "True")
