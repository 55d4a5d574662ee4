"""The standing hostile suite's harness: a trained template project, a fresh copy of it per
generated case, and the invariants every command must keep, whatever it was given.

The template holds two models that applied twice (so history, revert and compare have
something to work on): ``churn``, scored and gated (a numpy prepare step, scikit-learn's
logistic regression saved with skops, a CSV hold-out and an NPZ split), and ``tiny``, whose
steps are small scripts writing a hand-made safetensors file. A notification references a
secret (``${HOSTILE_TOKEN}``), and a policy protects `production`. Beside the project lies
``outside/``, a canary folder holding a file with a marker text, which a symlink in the project
points at.

Every command of a case goes through ``Case.run``, which checks after it:

- the exit code is 0 or 1, or one that mvctl/exit_codes.py documents for that command
  (``allowed_exit_codes``): 2 only from `plan --detailed-exitcode`, 3 (conflicts) only from
  plan, apply and revert, 4 (a refused promotion) only from apply, 6 (a difference) only from
  reproduce;
- no traceback and no "Internal error" in anything it printed;
- nothing was written outside the project (the store is in it) but the paths the command
  line itself names as outputs: the case folder around the project and the folder of all cases
  are compared before and after;
- a read-only command left the state database and the store exactly as they were; any other
  command that failed left them as they were too, except an apply or revert that recorded its
  own failure (finished, the lock released);
- no secret (the values of ``HOSTILE_TOKEN`` and ``HOSTILE_TOKEN_NL``) in anything printed or
  in any file of the case, the state database and the store included; the marker of the canary
  folder is never copied into the project.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import event
from hypothesis.control import currently_in_test_context

from mvctl.exit_codes import ExitCode
from tests.functional.inprocess import run_cli
from tests.functional.projects import PREPARE, TEST_ACTOR, Result, base_env
from tests.functional.scored_project import PREPARE as SCORED_PREPARE
from tests.functional.scored_project import write_holdout
from tests.hostile.tally import count_command

SECRET_VARIABLE = "HOSTILE_TOKEN"
SECRET_NEWLINE_VARIABLE = "HOSTILE_TOKEN_NL"
SECRET = "hs" + hashlib.sha256(os.urandom(16)).hexdigest()[:30]
"""Sent only where the config asks for it (a webhook); never printed, stored or logged."""
SECRET_NEWLINE = "hn" + hashlib.sha256(os.urandom(16)).hexdigest()[:30]
"""Held with a trailing newline (a secret read from a file): refused by name, never quoted."""
OUTSIDE_MARKER = "outside-marker-" + hashlib.sha256(os.urandom(16)).hexdigest()[:16]
"""The content of the canary folder's files: never copied into the project or the store."""
EVIL_MODULE = "evil_payload"
"""A module in the project whose import creates CANARY: a model file must never import it."""

LIBRARY_CACHES = (".cache/matplotlib", ".config/matplotlib")
"""Where matplotlib keeps its font cache (in the user's home, as any program that plots):
`mvctl report` may leave it there."""
READ_ONLY = frozenset(
    {
        "validate",
        "plan",
        "status",
        "history",
        "show",
        "logs",
        "compare",
        "report",
        "check",
        "freeze",
        "reproduce",
    }
)
"""Commands that never change the state or the store, whatever their exit code (freeze
writes the config, reproduce works in a scratch folder)."""
WRITERS = frozenset({"apply", "revert"})
"""Commands whose failure may be recorded (a failed training, a failed promotion)."""

# The project's step scripts: ``payload`` (a file in the project) replaces what a step writes.
TINY_PREPARE = PREPARE
TINY_TRAIN = """\
import json, struct
from pathlib import Path
from mvctl import step
p = step.params()
if p.get("payload"):
    step.output("model.safetensors").write_bytes(Path(p["payload"]).read_bytes())
else:
    rows = json.loads(step.input("prepare", "data.json").read_text())["rows"]
    payload = struct.pack("<f", float(p["lr"]) * rows)
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    step.output("model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + payload)
"""
CHURN_PREPARE = "from pathlib import Path\n" + SCORED_PREPARE.replace(
    'np.savez(step.output("train.npz")',
    'if p.get("payload"):\n'
    '    step.output("train.npz").write_bytes(Path(p["payload"]).read_bytes())\n'
    "else:\n"
    '    np.savez(step.output("train.npz")',
)
ECHO_ARGS = """\
import sys
print(len(sys.argv) - 1, "arguments")
"""

