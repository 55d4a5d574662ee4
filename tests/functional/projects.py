"""Generated projects for end-to-end tests, and a runner for the real `mvctl` command.

The 'tiny' project trains in milliseconds: its steps are small Python scripts, and its model
is a hand-written safetensors file, so tests exercise the whole loop without waiting on
scikit-learn. The quickstart example is used where real training matters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PREPARE = """\
import json, os, sys, time
from mvctl import step
p = step.params()
time.sleep(float(os.environ.get("SLOW_PREPARE", "0")))
if os.environ.get("FAIL_STEP") == "prepare":
    print("prepare is failing on purpose", file=sys.stderr)
    sys.exit(3)
step.output("data.json").write_text(json.dumps({"rows": p["rows"]}))
step.progress(1.0, rows=p["rows"])
"""

TRAIN = """\
import json, os, struct, sys, time
from mvctl import step
p = step.params()
time.sleep(float(os.environ.get("SLOW_TRAIN", "0")))
release = os.environ.get("TRAIN_WAITS_FOR")
while release and not os.path.exists(release):
    time.sleep(0.05)
if os.environ.get("FAIL_STEP") == "train":
    print("train is failing on purpose", file=sys.stderr)
    sys.exit(4)
rows = json.loads(step.input("prepare", "data.json").read_text())["rows"]
payload = struct.pack("<f", float(p["lr"]) * rows)
header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
with open(step.output("model.safetensors"), "wb") as out:
    out.write(struct.pack("<Q", len(header)) + header + payload)
"""

FAULT_ENV_PREFIX = "MVCTL_TEST_"
"""Fault points (mvctl/faults.py) are armed through these variables, read at import."""

TEST_ACTOR = "tester"
"""Who the tests act as (MVCTL_ACTOR): the tiny project's owner."""

TINY_CONFIG = """\
project: tiny
models:
  churn:
    owners: [tester]
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {rows: 10}
        outputs: [data.json]
      - name: train
        run: python steps/train.py
        deps: [prepare, steps/train.py]
        params: {lr: 0.1}
        outputs: [model.safetensors]
    versions:
      "1.0.0": {}
      "1.1.0": {params: {train: {lr: 0.2}}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Project:
    root: Path
    env: dict[str, str]

    def mvctl(
        self,
        *args: str,
        extra_env: dict[str, str] | None = None,
        timeout: float = 300,
        process: bool = False,
    ) -> Result:
        """`mvctl ARGS` in the project. In this process by default (the suite's time goes
        to Python start-up otherwise); in a real one when the process boundary is what the
        test is about (``process=True``: exit on a signal, stdin, a timeout) or a fault point
        is armed, since those are read once at import."""
        env = {**self.env, **(extra_env or {})}
        if not process and not any(name.startswith(FAULT_ENV_PREFIX) for name in env):
            from tests.functional.inprocess import run_cli

            return run_cli(*args, cwd=self.root, env=env)
        proc = subprocess.run(
            [sys.executable, "-m", "mvctl", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start mvctl in the background; its output goes to files beside the project."""
        env = {**self.env, **(extra_env or {})}
        logs = self.root.parent / f"background-{len(list(self.root.parent.glob('background-*')))}"
        logs.mkdir()
        with (logs / "out").open("wb") as out, (logs / "err").open("wb") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "mvctl", *args],
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), "utf-8")
        return path

    def config(self) -> str:
        return (self.root / "mvctl.yaml").read_text("utf-8")

    def edit_config(self, old: str, new: str) -> None:
        text = self.config()
        assert old in text, f"{old!r} not in the config"
        (self.root / "mvctl.yaml").write_text(text.replace(old, new, 1), "utf-8")


def base_env(state_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVCTL_")}
    env["NO_COLOR"] = "1"
    env["MVCTL_ACTOR"] = TEST_ACTOR
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if state_url:
        env["MVCTL_STATE"] = state_url
    return env


def make_tiny(root: Path, state_url: str | None = None) -> Project:
    project = Project(root, base_env(state_url))
    project.write("mvctl.yaml", TINY_CONFIG)
    project.write("steps/prepare.py", PREPARE)
    project.write("steps/train.py", TRAIN)
    return project


def applied_tiny(root: Path) -> Project:
    """The tiny project in ``root``, applied once (both versions trained, both aliases set)."""
    project = make_tiny(root)
    done = project.mvctl("apply", "--auto-approve")
    assert done.code == 0, done.text
    return project


def make_quickstart(root: Path, state_url: str | None = None) -> Project:
    """A copy of examples/quickstart without any state the README's first command left there."""
    shutil.copytree(
        REPO / "examples" / "quickstart",
        root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".mvctl"),
    )
    return Project(root, base_env(state_url))


def copy_of(project: Project, folder: Path) -> Project:
    """``project`` copied into ``folder``, its state and store with it, to edit freely."""
    shutil.copytree(project.root, folder / "proj")
    return Project(folder / "proj", project.env)


SCHEMA_AND_SQL_MODULES = ("pydantic", "sqlalchemy", "alembic")

LOADED_BY_COMMAND = """\
import sys
from mvctl.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    assert done.code == 0, done.code
print(sorted(m for m in {modules!r} if m in sys.modules), file=sys.stderr)
"""


def schema_and_sql_modules_loaded(project: Project, *args: str) -> str:
    """Which of pydantic, SQLAlchemy and alembic `mvctl ARGS` loads, run in a fresh
    interpreter in ``project`` (it must succeed): "[]" when none."""
    ran = subprocess.run(
        [sys.executable, "-c", LOADED_BY_COMMAND.format(modules=SCHEMA_AND_SQL_MODULES), *args],
        cwd=project.root,
        env={**project.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    return ran.stderr.strip().splitlines()[-1]
