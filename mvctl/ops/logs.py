"""mvctl logs MODEL@VERSION [STEP] [--follow]: a version's step logs, from the store or live.

A recorded version names each step's log blob in its lineage (a cached step names the log of
the run that produced its outputs); a failed version's record names the failing step's log,
and the steps that finished before it are found by their cache keys. ``--follow`` resolves the
version from the config instead, so it can watch a version that is being trained right now: a
running step's log is tailed from its work folder (``.mvctl/work/apply-N/<key prefix>/log.txt``)
until the step ends, and a finished one is read from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mvctl.apply.steps import EXIT_CODE_NAME, LOG_NAME
from mvctl.core.dag import topological_order
from mvctl.core.hashing import step_cache_key
from mvctl.core.resolve import resolve_version
from mvctl.errors import NotFoundError
from mvctl.ops.lookup import unknown_declared, unrecorded_version, version_reference
from mvctl.results.logs import LogChunk, LogsResult, StepLog
from mvctl.results.records import VersionDetail
from mvctl.state import StateReader
from mvctl.store.blobs import BlobStore
from mvctl.workspace import Workspace

POLL_S = 0.25
READ_SIZE = 64 * 1024


def logs(
    workspace: Workspace, reference: str, step: str | None, *, read_text: bool = True
) -> LogsResult:
    """A recorded version's step logs (``step``: only that one), with their text read from the
    store unless ``read_text`` is False (`--json` gives where they are, not what they say)."""
    model, label = version_reference(workspace, reference)
    entries = recorded_logs(workspace, reference, step)
    if read_text and any(entry.digest for entry in entries):
        store = workspace.open_store()
        entries = tuple(
            replace(entry, text=read_log(store, entry.digest)) if entry.digest else entry
            for entry in entries
        )
    return LogsResult(reference, model, label, entries, only_step=step is not None)


def recorded_logs(workspace: Workspace, reference: str, step: str | None) -> tuple[StepLog, ...]:
    """Where each step's log of a recorded version is (``step``: only that one)."""
    model, label = version_reference(workspace, reference)
    with workspace.open_state(create=False) as state:
        detail = state.version_detail(model, label)
        if detail is None:
            unknown = unrecorded_version(state, workspace.models, model, label)
            raise NotFoundError(
                unknown.what,
                fix=f"{unknown.fix} To watch a version being trained now, add --follow.",
            )
        logs = _step_logs(state, detail, _declared_order(workspace, model, label))
    return _select(logs, step, reference)


def read_log(store: BlobStore, digest: str) -> str:
    return store.get_bytes(digest).decode("utf-8", errors="replace")


def _step_logs(state: StateReader, detail: VersionDetail, declared: Sequence[str]) -> list[StepLog]:
    definitions: Mapping[str, Mapping[str, Any]] = detail.spec.get("steps", {})
    if not definitions:
        raise NotFoundError(
            f"{detail.model}@{detail.label} was registered from an artifact file, so it has no step logs",
            fix=f"See `mvctl show {detail.model}@{detail.label}` for its record.",
        )
    lineage: Mapping[str, Any] = detail.lineage.get("steps", {})
    failure = detail.failure or {}
    logs = []
    for name in _order(definitions, declared):
        if name in lineage:
            info = lineage[name]
            how = (
                "cached: the log of the run that made its outputs" if info.get("cached") else "ran"
            )
            logs.append(StepLog(name, how, info.get("log")))
        elif failure.get("step") == name:
            logs.append(StepLog(name, "failed", failure.get("log")))
        else:
            run = state.step_run(step_cache_key(dict(definitions[name])))
            logs.append(
                StepLog(name, "ran" if run else "did not run", run.log_digest if run else None)
            )
    return logs


def _order(definitions: Mapping[str, Mapping[str, Any]], declared: Sequence[str]) -> list[str]:
    """Steps in dependency order; ties as the config declares them, else by name."""
    rank = {name: index for index, name in enumerate(declared)}
    names = sorted(definitions, key=lambda n: (rank.get(n, len(rank)), n))
    upstream = {n: list(definitions[n].get("deps", {}).get("steps", {})) for n in names}
    return topological_order(names, upstream)


def _declared_order(workspace: Workspace, model: str, label: str) -> list[str]:
    spec = workspace.config.models.get(model)
    if spec is None:
        return []
    version = spec.versions.get(label)
    steps = version.steps(spec) if version is not None else spec.pipeline
    return [step.name for step in steps]