TEMPLATE_CONFIG = f"""\
project: hostile
models:
  churn:
    description: Churn, scored and gated.
    owners: [{TEST_ACTOR}]
    task: binary-classification
    pipeline:
      - name: prepare
        run: python steps/churn_prepare.py
        deps: [steps/churn_prepare.py]
        params: {{seed: 1, payload: ""}}
        outputs: [train.npz]
      - name: train
        uses: sklearn
        with: {{estimator: sklearn.linear_model.LogisticRegression}}
        params: {{C: 1.0}}
        deps: [prepare]
    evaluation:
      datasets:
        - {{path: data/holdout.csv, label: churned}}
        - {{name: split, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}}
      metrics: [accuracy, f1, roc_auc, latency_p50_ms]
      speed: {{batch_size: 16, repetitions: 2, warmup: 1}}
      gates: ["accuracy >= 0.5", "roc_auc >= baseline(production) - 0.5"]
    versions:
      "1.0.0": {{}}
      "1.1.0": {{params: {{train: {{C: 0.05}}}}}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
  tiny:
    owners: [{TEST_ACTOR}]
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {{rows: 10}}
        outputs: [data.json]
      - name: train
        run: python steps/train.py
        deps: [prepare, steps/train.py]
        params: {{lr: 0.1, payload: ""}}
        outputs: [model.safetensors]
    versions:
      "1.0.0": {{}}
      "1.1.0": {{params: {{train: {{lr: 0.2}}}}}}
    aliases:
      production: "1.0.0"
      staging: "1.1.0"
notifications:
  - webhook: "http://127.0.0.1:9/hook?token=${{{SECRET_VARIABLE}}}"
    headers: {{Authorization: "Bearer ${{{SECRET_VARIABLE}}}"}}
    timeout: 1
    retries: 0
policy:
  admins: [{TEST_ACTOR}]
  protected_aliases: {{production: {{actors: [{TEST_ACTOR}]}}}}
"""
FIRST_APPLY = (
    TEMPLATE_CONFIG.replace('      "1.1.0": {params: {train: {C: 0.05}}}\n', "")
    .replace('      "1.1.0": {params: {train: {lr: 0.2}}}\n', "")
    .replace('      staging: "1.1.0"\n', "")
)


@dataclass(frozen=True, repr=False)
class Template:
    """The trained project and its canary folder, copied for each case."""

    folder: Path
    """Holds ``proj`` and ``outside``."""
    skops_model: bytes
    """churn@1.0.0's artifact, as mvctl trained it."""
    safetensors_model: bytes
    """tiny@1.0.0's artifact."""
    plan_config: str
    """The template config with one more tiny version, so that a plan has work to save."""

    def __repr__(self) -> str:
        return f"Template({self.folder})"


def secret_env() -> dict[str, str]:
    return {SECRET_VARIABLE: SECRET, SECRET_NEWLINE_VARIABLE: SECRET_NEWLINE + "\n"}


