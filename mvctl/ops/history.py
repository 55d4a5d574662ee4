"""mvctl history: who applied what, when — applies newest first, each with its changes."""

from __future__ import annotations

from mvctl.core.recorded import LoggedChange
from mvctl.ops.lookup import unrecorded_model
from mvctl.results.history import HistoryEntry
from mvctl.workspace import Workspace


def history(
    workspace: Workspace,
    *,
    model: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> tuple[HistoryEntry, ...]:
    state = workspace.open_state(create=False)
    try:
        applies = state.applies(model=model, since=since, limit=limit)
        changes = state.changes(apply_ids=[a.id for a in applies]) if applies else []
        unknown = (
            unrecorded_model(state, workspace.config, model)
            if model is not None and not applies
            else None
        )
    finally:
        state.close()
    if unknown is not None:
        raise unknown
    by_apply: dict[int, list[LoggedChange]] = {}
    for change in changes:
        if model is None or change.change.target.model == model:
            by_apply.setdefault(change.apply_id, []).append(change)
    return tuple(HistoryEntry(a, tuple(by_apply.get(a.id, ()))) for a in applies)
