"""mvctl status: the recorded truth now — models, their versions and aliases, pins, the lock.

It reads what it shows and no more (``StateReader.overview``): not the step runs, evaluations
or change log a plan's snapshot carries, and with MODEL only that model's rows.
"""

from __future__ import annotations

from collections.abc import Collection

from mvctl.core.recorded import RecordedOverview
from mvctl.ops.lookup import unrecorded_model
from mvctl.project import Project
from mvctl.results.status import ModelStatus, StatusResult


def status(project: Project, model: str | None = None) -> StatusResult:
    state = project.open_state(create=False)
    try:
        recorded = state.overview(model)
        lock = state.lock_holder()
        unknown = (
            None
            if model is None or model in recorded.models
            else unrecorded_model(state, project.models, model)
        )
        dead = None if lock is None else state.dead_holder_reason(lock)
    finally:
        state.close()
    if unknown is not None:
        raise unknown
    return StatusResult(
        project.name,
        state.display_url,
        recorded.serial,
        _model_statuses(recorded, project.models),
        lock,
        dead,
    )


def _model_statuses(
    recorded: RecordedOverview, declared: Collection[str]
) -> tuple[ModelStatus, ...]:
    """Each recorded model with its versions and aliases, in name order."""
    versions: dict[str, list[tuple[str, str, str]]] = {}
    for model, label, status, created_at in sorted(recorded.versions):
        versions.setdefault(model, []).append((label, status, created_at))
    aliases: dict[str, list[tuple[str, str, str | None]]] = {}
    for model, alias, version, pinned_by in sorted(recorded.aliases, key=lambda a: a[:2]):
        note = f"pinned by revert {pinned_by}" if pinned_by is not None else None
        aliases.setdefault(model, []).append((alias, version, note))
    return tuple(
        ModelStatus(
            name,
            name in declared,
            tuple(versions.get(name, ())),
            tuple(aliases.get(name, ())),
        )
        for name in sorted(recorded.models)
    )
