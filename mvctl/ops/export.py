"""mvctl export: one recorded version, packed into a bundle another project can import.

The manifest carries everything the version is, as recorded: where it came from (project,
model, label), its spec and params, its lineage, its metrics per dataset digest, the gate
decisions of its promotions, and the sha256 of every file. Every blob is verified as it
leaves the store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import mvctl
from mvctl.apply.artifacts import artifact_format
from mvctl.apply.skops_trust import CONTENT_UNCHECKED, audit_skops
from mvctl.bundles.manifest import FORMAT, FORMAT_VERSION
from mvctl.bundles.writing import write_bundle
from mvctl.core.records import VERSION_TRAINED, GateDecision
from mvctl.core.resolve import torch_module
from mvctl.errors import NotFoundError, UsageError
from mvctl.ops.lookup import unrecorded_version, version_reference
from mvctl.results.bundles import ExportResult
from mvctl.results.records import VersionDetail
from mvctl.state import StateReader
from mvctl.store.blobs import BlobStore
from mvctl.workspace import Workspace


def export_bundle(
    workspace: Workspace,
    reference: str,
    out: Path,
    *,
    with_steps: bool = False,
    sign_key: Path | None = None,
) -> ExportResult:
    """Write the bundle of ``reference`` (MODEL@VERSION or MODEL:ALIAS) to ``out``."""
    model, label = version_reference(workspace, reference)
    with workspace.open_state(create=False) as state:
        detail = exportable_version(state, workspace, model, label)
        store = workspace.open_store()
        folder = Path(tempfile.mkdtemp(prefix="export-", dir=_work_dir(workspace)))
        try:
            manifest, files = _collect(workspace, state, store, detail, folder, with_steps)
            signer = write_bundle(out, manifest, files, sign_key)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return ExportResult(model, label, out, len(files), signer)


def exportable_version(
    state: StateReader, workspace: Workspace, model: str, label: str
) -> VersionDetail:
    """The recorded version, refused unless it is trained and has a model file."""
    detail = state.version_detail(model, label)
    if detail is None:
        raise unrecorded_version(state, workspace.models, model, label)
    if detail.status != VERSION_TRAINED or not detail.artifact_digest:
        raise NotFoundError(
            f"{model}@{label} is {detail.status}, with no trained model to export",
            fix="Export a trained version (see `mvctl status`).",
        )
    return detail


def artifact_name(detail: VersionDetail, path: Path) -> str:
    """The model file's name: as its pipeline or source named it, else by its format."""
    lineage = detail.lineage
    named = lineage.get("artifact") or {}
    source = named.get("file") or named.get("source") or (lineage.get("bundle") or {}).get("file")
    name = Path(str(source)).name if source else ""
    if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
        kind = artifact_format(path, f"the model of {detail.model}@{detail.label}", path)
        name = "model.skops" if kind == "skops" else "model.safetensors"
    return name


def _collect(
    workspace: Workspace,
    state: StateReader,
    store: BlobStore,
    detail: VersionDetail,
    folder: Path,
    with_steps: bool,
) -> tuple[dict[str, Any], dict[str, Path]]:
    fetched = folder / "artifact.bin"
    store.get_file(str(detail.artifact_digest), fetched)
    artifact = f"artifact/{artifact_name(detail, fetched)}"
    files = {artifact: fetched}
    digests = {artifact: str(detail.artifact_digest)}
    steps = _step_outputs(state, store, detail, folder, files, digests) if with_steps else []
    spec = workspace.config.models.get(detail.model)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mvctl_version": mvctl.__version__,
        "project": workspace.config.project,
        "model": detail.model,
        "label": detail.label,
        "description": detail.description,
        "task": spec.task if spec is not None else "other",
        "trusted_types": _trusted_types(fetched, spec.trusted_types if spec else [], detail),
        "torch_module": torch_module(spec) if spec is not None else None,
        "spec": dict(detail.spec),
        "spec_hash": detail.spec_hash,
        "params": dict(detail.params),
        "lineage": dict(detail.lineage),
        "metrics": metric_records(state, detail),
        "gates": _gates(state, detail),
        "artifact": artifact,
        "steps": steps,
        "files": digests,
    }
    return manifest, files


def _trusted_types(path: Path, declared: list[str], detail: VersionDetail) -> list[str]:
    """The model's `trusted_types`, plus the types whose content skops cannot check that the
    file builds: this project trusted them as its own training's output, an importing project
    must list them (the import writes them into a new model's block, for review)."""
    what = f"the model of {detail.model}@{detail.label}"
    if artifact_format(path, what, path) != "skops":
        return sorted(declared)
    built = audit_skops(path, declared, registered=False, what=what, shown=path)
    return sorted(set(declared) | (built & set(CONTENT_UNCHECKED)))


def _step_outputs(
    state: StateReader,
    store: BlobStore,
    detail: VersionDetail,
    folder: Path,
    files: dict[str, Path],
    digests: dict[str, str],
) -> list[dict[str, Any]]:
    recorded = detail.lineage.get("steps")
    if not isinstance(recorded, dict) or not recorded:
        raise UsageError(
            f"{detail.model}@{detail.label} was not trained by mvctl's pipeline, so it has no "
            "step outputs to export",
            fix="Export it without --with-steps.",
        )
    steps = []
    for index, (name, info) in enumerate(recorded.items()):
        run = state.step_run(str(info.get("key", "")))
        if run is None:
            raise NotFoundError(
                f"the outputs of step {name} of {detail.model}@{detail.label} are not recorded",
                fix="Export it without --with-steps.",
            )
        outputs = {}
        for position, (output, digest) in enumerate(sorted(run.outputs.items())):
            member = f"steps/{index}-{_safe(name)}/{position}-{_safe(Path(output).name)}"
            local = folder / member
            local.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(digest, local)
            files[member] = local
            digests[member] = digest
            outputs[output] = member
        steps.append(
            {
                "cache_key": run.cache_key,
                "step": run.step,
                "outputs": outputs,
                "inputs_json": run.inputs_json,
            }
        )
    return steps


def metric_records(state: StateReader, detail: VersionDetail) -> list[dict[str, Any]]:
    """The version's latest successful evaluation per dataset and evaluation settings."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in state.evaluations_of(detail.model):
        if record.label != detail.label or record.spec_hash != detail.spec_hash:
            continue
        if record.status != "ok":
            continue
        latest[(record.dataset_digest, record.evaluation_hash)] = {
            "dataset": record.dataset,
            "dataset_digest": record.dataset_digest,
            "evaluation_hash": record.evaluation_hash,
            "metrics": dict(record.metrics),
            "metric_status": dict(record.metric_status),
            "evaluator_version": record.evaluator_version,
            "created_at": record.created_at,
        }
    return [latest[key] for key in sorted(latest)]


def _gates(state: StateReader, detail: VersionDetail) -> list[dict[str, Any]]:
    decisions = []
    for logged in state.changes():
        change = logged.change
        if change.target.kind != "gate" or change.target.model != detail.model:
            continue
        decision = change.after
        if not isinstance(decision, GateDecision) or decision.version != detail.label:
            continue
        if decision.spec_hash not in (None, detail.spec_hash):
            continue
        decisions.append(
            {
                "alias": change.target.name,
                "apply_id": logged.apply_id,
                "passed": decision.passed,
                "checks": [dict(check) for check in decision.checks],
            }
        )
    return decisions


def _safe(word: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "_" for c in word).lstrip(".")
    return cleaned or "file"


def _work_dir(workspace: Workspace) -> Path:
    folder = workspace.private_dir / "work"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