def build_template(folder: Path) -> Template:
    """Write and apply the template project (twice: history to revert and compare)."""
    root = folder / "proj"
    outside = folder / "outside"
    outside.mkdir(parents=True)
    (outside / "passwd").write_text(f"root:x:0:0:{OUTSIDE_MARKER}:/root:/bin/sh\n", "utf-8")
    write_holdout(outside / "holdout.csv")
    (outside / "data").mkdir()
    (outside / "data" / "marker.txt").write_text(OUTSIDE_MARKER, "utf-8")
    for relative, text in (
        ("steps/prepare.py", TINY_PREPARE),
        ("steps/train.py", TINY_TRAIN),
        ("steps/churn_prepare.py", CHURN_PREPARE),
        ("steps/echo_args.py", ECHO_ARGS),
        (f"{EVIL_MODULE}.py", evil_module_text()),
        ("mvctl.yaml", FIRST_APPLY),
    ):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    write_holdout(root / "data" / "holdout.csv")
    (root / "payloads").mkdir()
    (root / "data" / "outside.csv").symlink_to(Path("..") / ".." / "outside" / "passwd")
    (root / "linked").symlink_to(Path("..") / "outside")
    env = {**base_env(None), **secret_env(), "HOME": str(folder)}
    for config in (FIRST_APPLY, TEMPLATE_CONFIG):
        (root / "mvctl.yaml").write_text(config, "utf-8")
        with environment(env), working_folder(root):
            done = run_cli("apply", "--auto-approve")
        assert done.code == 0, done.text
    artifacts = {
        str(model): str(digest)
        for model, digest in sql_rows(
            root, "SELECT model, artifact_digest FROM versions WHERE label = '1.0.0'"
        )
    }
    return Template(
        folder=folder,
        skops_model=blob(root, artifacts["churn"]),
        safetensors_model=blob(root, artifacts["tiny"]),
        plan_config=TEMPLATE_CONFIG.replace(
            '      "1.1.0": {params: {train: {lr: 0.2}}}\n',
            '      "1.1.0": {params: {train: {lr: 0.2}}}\n'
            '      "1.2.0": {params: {train: {lr: 0.3}}}\n',
        ),
    )


def evil_module_text() -> str:
    """``evil_payload.py``: importing it creates CANARY beside it."""
    return (
        "from pathlib import Path\n"
        "Path(__file__).with_name('CANARY').write_text('imported')\n"
        "class Model:\n    pass\n"
        "def run(*args):\n    return args\n"
    )


def blob(root: Path, digest: str) -> bytes:
    hexdigest = digest.removeprefix("sha256:")
    return (root / ".mvctl" / "store" / "objects" / hexdigest[:2] / hexdigest[2:]).read_bytes()


