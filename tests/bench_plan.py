"""Benchmark: `mvctl plan` on 1,000 models x 10 versions against a populated state.

Run by hand (not collected by pytest):  python tests/bench_plan.py [--models 1000] [--versions 10]

It writes a project whose config declares every version, records all of them as trained in a
SQLite state (as an apply would have), then times:
  - a full `mvctl plan` process (load YAML, digests, snapshot, build_plan, render), wall time
    and peak RSS, after one warm-up run;
  - the no-op plan of the quickstart example after it was applied.
Targets: a plan of 10,000 versions in 1 s, of 100,000 in 8 s and 1 GB; for the quickstart,
validate in 0.15 s, status and a no-op plan in 0.2 s, a no-op apply in 0.25 s, revert in 0.2 s.
Beside validate it prints the floor under it: what importing click, PyYAML and pydantic alone
costs.

Every command runs with mvctl's bytecode compiled, as pip leaves an installed mvctl
(PYTHONDONTWRITEBYTECODE, which some shells and CI images set, is dropped here): without it
each run compiles some 90 modules again, 0.05-0.08 s of every command.

With ``--postgres URL`` (a server URL, e.g. $MVCTL_TEST_POSTGRES_URL) it also applies the
quickstart to a fresh database there, adds 10,000 applies of 10 changes each to its change log
(100,000 rows), and times `status` and `history` (also of one model), prints EXPLAIN ANALYZE of
their queries and what `import psycopg` and the connection cost; ``--history-only`` does only
that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mvctl.core.policy import declared_policy  # noqa: E402
from mvctl.core.recorded import POLICY_TARGET, Change, StepRun, Target  # noqa: E402
from mvctl.core.records import AliasRecord, ModelRecord, PolicyRecord, VersionRecord  # noqa: E402
from mvctl.core.resolve import resolve_model  # noqa: E402
from mvctl.spec.loader import load_config  # noqa: E402
from mvctl.state.db import StateDB  # noqa: E402
from mvctl.store.blobs import LocalStore  # noqa: E402
from mvctl.store.digests import DigestCache  # noqa: E402


def write_project(root: Path, models: int, versions: int) -> None:
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "prepare.py").write_text("print('prepare')\n")
    (root / "steps" / "train.py").write_text("print('train')\n")
    lines = ["project: bench", "models:"]
    for m in range(models):
        lines += [
            f"  model-{m:04d}:",
            "    owners: [bench]",
            "    pipeline:",
            "      - {name: prepare, run: python steps/prepare.py, deps: [steps/prepare.py],"
            f" params: {{seed: {m}}}, outputs: [data.npz]}}",
            "      - {name: train, run: python steps/train.py, deps: [prepare, steps/train.py],"
            " params: {lr: 0.1, epochs: 5}, outputs: [model.safetensors]}",
            "    versions:",
        ]
        lines += [
            f'      "1.{v}.0": {{params: {{train: {{lr: {0.01 * (v + 1):.2f}}}}}}}'
            for v in range(versions)
        ]
        lines += [
            "    aliases:",
            f'      production: "1.{versions - 1}.0"',
            f'      staging: "1.{versions - 2}.0"',
        ]
    (root / "mvctl.yaml").write_text("\n".join(lines) + "\n")


def populate_state(root: Path) -> None:
    loaded = load_config(root / "mvctl.yaml")
    cache = DigestCache(None)
    digests = {dep: cache.dep_digest(root, dep) for dep in ("steps/prepare.py", "steps/train.py")}
    artifact = LocalStore(root / ".mvctl" / "store").put_bytes(b"bench model weights")
    state = StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=True)
    apply_id = state.begin_apply(kind="apply", actor="bench", plan_hash="0" * 64, expected_serial=0)
    changes = [Change(POLICY_TARGET, None, PolicyRecord.from_json(declared_policy(loaded.config)))]
    runs: list[StepRun] = []
    now = "2026-01-01T00:00:00Z"
    for name, model in loaded.config.models.items():
        changes.append(Change(Target("model", name), None, ModelRecord(False, now)))
        for label, resolved in resolve_model(name, model, digests, {}).items():
            changes.append(
                Change(
                    Target("version", name, label),
                    None,
                    VersionRecord(
                        status="trained",
                        spec_hash=resolved.spec_hash,
                        metadata_hash=resolved.metadata_hash,
                        artifact_digest=artifact,
                        spec=resolved.record_spec(),
                        params=resolved.params(),
                        lineage={},
                        failure=None,
                        description=None,
                        tags={},
                        created_by="bench",
                        created_at=now,
                        apply_id=apply_id,
                    ),
                )
            )
            for step in resolved.steps:
                runs.append(
                    StepRun(
                        step.key,
                        name,
                        step.name,
                        {"out": "sha256:" + "2" * 64},
                        json.dumps(dict(step.definition), sort_keys=True),
                        None,
                        1.0,
                        apply_id,
                    )
                )
        for alias, label in model.aliases.items():
            changes.append(Change(Target("alias", name, alias), None, AliasRecord(label)))
    state.record(apply_id, changes)
    for run in runs:
        state.record_step_run(run)
    state.finish_apply(apply_id, "succeeded")
    state.close()


MVCTL_REPORTING_PEAK = """
import atexit, os, runpy, sys

