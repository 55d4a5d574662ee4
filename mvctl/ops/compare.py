"""mvctl compare MODEL@A MODEL@B: both versions scored on the same data, side by side.

The data is A's evaluation datasets (B is scored on them too), or one file given with
``--data``. A result already stored for a version on that data, under the current evaluation
settings, is used as it is; anything missing is computed here from the stored model and shown
as such, but not stored: compare reads the state and never writes it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from mvctl.apply.artifacts import registered_file
from mvctl.apply.evaluating import evaluate_on, load_version_model
from mvctl.core.comparison import compare_metrics
from mvctl.core.evaluation import ResolvedEvaluation, dataset_ref, resolve_evaluation
from mvctl.core.lineage import as_trained
from mvctl.core.plan import DatasetRef
from mvctl.core.resolve import resolve_model, torch_module
from mvctl.errors import NotFoundError, UsageError
from mvctl.ops.lookup import unknown_declared, unrecorded_version, version_reference
from mvctl.results.compare import CompareResult, DatasetComparison, VersionScores
from mvctl.spec.models import Config, Dataset
from mvctl.state import StateReader
from mvctl.store.blobs import hash_file
from mvctl.workspace import Workspace


def compare(
    workspace: Workspace,
    ref_a: str,
    ref_b: str,
    data: Path | None = None,
    label_column: str | None = None,
) -> CompareResult:
    model_a, label_a = version_reference(workspace, ref_a)
    model_b, label_b = version_reference(workspace, ref_b)
    model = workspace.config.models.get(model_a)
    if model is None:
        raise unknown_declared(workspace.config, model_a)
    if model.evaluation is None:
        raise UsageError(
            f"model {model_a} declares no evaluation, so there is nothing to compare on",
            fix="Add an `evaluation:` with metrics and data to the model.",
        )
    digests, env_digests, _ = workspace.digests()
    resolved = resolve_model(model_a, model, digests, env_digests)
    anchor = resolved.get(label_a) or resolved.get(label_b) or next(iter(resolved.values()), None)
    state = workspace.open_state(create=False)
    work_dir = workspace.private_dir / "work" / "compare"
    try:
        recorded_a = state.version_detail(model_a, label_a)
        if anchor is not None and recorded_a is not None and label_a in resolved:
            # A's own data is the split it was trained with, although its files changed since.
            anchor = as_trained(anchor, recorded_a.status, recorded_a.spec_hash, recorded_a.spec)
        evaluation = resolve_evaluation(
            model_a, model, {label_a: anchor} if anchor else {}, digests, env_digests
        )
        if evaluation is None or anchor is None:
            raise UsageError(
                f"model {model_a} declares no versions to take the evaluation data from"
            )
        datasets = (
            (_data_file(workspace, data, model.evaluation.all_datasets(), label_column),)
            if data is not None
            else evaluation.datasets[label_a]
        )
        artifacts = {
            ref: _artifact(state, workspace.config, m, label)
            for ref, m, label in ((ref_a, model_a, label_a), (ref_b, model_b, label_b))
        }
        compared = []
        for dataset in datasets:
            a = _scores(
                workspace,
                state,
                evaluation,
                (model_a, label_a),
                artifacts[ref_a],
                dataset,
                work_dir,
            )
            b = _scores(
                workspace,
                state,
                evaluation,
                (model_b, label_b),
                artifacts[ref_b],
                dataset,
                work_dir,
            )
            settings = evaluation.settings
            rows = compare_metrics(settings.metrics, b.metrics, a.metrics, settings.metric_labels())
            compared.append(DatasetComparison(dataset.name, dataset.digest, a, b, rows))
    finally:
        state.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return CompareResult(ref_a, ref_b, tuple(compared))


@dataclass(frozen=True)
class _Artifact:
    digest: str
    registered: bool
    """Registered from an `artifact:` file rather than trained by its pipeline."""


def _artifact(state: StateReader, config: Config, model: str, label: str) -> _Artifact:
    detail = state.version_detail(model, label)
    if detail is None:
        raise unrecorded_version(state, config.models, model, label)
    if not detail.artifact_digest:
        raise NotFoundError(
            f"{model}@{label} is not a trained version in the state",
            fix="See `mvctl status` for the recorded versions.",
        )
    return _Artifact(detail.artifact_digest, registered_file(detail.lineage))


def _scores(
    workspace: Workspace,
    state: StateReader,
    evaluation: ResolvedEvaluation,
    version: tuple[str, str],
    artifact: _Artifact,
    dataset: DatasetRef,
    work_dir: Path,
) -> VersionScores:
    model, label = version
    reference = f"{model}@{label}"
    stored = state.evaluation_result(model, label, dataset.digest, evaluation.evaluation_hash)
    if stored is not None and stored.status == "ok":
        statuses: dict[str, str] = json.loads(stored.status_json)
        return VersionScores(reference, "stored", stored.metrics(), statuses)
    store = workspace.open_store()
    spec = workspace.config.models.get(model)
    predictor = load_version_model(
        workspace.root,
        store,
        artifact.digest,
        evaluation,
        tuple(spec.trusted_types) if spec is not None else (),
        work_dir / label,
        model,
        label,
        registered=artifact.registered,
        torch_module=torch_module(spec) if spec is not None else None,
    )
    outcome = evaluate_on(
        predictor,
        dataset,
        evaluation,
        root=workspace.root,
        store=store,
        state=state,
        work_dir=work_dir / label,
        target=reference,
    )
    return VersionScores(reference, "computed", outcome.metrics, outcome.metric_status)


def _data_file(
    workspace: Workspace, path: Path, declared: list[Dataset], label_column: str | None
) -> DatasetRef:
    """A ``--data`` file as a dataset, read the way the model's first dataset is declared."""
    if not path.is_file():
        raise UsageError(f"--data {path} is not a file", fix="Give a CSV, Parquet or NPZ file.")
    first = declared[0] if declared else None
    dataset = Dataset(
        path=str(path.resolve()),
        label=label_column or (first.label if first and first.label else None),
        features=first.features if first else None,
        x_array=first.x_array if first else "X",
        y_array=first.y_array if first else "y",
    )
    data_format = dataset.data_format()
    if data_format is None:
        raise UsageError(f"--data {path}: mvctl reads CSV, Parquet and NPZ files (by suffix)")
    if data_format != "npz" and dataset.label is None:
        raise UsageError(
            f"--data {path}: which column holds the labels?", fix="Pass --label COLUMN."
        )
    if data_format == "npz":
        dataset = dataset.model_copy(update={"label": None})
    ref = dataset_ref(dataset, "--data", {dataset.path or "": hash_file(path)}, {})
    return replace(ref, name=str(path))
