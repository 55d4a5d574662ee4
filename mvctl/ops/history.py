"""mvctl history: who applied what, when — applies newest first, each with its changes."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.recorded import LoggedChange
from mvctl.state.db import ApplyRecord
from mvctl.workspace import Workspace


@dataclass(frozen=True)
class HistoryEntry:
    apply: ApplyRecord
    changes: tuple[LoggedChange, ...]


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
    finally:
        state.close()
    by_apply: dict[int, list[LoggedChange]] = {}
    for change in changes:
        if model is None or change.change.target.model == model:
            by_apply.setdefault(change.apply_id, []).append(change)
    return tuple(HistoryEntry(a, tuple(by_apply.get(a.id, ()))) for a in applies)
