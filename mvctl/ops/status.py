"""mvctl status: the recorded truth now — models, their versions and aliases, pins, the lock."""

from __future__ import annotations

from mvctl.core.recorded import RecordedState
from mvctl.ops.lookup import unrecorded_model
from mvctl.results.status import ModelStatus, StatusResult
from mvctl.workspace import Workspace


def status(workspace: Workspace, model: str | None = None) -> StatusResult:
    state = workspace.open_state(create=False)
    try:
        recorded = state.snapshot()
        lock = state.lock_holder()
        unknown = None if model is None else unrecorded_model(state, workspace.config, model)
        dead = None if lock is None else state.dead_holder_reason(lock)
    finally:
        state.close()
    if unknown is not None:
        raise unknown
    names = sorted(recorded.models if model is None else {model} & recorded.models)
    return StatusResult(
        workspace.config.project,
        state.display_url,
        recorded.serial,
        tuple(_model_status(recorded, name, name in workspace.config.models) for name in names),
        lock,
        dead,
    )


def _model_status(recorded: RecordedState, name: str, declared: bool) -> ModelStatus:
    versions = tuple(
        (v.label, v.status, v.created_at)
        for (m, _), v in sorted(recorded.versions.items())
        if m == name
    )
    aliases = []
    for (m, alias), recorded_alias in sorted(recorded.aliases.items()):
        if m != name:
            continue
        pin = recorded.pins.get((m, alias))
        note = f"pinned by revert {pin.revert_apply_id}" if pin else None
        aliases.append((alias, recorded_alias.version, note))
    return ModelStatus(name, declared, versions, tuple(aliases))
