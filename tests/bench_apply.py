"""Benchmark: `mvctl apply` of a change to 1 % of a 20,000-version state.

Run by hand (not collected by pytest):
    python tests/bench_apply.py [--models 200] [--versions 100] [--postgres URL]

The project declares MODELS x VERSIONS registered versions (`artifact: models/model.skops`,
one real scikit-learn model saved with skops, so every version's one blob is the same and
passes the same safe-format audit), each model with a production and a staging alias. The
state is recorded through the state's own writer (``StateDB.record``) with the values the
applier records for a registered file, plus the format verdict a promotion leaves; `mvctl
state check` (replaying the change log) has to find it consistent and a no-op `mvctl plan`
nothing to do, which shows the rows are the ones an apply would have written.

Then 1 % of the versions change (half the models move production to another recorded
version; as many register a new version from the same file) and `mvctl apply` runs as a
whole process, from a copy of the state taken before the change each time. Printed: wall and
CPU time (median of ``--repeat``), the no-op plan of the same state (what any apply pays to
plan), and from one run under cProfile the time in the work itself (fetching, hashing,
auditing and storing the model files the change touches) against everything else.

With ``--postgres URL`` (a server URL, e.g. $MVCTL_TEST_POSTGRES_URL) the same runs against a
database there (each run on a fresh copy made with CREATE DATABASE ... TEMPLATE), and then
`status` and `history` are timed over a change log of 100,000 rows with EXPLAIN ANALYZE of
their queries (``bench_plan.time_long_change_log``).
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mvctl.apply.artifacts import check_safe_artifact  # noqa: E402
from mvctl.apply.served import check_key  # noqa: E402
from mvctl.core.policy import declared_policy  # noqa: E402
from mvctl.core.recorded import POLICY_TARGET, Change, Target  # noqa: E402
from mvctl.core.records import (  # noqa: E402
    VERSION_TRAINED,
    AliasRecord,
    ModelRecord,
    PolicyRecord,
    VersionRecord,
)
from mvctl.core.resolve import resolve_model  # noqa: E402
from mvctl.spec.loader import load_config  # noqa: E402
from mvctl.state.db import StateDB  # noqa: E402
from mvctl.store.blobs import LocalStore  # noqa: E402
from mvctl.store.digests import DigestCache  # noqa: E402
from tests.bench_plan import time_long_change_log  # noqa: E402

ARTIFACT = "models/model.skops"
WORK_ITSELF = {
    "check_safe_artifact": "auditing model files (skops, safetensors)",
    "get_file": "fetching blobs from the store",
    "put_file": "storing blobs",
    "hash_file": "hashing files",
    "copyfile": "copying registered files aside",
}
"""Functions (by name, as cProfile reports them) that are the work of the change itself."""


def write_model(path: Path) -> None:
    """A real, tiny trained model, saved as skops does for mvctl's own sklearn trainer."""
    import numpy as np
    import skops.io
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] > 0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(LogisticRegression().fit(features, labels), path)


def write_config(root: Path, models: int, versions: int, *, changed: int) -> None:
    """Every model's versions and aliases; the first ``changed`` models changed: the even ones
    move production back one version, the odd ones register version 2.0.0."""
    lines = ["project: bench-apply", "models:"]
    for m in range(models):
        production = f"1.{versions - 1}.0"
        extra = []
        if m < changed and m % 2 == 0:
            production = f"1.{versions - 3}.0"
        elif m < changed:
            extra = [f'      "2.0.0": {{artifact: {ARTIFACT}}}']
        lines += [f"  model-{m:04d}:", "    owners: [bench]", "    versions:"]
        lines += [f'      "1.{v}.0": {{artifact: {ARTIFACT}}}' for v in range(versions)] + extra
        lines += [
            "    aliases:",
            f'      production: "{production}"',
            f'      staging: "1.{versions - 2}.0"',
        ]
    (root / "mvctl.yaml").write_text("\n".join(lines) + "\n")


