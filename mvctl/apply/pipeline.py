"""Run one version's steps over their DAG, independent steps at the same time.

A step starts as soon as every upstream step has finished (run or restored from the cache) and
its apply's ``ResourcePool`` has room for it: the pool is shared by every version training in
the apply, so `--parallel N` and the steps' `resources` bound them all together. A step with
`retries:` runs again after a failure, up to that many more times. The threads only wait on step
subprocesses and copy blobs into the store; the state database is written from the
coordinating thread alone, so its writes stay in the order the steps finish. When a step fails
no new step starts, the ones already running finish (their results are valid cache entries),
and the version fails with the first failure. When the apply is interrupted, no new step
starts either, but the running ones are stopped (``apply/processes.py``); the steps that
finished are recorded before the interruption goes on.

Before a step runs, its file deps are kept in the store (``apply/snapshots.py``); its lineage
and cache entry record them, and a cached step's lineage repeats what its run recorded.

Work folders are removed by a background thread while the next steps run: on some file
systems removing a directory costs milliseconds, which would otherwise add up step by step.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from pathlib import Path
from typing import Any

from mvctl.apply.processes import StepsStopped
from mvctl.apply.session import ApplySession
from mvctl.apply.snapshots import DepFiles, DepSnapshots
from mvctl.apply.steps import LOG_NAME, StepResult, StoredInputs
from mvctl.core.hashing import canonical_json
from mvctl.core.recorded import DEP_FILES, StepRun
from mvctl.core.resolve import ResolvedStep, ResolvedVersion
from mvctl.errors import MvctlError, StepFailedError
from mvctl.spec.paths import output_name_problem
from mvctl.spec.quantities import format_duration


def run_steps(
    session: ApplySession, version: ResolvedVersion
) -> tuple[dict[str, Mapping[str, str]], dict[str, Any]]:
    """Run or restore every step; returns (outputs by step, lineage by step, in step order)."""
    return _Scheduler(session, version).run()


class _Scheduler:
    """The state of one version's run: which steps wait, run, or are done."""

    def __init__(self, session: ApplySession, version: ResolvedVersion) -> None:
        self.session = session
        self.version = version
        self.target = f"{version.model}@{version.label}"
        self.slots = session.pool.parallel
        self.waiting = list(version.steps)
        self.must_run: set[str] = set()
        """Ready steps already found missing from the cache, waiting for a free slot."""
        self.running: dict[Future[StepResult], ResolvedStep] = {}
        self.outputs: dict[str, Mapping[str, str]] = {}
        self.lineage: dict[str, Any] = {}
        self.borrowed: dict[Future[None], ResolvedStep] = {}
        """Steps another version of this apply is running, waited for here."""
        self.claimed: set[str] = set()
        """Keys of the shared steps this version runs for the apply, until recorded."""
        self.unrecorded: list[tuple[ResolvedStep, StepResult]] = []
        """Steps that finished and are waiting for their cache entry to be written."""
        self.snapshots = DepSnapshots(session.root, session.store, session.digest_cache)
        self.dep_files: dict[str, DepFiles] = {}
        """The dep files each step that ran kept (written by its thread before it runs)."""
        self.janitor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mvctl-cleanup")

    def run(self) -> tuple[dict[str, Mapping[str, str]], dict[str, Any]]:
        try:
            return self._run()
        finally:
            for key in self.claimed:
                self.session.shared_steps.abandoned(
                    key, StepFailedError(f"{self.target} did not finish the step", {})
                )
            self.janitor.shutdown(wait=True)

    def discard(self, folder: Path) -> None:
        """Remove a work folder in the background."""
        self.janitor.submit(shutil.rmtree, folder, ignore_errors=True)

    def _run(self) -> tuple[dict[str, Mapping[str, str]], dict[str, Any]]:
        first_error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="mvctl-step") as pool:
            try:
                while True:
                    if first_error is None:
                        self._start_ready(pool)
                    if not self.running and not self.borrowed:
                        break
                    watched: list[Future[Any]] = [*self.running, *self.borrowed]
                    done, _ = wait(watched, return_when=FIRST_COMPLETED)
                    finished = []
                    for future in done:
                        if future in self.borrowed:
                            self._borrowed_done(self.borrowed.pop(future), future)
                            continue
                        step = self.running.pop(future)
                        try:
                            finished.append((step, future.result()))
                        except BaseException as error:  # kept until the running steps finish
                            first_error = first_error or error
                    for step, result in finished:
                        self._finished(step, result)
                    self.unrecorded += finished
                    if first_error is None:
                        self._start_ready(pool)  # the next steps run while these are recorded
                    self._record_finished()
            except BaseException:
                # Interrupted (or the state failed): no step starts and the running ones are
                # stopped; those that finished are still cached for the next apply.
                self.session.processes.stop()
                pool.shutdown(wait=True)
                self._record_finished_when_stopped()
                raise
        if first_error is not None:
            raise first_error
        return self.outputs, {step.name: self.lineage[step.name] for step in self.version.steps}

    def _borrowed_done(self, step: ResolvedStep, shared: Future[None]) -> None:
        """Restore a step another version ran; if that one did not finish it, run it here."""
        if shared.exception() is None and self._restore(step):
            return
        self.waiting.insert(0, step)

    def _record_finished(self) -> None:
        while self.unrecorded:
            self._record(*self.unrecorded.pop(0))

    def _record_finished_when_stopped(self) -> None:
        """Record the steps that finished but were not recorded yet; a failure here must not
        hide the error that stopped the run."""
        for future, step in self.running.items():
            if future.exception() is None:
                self.unrecorded.append((step, future.result()))
        with suppress(MvctlError):
            self._record_finished()

    def _start_ready(self, pool: ThreadPoolExecutor) -> None:
        """Restore cached steps and start runnable ones until nothing more is ready or the
        slots are full; a restored step may make its downstream steps ready at once."""
        progressed = True
        while progressed:
            progressed = False
            for step in list(self.waiting):
                if not all(name in self.outputs for name in step.upstream):
                    continue
                if step.name not in self.must_run and self._restore(step):
                    self.waiting.remove(step)
                    progressed = True
                    continue
                if step.name not in self.must_run:
                    shared, owner = self.session.shared_steps.claim(step.key, self.target)
                    if owner is not None:
                        self.waiting.remove(step)
                        self.borrowed[shared] = step
                        continue
                    self.claimed.add(step.key)
                self.must_run.add(step.name)
                if len(self.running) < self.slots:
                    self.waiting.remove(step)
                    inputs = {name: self.outputs[name] for name in step.upstream}
                    future = pool.submit(_run_one, self, step, inputs)
                    self.running[future] = step

    def _restore(self, step: ResolvedStep) -> bool:
        """Use an earlier run with the same key whose outputs are all in the store."""
        cached = self.session.state.step_run(step.key)
        if cached is None or not all(self.session.store.has(d) for d in cached.outputs.values()):
            return False
        self.session.events.step_started(self.target, step.name, "cached")
        self.session.events.step_finished(self.target, step.name, "cached", 0.0)
        self.outputs[step.name] = cached.outputs
        self.lineage[step.name] = {
            "key": step.key,
            "outputs": dict(cached.outputs),
            "cached": True,
            "log": cached.log_digest,
        }
        inputs = json.loads(cached.inputs_json)
        recorded_files = inputs.get(DEP_FILES) if isinstance(inputs, dict) else None
        if recorded_files is not None:
            self.lineage[step.name][DEP_FILES] = recorded_files
        return True

    def _finished(self, step: ResolvedStep, result: StepResult) -> None:
        self.outputs[step.name] = result.outputs
        self.lineage[step.name] = {
            "key": step.key,
            "outputs": dict(result.outputs),
            "cached": False,
            "log": result.log_digest,
            "duration_s": round(result.duration_s, 3),
            DEP_FILES: self.dep_files[step.name],
        }

    def _record(self, step: ResolvedStep, result: StepResult) -> None:
        """The step cache entry: its outputs are in the store, so a later apply restores them."""
        self.session.state.record_step_run(
            StepRun(
                step.key,
                self.version.model,
                step.name,
                result.outputs,
                canonical_json({**step.definition, DEP_FILES: self.dep_files[step.name]}),
                result.log_digest,
                result.duration_s,
                self.session.apply_id,
            )
        )
        if step.key in self.claimed:
            self.claimed.discard(step.key)
            self.session.shared_steps.recorded(step.key)


