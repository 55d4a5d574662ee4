"""The change arithmetic of revert: which pointers and statuses go back, and what gets pinned.

Revert reads the change log: undoing apply N restores each target N touched to its value
before N; `--to N` restores every target touched after N to its value right after N. Only
aliases, pins, version records and the policy move; nothing is retrained or deleted. A
version whose status alone changed gets its status back; one that was retrained under its
label (an overwrite, or a failed version trained again) gets its whole earlier record back —
spec hash, artifact, params, lineage — since the old artifact is still in the store. Aliases
restored to a version the config does not ask for are pinned, so the next plan does not
silently undo the revert. A restored policy is not pinned: while the config still declares
the newer one, the next plan proposes it again, for an admin to apply. ``served_changes``
lists each alias whose served artifact the revert changes, so its artifact can be verified
before anything moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mvctl.core.recorded import RESULT_KINDS, LoggedChange, RecordedState, Target
from mvctl.core.records import (
    JSON,
    AliasRecord,
    PinRecord,
    PolicyRecord,
    RecordValue,
    VersionRecord,
    VersionStatus,
)
from mvctl.errors import RevertError


@dataclass(frozen=True, slots=True)
class VersionIdentity:
    """A version by what revert compares: its status, and what it was trained from and into."""

    status: str
    spec_hash: str
    artifact_digest: str | None

    def to_json(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "spec_hash": self.spec_hash,
            "artifact_digest": self.artifact_digest,
        }


@dataclass(frozen=True, slots=True)
class StatusOnly:
    """A version getting its earlier status back, the rest of its record as it is now."""

    status: VersionStatus

    def to_json(self) -> dict[str, JSON]:
        return {"status": self.status}


@dataclass(frozen=True, slots=True)
class Restoration:
    """One alias, pin or the policy going back: its value now and the value it returns to
    (None: absent)."""

    target: Target
    current: RecordValue | None
    restored: RecordValue | None


@dataclass(frozen=True, slots=True)
class VersionRestoration:
    """A version going back: its status alone, or its whole earlier record when it was
    retrained since."""

    target: Target
    current: VersionIdentity | None
    restored: VersionRecord | StatusOnly


@dataclass(frozen=True)
class RevertOutline:
    description: str
    restorations: tuple[Restoration | VersionRestoration, ...]
    pins: tuple[tuple[str, str, str], ...]
    """(model, alias, version) pinned by this revert."""

    @property
    def is_empty(self) -> bool:
        return not self.restorations and not self.pins


def current_value(recorded: RecordedState, target: Target) -> RecordValue | None:
    """An alias's, a pin's or the policy's value now (None: absent)."""
    key = (target.model, target.name)
    if target.kind == "alias":
        alias = recorded.aliases.get(key)
        return AliasRecord(alias.version) if alias else None
    if target.kind == "pin":
        pin = recorded.pins.get(key)
        return PinRecord(pin.version, pin.revert_apply_id) if pin else None
    if target.kind == "policy":
        policy = recorded.policy
        return PolicyRecord.from_json(dict(policy.value)) if policy is not None else None
    return None


def current_identity(recorded: RecordedState, target: Target) -> VersionIdentity | None:
    """A version's identity now (None: not recorded)."""
    version = recorded.versions.get((target.model, target.name))
    if version is None:
        return None
    return VersionIdentity(version.status, version.spec_hash, version.artifact_digest)


def _version_restoration(
    target: Target, current: VersionIdentity | None, before: VersionRecord
) -> VersionRestoration | None:
    """Where a version goes back to: its whole earlier record when it was retrained since,
    its status alone otherwise; None when it is that already."""
    if current is not None and (
        before.spec_hash != current.spec_hash or before.artifact_digest != current.artifact_digest
    ):
        return VersionRestoration(target, current, before)
    if current is not None and before.status == current.status:
        return None
    return VersionRestoration(target, current, StatusOnly(before.status))


@dataclass(frozen=True, slots=True)
class Served:
    """What an alias serves once a revert is done: the version and its artifact."""

    model: str
    alias: str
    version: str
    artifact_digest: str | None
    record: VersionRecord | None
    """The version's earlier record, when the revert restores it whole (None: as it is)."""


