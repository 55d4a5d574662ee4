"""mvctl history: who applied what, when — applies newest first, each with its changes, a page
at a time: a page reads its own applies and their changes, never the whole log."""

from __future__ import annotations

from mvctl.core.recorded import LoggedChange
from mvctl.ops.lookup import unrecorded_model
from mvctl.project import Project
from mvctl.results.history import HistoryEntry, HistoryPage


def history(
    project: Project,
    *,
    model: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    before: int | None = None,
) -> HistoryPage:
    """At most ``limit`` applies (None: all) older than apply ``before`` (None: the newest)."""
    state = project.open_state(create=False)
    try:
        applies = state.applies(model=model, since=since, limit=limit, before=before)
        # A full page: whether an older one follows is one more row to look for.
        more = (
            limit is not None
            and len(applies) == limit
            and bool(state.applies(model=model, since=since, limit=1, before=applies[-1].id))
        )
        changes = state.changes(apply_ids=[a.id for a in applies]) if applies else []
        unknown = (
            unrecorded_model(state, project.models, model)
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
    entries = tuple(HistoryEntry(a, tuple(by_apply.get(a.id, ()))) for a in applies)
    return HistoryPage(entries, applies[-1].id if more else None)