def populate_state(root: Path, state_url: str) -> None:
    """Record every declared version as the applier records a registered file, the aliases,
    the policy, and the served blob's format verdict, through ``StateDB.record``."""
    loaded = load_config(root / "mvctl.yaml")
    digests = {ARTIFACT: DigestCache(None).dep_digest(root, ARTIFACT)}
    blob = LocalStore(root / ".mvctl" / "store").put_file(root / ARTIFACT)
    kind = check_safe_artifact(root / ARTIFACT, (), what="the bench model", registered=True)
    state = StateDB.open(state_url, create=True)
    apply_id = state.begin_apply(kind="apply", actor="bench", plan_hash="0" * 64, expected_serial=0)
    changes = [Change(POLICY_TARGET, None, PolicyRecord.from_json(declared_policy(loaded.config)))]
    now = "2026-01-01T00:00:00Z"
    for name, model in loaded.config.models.items():
        changes.append(Change(Target("model", name), None, ModelRecord(False, now)))
        for label, resolved in resolve_model(name, model, digests, {}).items():
            value = VersionRecord(
                status=VERSION_TRAINED,
                spec_hash=resolved.spec_hash,
                metadata_hash=resolved.metadata_hash,
                artifact_digest=blob,
                spec=resolved.record_spec(),
                params=resolved.params(),
                lineage={"artifact": {"source": ARTIFACT}},
                failure=None,
                description=resolved.description,
                tags=dict(resolved.tags),
                created_by="bench",
                created_at=now,
                apply_id=apply_id,
            )
            changes.append(Change(Target("version", name, label), None, value))
        for alias, label in model.aliases.items():
            changes.append(Change(Target("alias", name, alias), None, AliasRecord(label)))
    state.record(apply_id, changes)
    key = check_key(blob, (), registered=True, torch_module=None)
    state.record_artifact_check(key, blob, kind)
    state.finish_apply(apply_id, "succeeded")
    state.close()