peak_fd = int(sys.argv.pop(1))


def report_peak():
    with open("/proc/self/status") as status:
        peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    os.write(peak_fd, peak_kb.encode())


atexit.register(report_peak)
runpy.run_module("mvctl", run_name="__main__", alter_sys=True)
"""
"""`python -m mvctl` that writes its peak RSS to a pipe as it exits. The kernel's peak for a
child (``ru_maxrss`` from wait4) starts at the parent's size when it forked, and this process
holds a state of 10,000 versions by then; VmHWM is the peak of the command's own memory."""


def time_command(root: Path, *args: str, repeat: int = 3) -> tuple[float, float, str]:
    """Median wall time (s) and peak RSS (MB) of `mvctl ARGS` in ``root``, after a warm-up.

    The median CPU time (user + system) is printed too: on a shared machine it moves far less
    than the wall time, and on an idle one the two agree.
    """
    # The big project's recorded policy names its owner: the bench acts as that owner.
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), "MVCTL_ACTOR": "bench"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    walls: list[float] = []
    cpus: list[float] = []
    peak_mb = 0.0
    output = ""
    for run in range(repeat + 1):
        peak_read, peak_write = os.pipe()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", MVCTL_REPORTING_PEAK, str(peak_write), *args],
                cwd=root,
                env=env,
                stdout=out,
                stderr=err,
                pass_fds=(peak_write,),
            )
            os.close(peak_write)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            with os.fdopen(peak_read, "rb") as peak:
                peak_kb = peak.read()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            output = out.read()
            if proc.returncode not in (0, 2) or not peak_kb:
                raise SystemExit(f"mvctl {' '.join(args)} failed:\n{err.read()}")
        if run:
            walls.append(elapsed)
            cpus.append(usage.ru_utime + usage.ru_stime)
        peak_mb = max(peak_mb, int(peak_kb) / 1024)
    print(f"  (mvctl {' '.join(args)}: median CPU {statistics.median(cpus):.3f} s)")
    return statistics.median(walls), peak_mb, output


LIBRARIES_EVERY_LOAD_NEEDS = "import click, yaml; from pydantic import BaseModel"


