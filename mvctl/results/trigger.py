"""What `mvctl trigger` did: each trigger fired or not (and why), the config edits, the apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mvctl.core.recorded import TriggerKind
from mvctl.results.apply import ApplyResult


@dataclass(frozen=True)
class TriggerOutcome:
    model: str
    trigger: str
    kind: TriggerKind
    fired: bool
    reason: str
    """Why it fired (the period, the files that changed), or why not."""
    label: str | None = None
    """The version it wrote (None: it did not fire)."""
    source: str | None = None
    """The version whose block the new one copies."""
    promote: str | None = None
    file: str | None = None
    """The file it wrote (or, under --dry-run, would write)."""
    period: str | None = None
    digests: Mapping[str, str] = field(default_factory=dict)
    samples: tuple[int, ...] = ()


@dataclass(frozen=True)
class FileEdit:
    """One config file's change, as `git diff` shows it."""

    file: str
    diff: str


@dataclass(frozen=True)
class TriggerResult:
    now: str
    dry_run: bool
    outcomes: tuple[TriggerOutcome, ...]
    edits: tuple[FileEdit, ...]
    """The edits written (with --dry-run: that would be written)."""
    applied: ApplyResult | None = None
    """With --apply, once something fired: the apply that followed."""

    @property
    def fired(self) -> tuple[TriggerOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.fired)