def _run_one(
    scheduler: _Scheduler, step: ResolvedStep, inputs: Mapping[str, Mapping[str, str]]
) -> StepResult:
    """Fetch the upstream outputs, run the step; raises StepFailedError when it fails."""
    session, version, target = scheduler.session, scheduler.version, scheduler.target
    work_dir = session.work_root / step.key[:20]
    in_dir = work_dir.with_name(f"{step.key[:20]}-in")
    folders = {}
    for upstream, files in inputs.items():
        folder = in_dir / upstream
        for name, digest in files.items():
            path = _restore_path(folder, upstream, name)
            if session.step_inputs_here:
                session.store.get_file(digest, path)
        folders[upstream] = folder
    taken = scheduler.dep_files[step.name] = scheduler.snapshots.take(step)
    stored = StoredInputs(
        upstream=inputs,
        files={
            path: d for dep in taken.values() if dep["kept"] for path, d in dep["files"].items()
        },
        not_kept=tuple(dep for dep, files in taken.items() if not files["kept"]),
    )
    attempts = step.execution.retries + 1
    earlier_log = b""
    for attempt in range(1, attempts + 1):
        with session.pool.hold(step.execution) as grant:
            session.events.step_started(target, step.name, "run")
            result = session.step_runner(
                step,
                root=session.root,
                work_dir=work_dir,
                inputs=folders,
                store=session.store,
                labels={"model": version.model, "version": version.label},
                on_progress=lambda fraction, fields: session.events.step_progress(
                    target, step.name, fraction, fields
                ),
                processes=session.processes,
                grant=grant,
                earlier_log=earlier_log,
                stored=stored,
            )
        if not result.succeeded and session.processes.stopping:
            raise StepsStopped(f"step {step.name} of {target} was stopped with its apply")
        if result.succeeded or attempt == attempts:
            break
        session.events.step_finished(target, step.name, "retry", result.duration_s)
        earlier_log = (work_dir / LOG_NAME).read_bytes() + (
            f"--- mvctl: {_why_failed(step, result)}; run {attempt + 1} of {attempts} ---\n"
        ).encode()
    scheduler.discard(in_dir)
    changed = scheduler.snapshots.changed_while_running(step, taken) if result.succeeded else None
    if result.succeeded and changed is None:
        scheduler.discard(work_dir)
    session.events.step_finished(
        target,
        step.name,
        "ok" if result.succeeded and changed is None else "failed",
        result.duration_s,
    )
    if changed is not None:
        raise changed
    if not result.succeeded:
        tried = f" (tried {attempts} times)" if attempts > 1 else ""
        raise StepFailedError(
            f"{_why_failed(step, result)}{tried}",
            {
                "step": step.name,
                "exit_code": result.exit_code,
                "timed_out": result.timed_out,
                "attempts": attempts,
                "log": result.log_digest,
                "log_tail": result.log_tail,
                "missing_outputs": list(result.missing_outputs),
            },
        )
    return result


def _why_failed(step: ResolvedStep, result: StepResult) -> str:
    timeout_s = step.execution.timeout_s
    if result.timed_out and timeout_s is not None:
        return f"step {step.name} timed out after {format_duration(timeout_s)}"
    if result.exit_code:
        return f"step {step.name} exited with code {result.exit_code}"
    return (
        f"step {step.name} did not write its declared outputs {', '.join(result.missing_outputs)}"
    )


def _restore_path(folder: Path, step: str, name: str) -> Path:
    """Where an output restored from the store goes: inside ``folder``, whatever the name.

    The names come from the state, which the config's checks do not cover; a row naming
    ``../../x`` (a tampered or foreign database) must not make a restore write elsewhere.
    """
    problem = output_name_problem(name)
    if problem is not None:
        raise StepFailedError(
            f"the state records an output of step {step} named '{name}', which {problem}",
            {"step": step, "reason": "hostile output name", "output": name},
        )
    return folder / name
