"""What the handlers of one apply share: the session, the outcome of each action, the events.

The applier runs the handlers (``applier``); training, evaluating, gating and promoting each
live in their own module and all take an ``ApplySession`` and return an ``ActionOutcome``.
These types live here, apart from every handler, so each module imports them at its top.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mvctl.apply.processes import ProcessGroups
from mvctl.apply.resources import Machine, ResourcePool
from mvctl.apply.steps import StepRunner, run_step
from mvctl.core.evaluation import ResolvedEvaluation
from mvctl.core.plan import Action, GateCheck, TrainVersion
from mvctl.core.recorded import Change
from mvctl.core.records import VersionRecord
from mvctl.core.resolve import ResolvedVersion
from mvctl.errors import StepFailedError
from mvctl.results.apply import ActionOutcome
from mvctl.state import StateWriter
from mvctl.store.blobs import BlobStore
from mvctl.store.digests import DigestCache


class ApplyEvents(Protocol):
    """What apply tells the person watching; the CLI renders it, tests record it.

    The events come from the threads that run independent versions and steps at once, so an
    implementation must be safe to call from several threads.
    """

    def step_started(self, target: str, step: str, status: str) -> None: ...
    def step_progress(
        self, target: str, step: str, fraction: float, fields: dict[str, Any]
    ) -> None: ...
    def step_finished(self, target: str, step: str, status: str, seconds: float) -> None: ...
    def action_finished(self, outcome: ActionOutcome) -> None: ...


@dataclass(frozen=True)
class Promotion:
    """One change of what aliases serve, and the change that puts the old back."""

    model: str
    label: str
    """The version the aliases serve once it is done."""
    aliases: tuple[str, ...]
    value: VersionRecord
    """The version record they will serve (its artifact is verified, its numbers gated)."""
    artifact: str
    """The digest of that record's model: what the aliases will serve."""
    gates: tuple[GateCheck, ...]
    changes: tuple[Change, ...]
    undo: tuple[Change, ...]
    kept: str
    """What stays when it is held back, in words ('production stays at 1.0.0')."""
    restored: str | None
    """The version a rollback returns to (None: nothing), for the log."""
    candidate_spec: str | None = None
    """Set for a retrained version not recorded yet: its gates read this apply's results."""


@dataclass
class _SharedRun:
    owner: str
    """The version that runs the step (``model@label``)."""
    done: Future[None]
    """Done once the step's cache entry is written; failed when the owner gave it up."""
    taken: bool
    """The owner has reached the step (until then the others wait on the plan's word)."""


class SharedSteps:
    """A step that several versions of one apply share (the same cache key) runs once, in the
    version the plan names ("trained earlier in this plan by ..."): the others wait for its
    cache entry and restore it. Versions start in plan order, so the named one has started
    when another reaches the step; where it has not (no thread was free for it), or the plan
    did not expect the step to be shared, the first version to reach it runs it: nobody waits
    for a version that is not running. Should the running version end without the step (it
    failed, or the apply stopped), a waiting version runs it itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _SharedRun] = {}
        self._planned: dict[str, str] = {}
        self._started: set[str] = set()
        self._ended: set[str] = set()
        self._stopped = False

    def plan(self, actions: Sequence[Action]) -> None:
        """Each shared step goes to the version whose plan says "run"."""
        with self._lock:
            self._planned = {
                step.cache_key: f"{action.model}@{action.label}"
                for action in actions
                if isinstance(action, TrainVersion)
                for step in action.steps
                if step.status == "run"
            }

    def started(self, target: str) -> None:
        """The version's training was handed a thread: it will reach its steps or end."""
        with self._lock:
            self._started.add(target)

    def claim(self, key: str, target: str) -> tuple[Future[None], str | None]:
        """The future done once the step's cache entry is written, and the version running
        it; None when the caller runs it (then ``recorded`` or ``abandoned`` must follow)."""
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                owner = self._planned.get(key, target)
                if owner not in self._started or owner in self._ended or self._stopped:
                    owner = target
                run = self._runs[key] = _SharedRun(owner, Future(), taken=False)
            if run.owner != target:
                return run.done, run.owner
            run.taken = True
            return run.done, None

    def recorded(self, key: str) -> None:
        with self._lock:
            future = self._runs[key].done
        if not future.done():
            future.set_result(None)

    def abandoned(self, key: str, why: BaseException) -> None:
        """The claimed step did not run to its cache entry; a waiting version runs it itself."""
        with self._lock:
            run = self._runs.pop(key)
        _give_up([run], why)

    def ended(self, target: str) -> None:
        """A version's training is over: the steps it never reached go to those waiting."""
        with self._lock:
            self._ended.add(target)
            left = self._untaken(lambda run: run.owner == target)
        _give_up(left, StepFailedError(f"{target} did not reach the step", {}))

    def stop(self) -> None:
        """The apply is stopping: none waits for a version that may not reach its steps."""
        with self._lock:
            self._stopped = True
            left = self._untaken(lambda run: True)
        _give_up(left, StepFailedError("the apply stopped before the step ran", {}))

    def _untaken(self, which: Callable[[_SharedRun], bool]) -> list[_SharedRun]:
        """Take out the runs no version has reached yet among ``which``; call holding the
        lock, so that none is reached meanwhile (a later claim starts a run of its own)."""
        keys = [key for key, run in self._runs.items() if not run.taken and which(run)]
        return [self._runs.pop(key) for key in keys]