def _select(logs: Sequence[StepLog], step: str | None, reference: str) -> tuple[StepLog, ...]:
    if step is None:
        return tuple(logs)
    chosen = tuple(entry for entry in logs if entry.step == step)
    if not chosen:
        names = ", ".join(entry.step for entry in logs)
        raise NotFoundError(f"{reference} has no step '{step}'", fix=f"Its steps are: {names}.")
    return chosen


def follow_logs(
    workspace: Workspace,
    reference: str,
    step: str | None,
    *,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogChunk]:
    """Each step's log in order as it is written, until the step ends (or no apply runs)."""
    model, label = version_reference(workspace, reference)
    spec = workspace.config.models.get(model)
    if spec is None or label not in spec.versions:
        unknown = unknown_declared(workspace.config, model, label)
        raise NotFoundError(
            f"{unknown.what}, so it cannot be training now",
            fix=f"{unknown.fix} Without --follow, `mvctl logs {reference}` prints recorded logs.",
        )
    digests, env_digests, _ = workspace.digests()
    version = resolve_version(model, spec, label, spec.versions[label], digests, env_digests)
    if not version.steps:
        raise NotFoundError(
            f"{reference} is registered from an artifact file, so it has no step logs"
        )
    names = [s.name for s in version.steps]
    if step is not None and step not in names:
        raise NotFoundError(
            f"{reference} has no step '{step}'", fix=f"Its steps are: {', '.join(names)}."
        )
    watcher = _Watcher(workspace, poll_s, sleep)
    for resolved in version.steps:
        if step is None or resolved.name == step:
            yield LogChunk("header", resolved.name, "")
            yield from watcher.step(reference, resolved.name, resolved.key)


class _Watcher:
    """Polls the state and the work folders; the state is reopened each time, as an apply may
    create it while we watch."""

    def __init__(self, workspace: Workspace, poll_s: float, sleep: Callable[[float], None]) -> None:
        self.workspace = workspace
        self.poll_s = poll_s
        self.sleep = sleep
        self._store: BlobStore | None = None

    def store(self) -> BlobStore:
        if self._store is None:
            self._store = self.workspace.open_store()
        return self._store

    def step(self, reference: str, name: str, key: str) -> Iterator[LogChunk]:
        while True:
            with self.workspace.open_state(create=False) as state:
                run = state.step_run(key)
                holder = state.lock_holder()
            if run is not None and run.log_digest:
                yield LogChunk("text", name, read_log(self.store(), run.log_digest))
                return
            live = self._live_log(key)
            if live is not None and (yield from self._tail(name, live)):
                return
            if holder is None or holder.operation != "apply":
                yield from self._recorded(reference, name)
                return
            self.sleep(self.poll_s)

    def _live_log(self, key: str) -> Path | None:
        """The log of a running step: in the newest apply's folder, without an exit code yet."""
        found = []
        for path in (self.workspace.private_dir / "work").glob(f"apply-*/{key[:20]}/{LOG_NAME}"):
            number = path.parent.parent.name.removeprefix("apply-")
            if number.isdigit() and not (path.parent / EXIT_CODE_NAME).exists():
                found.append((int(number), path))
        return max(found)[1] if found else None

    def _tail(self, name: str, path: Path) -> Generator[LogChunk, None, bool]:
        """Yield the log until the step ends; False if it was gone before it could be opened
        (it ended and was cleaned up meanwhile: its log is in the store by the next look)."""
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return False
        with handle:
            while True:
                data = handle.read(READ_SIZE)
                if data:
                    yield LogChunk("text", name, data.decode("utf-8", errors="replace"))
                    continue
                if self._ended(path):
                    rest = handle.read()
                    if rest:
                        yield LogChunk("text", name, rest.decode("utf-8", errors="replace"))
                    return True
                self.sleep(self.poll_s)

    def _ended(self, path: Path) -> bool:
        if not path.exists() or (path.parent / EXIT_CODE_NAME).exists():
            return True
        with self.workspace.open_state(create=False) as state:
            holder = state.lock_holder()
        return holder is None or holder.operation != "apply"

    def _recorded(self, reference: str, name: str) -> Iterator[LogChunk]:
        """No apply is running: what the state recorded for this step, if anything."""
        try:
            (entry,) = recorded_logs(self.workspace, reference, name)
        except NotFoundError:
            yield LogChunk("note", name, "did not run, and no apply is running")
            return
        if entry.digest is None:
            yield LogChunk("note", name, entry.how)
            return
        yield LogChunk("text", name, read_log(self.store(), entry.digest))
