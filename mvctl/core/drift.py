"""Drift the config cannot explain, and the refresh-only plan that accepts it.

Two kinds live here: an alias whose row differs from what mvctl last logged for it (another
tool or a hand edit moved it), and a version an alias needs whose artifact is gone from the
store. Which artifacts to look for is decided here too (``artifacts_to_check``), so the
workspace stats only those few blobs, never the whole store: the plan stays cheap and pure.

`--refresh-only` accepts the recorded state as it is: one ``RefreshAlias`` per alias changed
outside mvctl logs the value it has now, so mvctl's record agrees with the state and the drift
disappears. Nothing is trained, moved or archived, and conflicts do not block it.
"""

from __future__ import annotations

from collections.abc import Collection

from mvctl.core.plan import Drift, Plan, PlanOptions, RefreshAlias
from mvctl.core.recorded import RecordedState
from mvctl.spec.models import Config

REFRESH_ONLY = PlanOptions(refresh_only=True)


def _needed_versions(config: Config, recorded: RecordedState) -> list[tuple[str, str, str]]:
    """(model, label, alias) for each alias now or as declared, in a stable order."""
    needed = {(model, alias.version, name) for (model, name), alias in recorded.aliases.items()}
    needed |= {
        (model, label, alias)
        for model, spec in config.models.items()
        for alias, label in spec.aliases.items()
    }
    return sorted(needed)


def artifacts_to_check(config: Config, recorded: RecordedState) -> set[str]:
    """Digests of the artifacts of versions that aliases point at or are declared to."""
    digests = set()
    for model, label, _ in _needed_versions(config, recorded):
        version = recorded.versions.get((model, label))
        if version is not None and version.artifact_digest:
            digests.add(version.artifact_digest)
    return digests


def missing_artifact_drift(
    config: Config, recorded: RecordedState, missing: Collection[str]
) -> list[Drift]:
    """One drift per version an alias needs whose artifact is missing from the store."""
    if not missing:
        return []
    users: dict[tuple[str, str], list[str]] = {}
    for model, label, alias in _needed_versions(config, recorded):
        version = recorded.versions.get((model, label))
        if version is not None and version.artifact_digest in missing:
            users.setdefault((model, label), []).append(alias)
    drift = []
    for (model, label), aliases in sorted(users.items()):
        digest = recorded.versions[(model, label)].artifact_digest or ""
        drift.append(
            Drift(
                "artifact_missing",
                f"{model}@{label}",
                f"the artifact of {model}@{label} ({digest[:19]}…) is missing from the store; "
                f"{', '.join(aliases)} need it and a promotion to it will fail. Restore the blob "
                "from a backup of the store, or declare a new version with the same spec to "
                "rebuild it (`mvctl state check` lists every missing blob)",
            )
        )
    return drift


def outside_changes(recorded: RecordedState) -> list[tuple[str, str, str | None, str | None]]:
    """(model, alias, logged, current) for every alias whose row differs from the log."""
    changed = []
    for key in sorted(set(recorded.aliases) | set(recorded.logged_aliases)):
        row = recorded.aliases.get(key)
        current = row.version if row is not None else None
        logged = recorded.logged_aliases.get(key)
        if logged != current:
            changed.append((key[0], key[1], logged, current))
    return changed


def refresh_plan(
    config: Config,
    recorded: RecordedState,
    missing: Collection[str] = frozenset(),
    options: PlanOptions = REFRESH_ONLY,
) -> Plan:
    """Accept the recorded state: log each alias changed outside mvctl as it is now."""
    actions = []
    drift = []
    for model, alias, logged, current in outside_changes(recorded):
        actions.append(RefreshAlias(model, alias, logged, current))
        drift.append(
            Drift(
                "alias_changed_outside",
                f"{model}:{alias}",
                f"{alias} points at {current or 'nothing'} but mvctl last set it to "
                f"{logged or 'nothing'}; the refresh records it as it is",
            )
        )
    drift += missing_artifact_drift(config, recorded, missing)
    return Plan(
        project=config.project,
        serial=recorded.serial,
        actions=tuple(actions),
        drift=tuple(drift),
        options=options,
    )