def served_changes(outline: RevertOutline, recorded: RecordedState) -> tuple[Served, ...]:
    """Each alias that serves another version or another artifact once the revert is done:
    moved back to another version, or left on a version whose earlier record comes back."""
    aliases: dict[tuple[str, str], str | None] = {
        key: alias.version for key, alias in recorded.aliases.items()
    }
    records: dict[tuple[str, str], VersionRecord] = {}
    for restoration in outline.restorations:
        key = (restoration.target.model, restoration.target.name)
        restored = restoration.restored
        if restoration.target.kind == "alias":
            aliases[key] = restored.version if isinstance(restored, AliasRecord) else None
        elif isinstance(restored, VersionRecord):
            records[key] = restored
    served = []
    for (model, alias), version in sorted(aliases.items(), key=lambda item: item[0]):
        if version is None:
            continue
        now = recorded.aliases.get((model, alias))
        row = recorded.versions.get((model, version))
        artifact_now = row.artifact_digest if row is not None else None
        record = records.get((model, version))
        artifact = record.artifact_digest if record is not None else artifact_now
        moved = now is None or now.version != version
        if moved or artifact != artifact_now:
            served.append(Served(model, alias, version, artifact, record))
    return tuple(served)


def outline_undo(
    log: Sequence[LoggedChange],
    recorded: RecordedState,
    apply_id: int,
    declared_aliases: Mapping[tuple[str, str], str],
) -> RevertOutline:
    """Undo one apply. Refused when a later apply changed the same targets again."""
    log = _revertible(log)
    mine = [entry for entry in log if entry.apply_id == apply_id]
    if not mine:
        raise RevertError(f"apply {apply_id} recorded no changes, so there is nothing to revert")
    later = {entry.change.target: entry.apply_id for entry in log if entry.apply_id > apply_id}
    clashes = sorted(
        f"{target} (changed again by apply {later[target]})"
        for target in {e.change.target for e in mine}
        if target in later
    )
    if clashes:
        raise RevertError(
            f"apply {apply_id} cannot be undone alone: {'; '.join(clashes)}",
            fix=f"Revert the later applies first, or restore the state after an earlier apply "
            f"with `mvctl revert --to {apply_id - 1}`.",
        )
    return _outline(mine, recorded, declared_aliases, f"undo apply {apply_id}")


def outline_to(
    log: Sequence[LoggedChange],
    recorded: RecordedState,
    apply_id: int,
    declared_aliases: Mapping[tuple[str, str], str],
) -> RevertOutline:
    """Restore every target to its value just after ``apply_id``."""
    after = [entry for entry in _revertible(log) if entry.apply_id > apply_id]
    return _outline(after, recorded, declared_aliases, f"restore the state after apply {apply_id}")


def _revertible(log: Sequence[LoggedChange]) -> list[LoggedChange]:
    """The log without results (evaluations, gate decisions): facts that revert leaves be."""
    return [entry for entry in log if entry.change.target.kind not in RESULT_KINDS]


def _outline(
    entries: Sequence[LoggedChange],
    recorded: RecordedState,
    declared_aliases: Mapping[tuple[str, str], str],
    description: str,
) -> RevertOutline:
    first_before: dict[Target, RecordValue | None] = {}
    for entry in entries:
        first_before.setdefault(entry.change.target, entry.change.before)
    restorations: list[Restoration | VersionRestoration] = []
    for target, before in first_before.items():
        if target.kind == "model":
            continue
        if target.kind == "version":
            if isinstance(before, VersionRecord):
                restoration = _version_restoration(
                    target, current_identity(recorded, target), before
                )
                if restoration is not None:
                    restorations.append(restoration)
            continue
        current = current_value(recorded, target)
        if current != before:
            restorations.append(Restoration(target, current, before))
    pinned_targets = {r.target for r in restorations if r.target.kind == "pin"}
    pins = tuple(
        (r.target.model, r.target.name, r.restored.version)
        for r in restorations
        if isinstance(r.restored, AliasRecord)
        and declared_aliases.get((r.target.model, r.target.name)) != r.restored.version
        and Target("pin", r.target.model, r.target.name) not in pinned_targets
    )
    return RevertOutline(description, tuple(restorations), pins)