def mvctl(root: Path, env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Run `mvctl ARGS` in ``root``: (wall s, CPU s of that process, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=root, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) not in (0, 2):
            raise SystemExit(f"mvctl {' '.join(args)} failed:\n{out.read()}\n{err.read()}")
        return wall, usage.ru_utime + usage.ru_stime, out.read()


class Backend:
    """Where the bench state lives, and how a run gets a fresh copy of the state taken before
    the change."""

    def __init__(self, root: Path, server_url: str | None):
        self.root = root
        self.server_url = server_url
        self.runs = 0

    def state_url(self, name: str = "base") -> str:
        if self.server_url is None:
            return f"sqlite:///{self.root / '.mvctl' / 'state.db'}"
        return self.server_url.rsplit("/", 1)[0] + f"/mvctl_bench_apply_{name}"

    def create(self) -> str:
        if self.server_url is not None:
            self._server("DROP DATABASE IF EXISTS mvctl_bench_apply_base")
            self._server("CREATE DATABASE mvctl_bench_apply_base")
        return self.state_url()

    def save(self) -> None:
        """Keep the state, store and caches as they are before the change."""
        shutil.copytree(self.root / ".mvctl", self.root.parent / "saved")

    def fresh(self) -> str:
        """A copy of the saved state for one run: its URL."""
        shutil.rmtree(self.root / ".mvctl")
        shutil.copytree(self.root.parent / "saved", self.root / ".mvctl")
        if self.server_url is None:
            return self.state_url()
        self.runs += 1
        name = f"run{self.runs}"
        self._server(f"DROP DATABASE IF EXISTS mvctl_bench_apply_{name}")
        self._server(f"CREATE DATABASE mvctl_bench_apply_{name} TEMPLATE mvctl_bench_apply_base")
        return self.state_url(name)

    def drop(self) -> None:
        if self.server_url is None:
            return
        for run in range(self.runs + 1):
            name = f"run{run}" if run else "base"
            self._server(f"DROP DATABASE IF EXISTS mvctl_bench_apply_{name}")

    def _server(self, sql: str) -> None:
        import psycopg

        assert self.server_url is not None
        plain = self.server_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as server:
            server.execute(sql)


PROFILED_APPLY = """
import cProfile, sys, time
import mvctl.apply.applier as applier
from mvctl.cli import run

handler_profiles = []
run_concurrently = applier.run_concurrently

def profiled_run_concurrently(session, actions, run_action):
    def profiled(session, action):
        profile = cProfile.Profile(time.thread_time)
        handler_profiles.append(profile)
        profile.enable()
        try:
            return run_action(session, action)
        finally:
            profile.disable()
    return run_concurrently(session, actions, profiled)

applier.run_concurrently = profiled_run_concurrently
main = cProfile.Profile(time.thread_time)
sys.argv = ["mvctl", *sys.argv[2:]]
try:
    main.runcall(run)
except SystemExit:
    pass
main.dump_stats(PROFILE)
for index, profile in enumerate(handler_profiles):
    profile.dump_stats(f"{PROFILE}.{index}")
"""
"""`mvctl apply` under cProfile, counting each thread's CPU time: the main thread, and each
action's handler in its worker thread (cProfile sees one thread only), each to a file of its
own. Wall-clock timers would count the time a handler waits for a lock as its own."""


def profiled_apply(root: Path, env: dict[str, str], profile: Path) -> None:
    code = PROFILED_APPLY.replace("PROFILE", repr(str(profile)))
    mvctl(root, env, "-c", code, "-", "apply", "--auto-approve")


def work_itself(profile: Path) -> tuple[float, float, list[str]]:
    """(CPU seconds in the work itself, CPU seconds in all, lines saying where) from the
    profiles of an apply: the main thread's, and the handlers' summed."""
    handlers = sorted(profile.parent.glob(profile.name + ".*"))
    stats = pstats.Stats(str(profile), *map(str, handlers))
    spent: dict[str, float] = {}
    for (_, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function in WORK_ITSELF:
            spent[function] = spent.get(function, 0.0) + cumulative
    lines = [f"    {WORK_ITSELF[name]}: {seconds:.2f} s" for name, seconds in spent.items()]
    # put_file hashes what it stores: that hashing is counted once, under storing.
    nested = min(spent.get("hash_file", 0.0), spent.get("put_file", 0.0))
    return sum(spent.values()) - nested, stats.total_tt, lines  # type: ignore[attr-defined]


def print_top(profile: Path, count: int) -> None:
    """The mvctl functions with the most CPU time under them, all threads together."""
    handlers = sorted(profile.parent.glob(profile.name + ".*"))
    report = io.StringIO()
    stats = pstats.Stats(str(profile), *map(str, handlers), stream=report)
    stats.sort_stats("cumulative").print_stats(r"mvctl/(state|apply|ops|core|store)/", count)
    table = report.getvalue().split("ncalls", 1)[-1].splitlines()[1:]
    print("    ncalls  tottime  cumtime  function (CPU s, all threads)")
    for line in table:
        fields = line.split(maxsplit=5)
        if len(fields) == 6:
            ncalls, tottime, _, cumtime, _, where = fields
            print(
                f"    {ncalls:>6} {tottime:>8} {cumtime:>8}  {where.replace(str(REPO) + '/', '')}"
            )


def bench(workdir: Path, models: int, versions: int, repeat: int, server_url: str | None) -> None:
    where = "PostgreSQL" if server_url else "SQLite"
    root = workdir / ("apply-postgres" if server_url else "apply-sqlite") / "project"
    root.mkdir(parents=True)
    write_model(root / ARTIFACT)
    changed_models = min(models, max(2, models * versions // 100))
    write_config(root, models, versions, changed=0)
    backend = Backend(root, server_url)
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": str(REPO),
        "MVCTL_ACTOR": "bench",
        "MVCTL_STATE": backend.create(),
    }
    started = time.perf_counter()
    populate_state(root, env["MVCTL_STATE"])
    print(
        f"[{where}] recorded {models * versions} versions in {time.perf_counter() - started:.1f} s"
    )
    try:
        _, _, out = mvctl(root, env, "-m", "mvctl", "state", "check")
        assert "The state is consistent." in out, out[-2000:]
        walls, cpus = [], []
        for run in range(repeat + 1):  # the first one remembers the registered file's verdict
            wall, cpu, out = mvctl(root, env, "-m", "mvctl", "plan", "--detailed-exitcode")
            assert "No changes." in out, out[-2000:]
            if run:
                walls.append(wall)
                cpus.append(cpu)
        print(
            f"[{where}] no-op plan of {models * versions} versions: "
            f"{statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU"
        )
        backend.save()
        write_config(root, models, versions, changed=changed_models)
        walls, cpus = [], []
        for _ in range(repeat):
            env["MVCTL_STATE"] = backend.fresh()
            wall, cpu, out = mvctl(root, env, "-m", "mvctl", "apply", "--auto-approve")
            assert "failed" not in out.lower(), out[-2000:]
            walls.append(wall)
            cpus.append(cpu)
        print(
            f"[{where}] apply of {changed_models} changes ({changed_models // 2 + changed_models % 2}"
            f" alias moves, {changed_models // 2} registered versions) to {models * versions} "
            f"versions: {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
            f"(median of {repeat})"
        )
        env["MVCTL_STATE"] = backend.fresh()
        profile = workdir / f"apply-{where}.prof"
        profiled_apply(root, env, profile)
        work, total, lines = work_itself(profile)
        print(
            f"[{where}] under cProfile (CPU time of all threads): {total:.2f} s in all, "
            f"{work:.2f} s the work itself, {total - work:.2f} s mvctl's overhead"
        )
        print("\n".join(lines))
        print_top(profile, 30)
        wall, cpu, out = mvctl(root, env, "-m", "mvctl", "plan", "--detailed-exitcode")
        assert "No changes." in out, out[-2000:]
    finally:
        backend.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: also time apply there")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL runs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mvctl-bench-apply-"))
    try:
        if not args.no_sqlite:
            bench(workdir, args.models, args.versions, args.repeat, None)
        if args.postgres:
            bench(workdir, args.models, args.versions, args.repeat, args.postgres)
            time_long_change_log(workdir, args.postgres)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