def _give_up(runs: Sequence[_SharedRun], why: BaseException) -> None:
    for run in runs:
        if not run.done.done():
            run.done.set_exception(why)


@dataclass
class ApplySession:
    """Everything the handlers share during one apply."""

    root: Path
    store: BlobStore
    state: StateWriter
    apply_id: int
    actor: str
    resolved: Mapping[tuple[str, str], ResolvedVersion]
    trusted_types: Mapping[str, tuple[str, ...]]
    events: ApplyEvents
    clock: Callable[[], str]
    work_root: Path
    unusable: dict[tuple[str, str], str] = field(default_factory=dict)
    """Versions that failed in this apply -> why; aliases needing them stay put."""
    pool: ResourcePool = field(default_factory=lambda: ResourcePool(Machine.this(), 1))
    """The cores, memory, GPUs and `--parallel N` slots every step of this apply shares."""
    evaluations: Mapping[str, ResolvedEvaluation] = field(default_factory=dict)
    """Each model's resolved evaluation (scoring settings, datasets per version), by name."""
    health_checks: Mapping[str, str] = field(default_factory=dict)
    """Each model's `health_check:` command, run after every promotion of one of its aliases."""
    health_timeouts: Mapping[str, float] = field(default_factory=dict)
    """Seconds each model's health check may take (`health_check_timeout`)."""
    torch_modules: Mapping[str, str | None] = field(default_factory=dict)
    """Each model's torch `with.module`: the only module its safetensors files may import."""
    step_runner: StepRunner = run_step
    """How a step's process runs: here (``steps.run_step``) or as a Ray task (``RaySteps``)."""
    step_inputs_here: bool = True
    """Whether the upstream outputs are copied into this machine's work folder before a step
    runs; not when the step runner fetches them from the store on its worker."""
    held: set[tuple[str, str]] = field(default_factory=set)
    """Versions aliases serve that this apply retrains: recorded only through their gates."""
    candidates: dict[tuple[str, str], VersionRecord] = field(default_factory=dict)
    """The retrained record of each held version, waiting for its ReplaceServedVersion."""
    promoted: dict[Action, Promotion] = field(default_factory=dict)
    """Action -> the promotion it committed, for a later automatic rollback."""
    shared_steps: SharedSteps = field(default_factory=SharedSteps)
    """Steps shared by versions training at once, run by the first that needs them."""
    processes: ProcessGroups = field(default_factory=ProcessGroups)
    """The running steps' process groups, stopped when the apply is interrupted or dies."""
    digest_cache: DigestCache = field(default_factory=lambda: DigestCache(None))
    """The project's file digests, for the dep files each step keeps in the store."""
