"""What the handlers of one apply share: the session, the outcome of each action, the events.

The applier runs the handlers (``applier``); training, evaluating, gating and promoting each
live in their own module and all take an ``ApplySession`` and return an ``ActionOutcome``.
These types live here, apart from every handler, so each module imports them at its top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mvctl.apply.processes import ProcessGroups
from mvctl.core.evaluation import ResolvedEvaluation
from mvctl.core.plan import Action, GateCheck
from mvctl.core.recorded import Change
from mvctl.core.records import VersionRecord
from mvctl.core.resolve import ResolvedVersion
from mvctl.results.apply import ActionOutcome
from mvctl.state import StateWriter
from mvctl.store.blobs import BlobStore
from mvctl.store.digests import DigestCache


class ApplyEvents(Protocol):
    """What apply tells the person watching; the CLI renders it, tests record it.

    The step events come from the threads that run a version's independent steps at once, so
    an implementation must be safe to call from several threads.
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
    parallel: int = 1
    """How many independent steps of a version may run at once (`apply --parallel`)."""
    evaluations: Mapping[str, ResolvedEvaluation] = field(default_factory=dict)
    """Each model's resolved evaluation (scoring settings, datasets per version), by name."""
    health_checks: Mapping[str, str] = field(default_factory=dict)
    """Each model's `health_check:` command, run after every promotion of one of its aliases."""
    torch_modules: Mapping[str, str | None] = field(default_factory=dict)
    """Each model's torch `with.module`: the only module its safetensors files may import."""
    held: set[tuple[str, str]] = field(default_factory=set)
    """Versions aliases serve that this apply retrains: recorded only through their gates."""
    candidates: dict[tuple[str, str], VersionRecord] = field(default_factory=dict)
    """The retrained record of each held version, waiting for its ReplaceServedVersion."""
    promoted: dict[Action, Promotion] = field(default_factory=dict)
    """Action -> the promotion it committed, for a later automatic rollback."""
    processes: ProcessGroups = field(default_factory=ProcessGroups)
    """The running steps' process groups, stopped when the apply is interrupted or dies."""
    digest_cache: DigestCache = field(default_factory=lambda: DigestCache(None))
    """The project's file digests, for the dep files each step keeps in the store."""
