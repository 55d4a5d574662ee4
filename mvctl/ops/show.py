"""mvctl show MODEL@VERSION: one version's full record — params, hashes, artifact, lineage."""

from __future__ import annotations

from mvctl.ops.lookup import unrecorded_version, version_reference
from mvctl.results.show import ShowResult
from mvctl.workspace import Workspace


def show(workspace: Workspace, reference: str) -> ShowResult:
    model, label = version_reference(workspace, reference)
    state = workspace.open_state(create=False)
    try:
        detail = state.version_detail(model, label)
        if detail is None:
            raise unrecorded_version(state, workspace.config, model, label)
        recorded = state.snapshot()
        results = state.evaluations_of(model)
    finally:
        state.close()
    aliases = tuple(
        sorted(
            alias for (m, alias), a in recorded.aliases.items() if m == model and a.version == label
        )
    )
    latest = {r.dataset: r for r in results if r.label == label and r.spec_hash == detail.spec_hash}
    return ShowResult(detail, aliases, tuple(latest.values()))
