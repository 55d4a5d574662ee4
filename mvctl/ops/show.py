"""mvctl show MODEL@VERSION: one version's full record — params, hashes, artifact, lineage,
and each file or variable it was trained from, recorded digest beside the current one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mvctl.core.lineage import recorded_steps
from mvctl.ops.lookup import unrecorded_version, version_reference
from mvctl.results.show import InputDigest, ShowResult
from mvctl.workspace import Workspace, env_digest


def show(workspace: Workspace, reference: str) -> ShowResult:
    model, label = version_reference(workspace, reference)
    state = workspace.open_state(create=False)
    try:
        detail = state.version_detail(model, label)
        if detail is None:
            raise unrecorded_version(state, workspace.models, model, label)
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
    inputs = _inputs(workspace, detail.spec, list(detail.lineage.get("steps", {})))
    return ShowResult(detail, aliases, tuple(latest.values()), inputs)


def _inputs(
    workspace: Workspace, spec: Mapping[str, Any], run_order: list[str]
) -> tuple[InputDigest, ...]:
    """The files and variables each recorded step read, with their digests then and now;
    steps in the order they ran."""
    steps = recorded_steps(dict(spec)) or {}
    files = workspace.current_digests(
        sorted({path for definition in steps.values() for path in definition["deps"]["files"]})
    )
    found = []
    for name in sorted(
        steps, key=lambda n: (run_order.index(n) if n in run_order else len(run_order), n)
    ):
        definition = steps[name]
        found += [
            InputDigest(name, "file", path, str(digest), files[path])
            for path, digest in sorted(definition["deps"]["files"].items())
        ]
        found += [
            InputDigest(name, "env", variable, str(digest), env_digest(variable))
            for variable, digest in sorted(definition["env"].items())
        ]
    return tuple(found)