def sql_rows(root: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{root / '.mvctl' / 'state.db'}?mode=ro", uri=True)) as db:
        return db.execute(query).fetchall()


# -- what a case looks at --------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str
    size: int
    mtime_ns: int
    digest: str


def snapshot(folder: Path, *, skip: Path | None = None) -> dict[str, Entry]:
    """Every file, folder and link under ``folder`` (``skip`` left out), with its content."""
    found: dict[str, Entry] = {}
    if not folder.exists():
        return found
    for path in sorted(walk(folder, skip)):
        info = path.lstat()
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[relative] = Entry("link", 0, 0, os.readlink(path))
        elif path.is_dir():
            found[relative] = Entry("dir", 0, 0, "")
        else:
            found[relative] = Entry("file", info.st_size, info.st_mtime_ns, file_digest(path))
    return found


def walk(folder: Path, skip: Path | None) -> Iterator[Path]:
    for path in folder.iterdir():
        if skip is not None and path == skip:
            continue
        yield path
        if path.is_dir() and not path.is_symlink():
            yield from walk(path, skip)


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:  # a FIFO or socket a case made: its name and kind are enough
        return f"unreadable: {error.strerror}"


@dataclass(frozen=True)
class StateView:
    """The state database as plain values: every table's rows, and the lock holder."""

    tables: Mapping[str, tuple[int, str]]
    """Row count and a digest of the rows, by table."""
    applies: tuple[tuple[object, ...], ...]
    """(id, kind, status) of each apply, oldest first."""
    locked: bool

    @property
    def serial(self) -> str:
        return self.tables.get("meta", (0, ""))[1]


def state_view(database: Path) -> StateView | None:
    if not database.is_file():
        return None
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        names = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        tables = {}
        for name in sorted(names):
            rows = sorted(repr(row) for row in db.execute(f'SELECT * FROM "{name}"'))
            tables[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        applies = tuple(db.execute("SELECT id, kind, status FROM applies ORDER BY id"))
        locked = db.execute("SELECT count(*) FROM lock").fetchone()[0] > 0
    return StateView(tables, applies, locked)


def store_view(store: Path) -> dict[str, int]:
    """The store's files and their sizes (blobs are content-addressed: names say enough)."""
    if not store.exists():
        return {}
    return {
        path.relative_to(store).as_posix(): path.lstat().st_size
        for path in store.rglob("*")
        if not path.is_dir()
    }


def secrets_in(data: bytes) -> list[str]:
    return [name for name in (SECRET, SECRET_NEWLINE) if name.encode() in data]


# -- a case ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One generated case: a fresh copy of the template under ``base``, run and checked."""

    base: Path
    all_cases: Path
    env: dict[str, str | None] = field(default_factory=dict)
    """Extra environment for every command (None unsets)."""
    importable: bool = False
    """Put the project first on sys.path, so a module a model file names could be imported."""
    commands: list[tuple[tuple[str, ...], Result]] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.base / "proj"

    @property
    def outside(self) -> Path:
        return self.base / "outside"

    @property
    def database(self) -> Path:
        return self.root / ".mvctl" / "state.db"

    @property
    def store(self) -> Path:
        return self.root / ".mvctl" / "store"

    def read_config(self) -> str:
        return (self.root / "mvctl.yaml").read_text("utf-8")

    def write(self, relative: str, data: bytes | str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, "utf-8")
        else:
            path.write_bytes(data)
        return path

    def run(
        self,
        *argv: str,
        outputs: Sequence[str] = (),
        in_process: bool = True,
        quotes_outside: bool = False,
    ) -> Result:
        """Run ``mvctl ARGV`` in the project and check every invariant after it.

        ``outputs``: paths the command line names for the command to write (relative to the
        project); ``quotes_outside``: the command line names a file outside the project, which
        an error may quote.
        """
        if in_process:
            return self._checked(argv, lambda: self._in_process(argv), outputs, quotes_outside)
        encoded = [os.fsencode(arg) for arg in argv]
        return self._checked(argv, lambda: self._subprocess(encoded), outputs, quotes_outside)

    def run_bytes(self, *argv: bytes, outputs: Sequence[str] = ()) -> Result:
        """A real process given arguments that are not text (argv is bytes on POSIX)."""
        shown = tuple(os.fsdecode(arg) for arg in argv)
        return self._checked(shown, lambda: self._subprocess(list(argv)), outputs, False)

    def _checked(
        self,
        argv: Sequence[str],
        command: Callable[[], Result],
        outputs: Sequence[str],
        quotes_outside: bool,
    ) -> Result:
        before_outside = self._outside_snapshot()
        before_state, before_store = state_view(self.database), store_view(self.store)
        result = command()
        count_command(result.code)
        self.commands.append((tuple(argv), result))
        record(f"{command_verb(argv)!a} -> {result.code}")
        shown = f"mvctl {' '.join(map(ascii, argv))} -> {result.code}\n{result.text[-3000:]}"
        assert "Internal error" not in result.text, shown + crash_log(result.text)
        assert "Traceback" not in result.text, shown
        assert result.code in allowed_exit_codes(argv), shown
        assert not secrets_in(result.text.encode("utf-8", "surrogateescape")), shown
        if not quotes_outside:
            assert OUTSIDE_MARKER not in result.text, shown
        self._check_outside(before_outside, argv, outputs, shown)
        self._check_state(argv, result, before_state, before_store, shown)
        self._check_files(shown)
        return result

    # -- running -----------------------------------------------------------------------------

    def _environment(self) -> dict[str, str | None]:
        return {
            "MVCTL_STATE": None,
            "MVCTL_STORE": None,
            "MVCTL_PLAN_KEY": None,
            "MVCTL_CONFIG": None,
            "MVCTL_DEBUG": None,
            "FORCE_COLOR": None,
            "MVCTL_ACTOR": TEST_ACTOR,
            "NO_COLOR": "1",
            "HOME": str(self.base / "home"),
            **secret_env(),
            **self.env,
        }

    def _in_process(self, argv: Sequence[str]) -> Result:
        temporary = tempfile.tempdir
        with environment(self._environment()), working_folder(self.root):
            tempfile.tempdir = str(self.base / "tmp")
            if self.importable:
                sys.path.insert(0, str(self.root))
            try:
                result = run_cli(*argv)
            finally:
                tempfile.tempdir = temporary
                if self.importable:
                    sys.path.remove(str(self.root))
                assert EVIL_MODULE not in sys.modules, "a model file imported a module"
        self._check_no_leftovers(result)
        return result

    def _check_no_leftovers(self, result: Result) -> None:
        if "Internal error" in result.text:
            return  # reported with its traceback by the caller
        leftovers = sorted(path.name for path in (self.base / "tmp").iterdir())
        assert not leftovers, f"temporary files left behind: {leftovers}\n{result.text}"

    def _subprocess(self, argv: list[bytes]) -> Result:
        env = {**base_env(None), "TMPDIR": str(self.base / "tmp")}
        for name, value in self._environment().items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        done = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"mvctl", *argv],
            cwd=self.root,
            env=env,
            capture_output=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        out, err = (
            stream.decode("utf-8", "surrogateescape") for stream in (done.stdout, done.stderr)
        )
        result = Result(done.returncode, out, err)
        self._check_no_leftovers(result)
        return result

    # -- checks ------------------------------------------------------------------------------

    def _outside_snapshot(self) -> tuple[dict[str, Entry], frozenset[str]]:
        return (
            snapshot(self.base, skip=self.root),
            frozenset(path.name for path in self.all_cases.iterdir()),
        )

    def _check_outside(
        self,
        before: tuple[dict[str, Entry], frozenset[str]],
        argv: Sequence[str],
        outputs: Sequence[str],
        shown: str,
    ) -> None:
        after = self._outside_snapshot()
        assert after[1] == before[1], f"files appeared beside the cases\n{shown}"
        # Paths on the command line are taken from `-C DIR`, as the user's shell would.
        folder = self.root / chdir_of(argv)
        allowed = [allowed_path(folder, output) for output in outputs]
        allowed += [self.base / "home" / cache for cache in LIBRARY_CACHES]
        changed = sorted(
            name
            for name in set(before[0]) | set(after[0])
            if before[0].get(name) != after[0].get(name)
            and not self._may_write(name, after[0].get(name), allowed)
        )
        assert not changed, f"written outside the project: {changed}\n{shown}"

    def _may_write(self, name: str, entry: Entry | None, allowed: list[Path | None]) -> bool:
        """Whether ``name`` lies in an allowed output, or is a folder made to hold one."""
        path = Path(os.path.realpath(self.base / name))
        for output in allowed:
            if output is None:
                continue
            if is_within(path, output):
                return True
            if entry is not None and entry.kind == "dir" and is_within(output, path):
                return True
        return False

    def _check_state(
        self,
        argv: Sequence[str],
        result: Result,
        before: StateView | None,
        before_store: dict[str, int],
        shown: str,
    ) -> None:
        after, after_store = state_view(self.database), store_view(self.store)
        verb = command_verb(argv)
        if after is not None and after.locked and verb != "lock":
            assert before is not None and before.locked, f"the state lock was left held\n{shown}"
        if verb in READ_ONLY or (result.code != 0 and verb not in WRITERS):
            assert after == before, f"the state changed (serial {before_serial(before)})\n{shown}"
            assert after_store == before_store, f"the store changed\n{shown}"
        elif result.code != 0 and after != before:
            assert before is not None and after is not None, shown
            new = after.applies[len(before.applies) :]
            assert new and all(status != "running" for _, _, status in new), (
                f"a failed {verb} changed the state without a finished record of it\n{shown}"
            )

    def _check_files(self, shown: str) -> None:
        for path in walk(self.base, None):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes() if path.stat().st_size < 64 * 2**20 else b""
                leaked = secrets_in(data)
                assert not leaked, f"a secret is in {path}\n{shown}"
                if is_within(path, self.root):
                    assert OUTSIDE_MARKER.encode() not in data, (
                        f"the canary folder's content was copied into {path}\n{shown}"
                    )
        assert not (self.root / "CANARY").exists(), f"a model file ran code\n{shown}"


def crash_log(text: str) -> str:
    """The traceback an internal error logged, for the failure message."""
    found = re.search(r"The traceback is in (\S+?);", text)
    if found is None or not Path(found.group(1)).is_file():
        return ""
    return "\n" + Path(found.group(1)).read_text("utf-8", "replace")


def record(what: str) -> None:
    """Count ``what`` in hypothesis' statistics (`--hypothesis-show-statistics`)."""
    if currently_in_test_context():
        event(what)


def before_serial(view: StateView | None) -> str:
    return "none" if view is None else view.serial


GLOBAL_OPTIONS = {"-c": True, "--config": True, "-C": True, "--chdir": True, "--no-color": False}
"""mvctl's options before the command, and whether each takes a value."""


def command_verb(argv: Sequence[str]) -> str:
    """The (sub)command an argv runs: its first word that is not an option or a value."""
    words = list(argv)
    while words and words[0] in GLOBAL_OPTIONS:
        words = words[2:] if GLOBAL_OPTIONS[words[0]] else words[1:]
    if not words:
        return ""
    if words[0] in ("state", "store") and len(words) > 1:
        return words[1]
    return words[0]


def chdir_of(argv: Sequence[str]) -> str:
    """The folder `-C DIR` names before the command ("." without one; the last one wins)."""
    folder = "."
    words = list(argv)
    while words and words[0] in GLOBAL_OPTIONS:
        if words[0] in ("-C", "--chdir") and len(words) > 1:
            folder = words[1]
        words = words[2:] if GLOBAL_OPTIONS[words[0]] else words[1:]
    return folder


def allowed_exit_codes(argv: Sequence[str]) -> frozenset[int]:
    """0 and 1 for every command, and the codes mvctl/exit_codes.py documents for this one:
    changes only under `plan --detailed-exitcode`, conflicts from the planning commands, a
    refused promotion from apply, a difference from reproduce. (Nothing here answers a
    prompt, so never DECLINED.)"""
    verb = command_verb(argv)
    codes = {ExitCode.OK, ExitCode.ERROR}
    if verb in ("plan", "apply", "revert"):
        codes.add(ExitCode.CONFLICTS)
    if verb == "plan" and "--detailed-exitcode" in argv:
        codes.add(ExitCode.CHANGES)
    if verb == "apply":
        codes.add(ExitCode.REFUSED)
    if verb == "reproduce":
        codes.add(ExitCode.DIFFERS)
    return frozenset(codes)


def allowed_path(root: Path, output: str) -> Path | None:
    if not output:
        return None
    path = Path(output)
    return Path(os.path.realpath(path if path.is_absolute() else root / path))


def is_within(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.normpath(path)), Path(os.path.normpath(folder))
    return path == folder or folder in path.parents


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@contextmanager
def new_case(
    template: Template,
    all_cases: Path,
    *,
    pinned: bool = False,
    importable: bool = False,
) -> Iterator[Case]:
    """A fresh copy of the template for one generated case, removed afterwards.

    ``pinned``: MVCTL_STATE and MVCTL_STORE name the case's own state and store, so that a
    hostile `state:` or `store:` in the config cannot point the commands elsewhere.
    """
    base = Path(tempfile.mkdtemp(prefix="case-", dir=all_cases))
    try:
        shutil.copytree(template.folder / "proj", base / "proj", symlinks=True)
        shutil.copytree(template.folder / "outside", base / "outside", symlinks=True)
        (base / "home").mkdir()
        (base / "tmp").mkdir()
        case = Case(base, all_cases, importable=importable)
        if pinned:
            case.env.update(
                {"MVCTL_STATE": f"sqlite:///{case.database}", "MVCTL_STORE": str(case.store)}
            )
        yield case
    finally:
        sys.modules.pop(EVIL_MODULE, None)
        shutil.rmtree(base, ignore_errors=True)