def time_library_floor() -> None:
    """What validate cannot go below: the median CPU of a bare interpreter, and of one that
    only imports the libraries every command that loads the config needs (click for the
    command line, PyYAML for the files, pydantic for the schema), in the same environment
    as the commands above. The 17 spec models, the validator and mvctl's own modules come
    on top of that."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    medians = []
    for code in ("pass", LIBRARIES_EVERY_LOAD_NEEDS):
        cpus = []
        for run in range(10):
            proc = subprocess.Popen([sys.executable, "-c", code], env=env)
            _, _, usage = os.wait4(proc.pid, 0)
            if run:
                cpus.append(usage.ru_utime + usage.ru_stime)
        medians.append(statistics.median(cpus))
    print(
        f"  floor: python alone {medians[0]:.3f} s CPU; python importing click, PyYAML and "
        f"pydantic's BaseModel {medians[1]:.3f} s CPU (median of 9)"
    )


def time_long_change_log(workdir: Path, server_url: str) -> None:
    """`status` and `history` of the quickstart on PostgreSQL with 100,000 log rows: whole
    processes (median wall and CPU of 9), EXPLAIN ANALYZE of their queries, and the driver's
    share of the time."""
    import psycopg

    database = "mvctl_bench_history"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as server:
        server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.execute(f"CREATE DATABASE {database}")
    state_url = server_url.rsplit("/", 1)[0] + "/" + database
    project = workdir / "postgres"
    shutil.copytree(REPO / "examples" / "quickstart", project)
    (project / "mvctl.yaml").write_text(
        (project / "mvctl.yaml").read_text() + f"state: {state_url}\n"
    )
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "mvctl", "apply", "--auto-approve"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    with psycopg.connect(plain.rsplit("/", 1)[0] + "/" + database, autocommit=True) as db:
        db.execute(
            "INSERT INTO applies (kind, actor, started_at, finished_at, plan_hash, status, "
            "serial_before, serial_after) SELECT 'apply', 'bench', '2025-01-01T00:00:00Z', "
            "'2025-01-01T00:00:01Z', repeat('0', 64), 'succeeded', 0, 0 "
            "FROM generate_series(1, 10000)"
        )
        db.execute(
            "INSERT INTO changes (apply_id, seq, target_kind, model, name, before_json, "
            "after_json, at, actor) SELECT a.id, s, 'model', 'bench-' || a.id || '-' || s, '', "
            'NULL, \'{"archived": false, "created_at": "2025-01-01T00:00:00Z"}\', '
            "'2025-01-01T00:00:00Z', 'bench' FROM applies AS a "
            "CROSS JOIN generate_series(1, 10) AS s WHERE a.actor = 'bench'"
        )
        db.execute("ANALYZE")
        rows = db.execute("SELECT count(*) FROM changes").fetchone()
    print(f"PostgreSQL change log: {rows[0] if rows else 0} rows")
    explain_history_queries(plain.rsplit("/", 1)[0] + "/" + database)
    for args in (
        ("status",),
        ("status", "cancer"),
        ("history",),
        ("history", "--limit", "20"),
        ("history", "cancer"),
    ):
        wall, _, _ = time_command(project, *args, repeat=9)
        print(f"mvctl {' '.join(args)} on PostgreSQL: {wall:.3f} s wall (target < 0.3 s)")
    time_driver_start(plain.rsplit("/", 1)[0] + "/" + database)


def explain_history_queries(url: str) -> None:
    """EXPLAIN ANALYZE of what `history` and `status` ask, as the reader writes it."""
    import psycopg

    from mvctl.state import reader

    page = reader.APPLIES + " ORDER BY a.id DESC LIMIT 21"
    queries = {
        "history: a page of applies": page,
        "history MODEL: that model's page": reader.APPLIES
        + " WHERE a.id IN (SELECT apply_id FROM changes WHERE model = 'cancer')"
        + " ORDER BY a.id DESC LIMIT 21",
        "history: the changes of a page": reader.CHANGES
        + " WHERE apply_id IN (SELECT id FROM applies ORDER BY id DESC LIMIT 20)"
        + " ORDER BY apply_id, seq",
        "status: versions": reader.OVERVIEW_VERSIONS,
        "status: aliases and pins": reader.OVERVIEW_ALIASES,
        "status MODEL: versions": reader.OVERVIEW_VERSIONS + " WHERE model = 'cancer'",
    }
    with psycopg.connect(url, autocommit=True) as db:
        for what, sql in queries.items():
            plan = [row[0] for row in db.execute("EXPLAIN ANALYZE " + sql).fetchall()]
            nodes = (line.strip().removeprefix("->").strip() for line in plan)
            scans = sorted({node.split("  (")[0] for node in nodes if " on " in node})
            took = next(line for line in plan if line.startswith("Execution Time"))
            print(f"  EXPLAIN ANALYZE {what}: {took.split(': ')[1]}; {'; '.join(scans)}")


DRIVER_START = """
import resource, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
started = cpu()
import psycopg
imported = cpu()
wall = time.perf_counter()
psycopg.connect(URL, autocommit=True, connect_timeout=10).close()
wall = time.perf_counter() - wall
connected = cpu()
import sqlalchemy
print(imported - started, connected - imported, wall, cpu() - connected)
"""


def time_driver_start(url: str) -> None:
    """What the PostgreSQL figures owe to the driver: CPU of `import psycopg` and of one
    connect, and for comparison `import sqlalchemy`, which status and history never do."""
    runs = []
    for _ in range(9):
        out = subprocess.run(
            [sys.executable, "-c", DRIVER_START.replace("URL", repr(url))],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append([float(part) for part in out.split()])
    psycopg_s, connect_s, connect_wall, sqlalchemy_s = (
        statistics.median(column) for column in zip(*runs, strict=True)
    )
    print(
        f"  of which: import psycopg {psycopg_s:.3f} s CPU, connect {connect_s:.3f} s CPU and "
        f"{connect_wall:.3f} s wall (median of 9); import sqlalchemy would add "
        f"{sqlalchemy_s:.3f} s CPU, and status and history do not import it"
    )


def plan_target(versions: int) -> str:
    """The bar for a no-op plan of this many versions (DESIGN.md: 10,000 in 1 s and 300 MB,
    100,000 in 8 s and 1 GB)."""
    if versions <= 10_000:
        return "target for 10,000: <= 1 s, <= 300 MB"
    if versions <= 100_000:
        return "target for 100,000: <= 8 s, <= 1 GB"
    return "no target at this size"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: also time history/status")
    parser.add_argument(
        "--history-only", action="store_true", help="with --postgres: only history and status"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mvctl-bench-"))
    try:
        if args.postgres and args.history_only:
            time_long_change_log(workdir, args.postgres)
            return
        big = workdir / "big"
        write_project(big, args.models, args.versions)
        started = time.perf_counter()
        populate_state(big)
        print(
            f"populated state: {args.models * args.versions} versions in {time.perf_counter() - started:.1f} s"
        )
        wall, peak, out = time_command(big, "plan", "--detailed-exitcode")
        assert "No changes." in out, out[-500:]
        print(
            f"plan, {args.models} models x {args.versions} versions, no changes: "
            f"{wall:.2f} s wall, {peak:.0f} MB peak RSS ({plan_target(args.models * args.versions)})"
        )
        (big / "steps" / "train.py").write_text("print('train v2')\n")
        wall, peak, out = time_command(
            big, "plan", "--on-conflict", "overwrite", "--json", repeat=1
        )
        changes = json.loads(out)["summary"]
        print(
            f"plan after editing a shared step script ({changes['train_version']} versions to retrain): "
            f"{wall:.2f} s wall, {peak:.0f} MB peak RSS"
        )

        quick = workdir / "quickstart"
        shutil.copytree(REPO / "examples" / "quickstart", quick)
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
        subprocess.run(
            [sys.executable, "-m", "mvctl", "apply", "--auto-approve"],
            cwd=quick,
            env=env,
            check=True,
            capture_output=True,
        )
        wall, peak, _ = time_command(quick, "plan", repeat=9)
        print(f"no-op plan of the quickstart: {wall:.3f} s wall, {peak:.0f} MB (target < 0.2 s)")
        wall, peak, _ = time_command(quick, "apply", "--auto-approve", repeat=9)
        print(f"no-op apply of the quickstart: {wall:.3f} s wall (target < 0.25 s)")
        config = quick / "mvctl.yaml"
        config.write_text(config.read_text().replace('production: "1.0.0"', 'production: "1.1.0"'))
        subprocess.run(
            [sys.executable, "-m", "mvctl", "apply", "--auto-approve"],
            cwd=quick,
            env=env,
            check=True,
            capture_output=True,
        )
        wall, _, _ = time_command(quick, "revert", "--auto-approve", repeat=10)
        print(
            f"revert of the last apply (each run reverts the previous revert): {wall:.3f} s wall "
            "(target < 0.2 s)"
        )
        wall, _, _ = time_command(quick, "--version", repeat=9)
        print(f"mvctl --version: {wall:.3f} s wall")
        wall, _, _ = time_command(quick, "validate", repeat=9)
        print(f"mvctl validate (quickstart): {wall:.3f} s wall (target < 0.15 s)")
        time_library_floor()
        wall, _, _ = time_command(quick, "status", repeat=9)
        print(f"mvctl status (quickstart): {wall:.3f} s wall (target < 0.2 s)")
        wall, _, _ = time_command(quick, "history", repeat=9)
        print(f"mvctl history (quickstart): {wall:.3f} s wall")
        if args.postgres:
            time_long_change_log(workdir, args.postgres)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
