"""The EvaluateVersion handler: score a version on each planned dataset and store the results.

The model is taken from the store (its digest verified), each dataset from the project (its
digest checked against the plan) or from the store (a step's output), and every result, a
failure included, is written in one transaction with its change-log rows. A version whose
evaluation fails cannot be promoted in this apply: alias moves to it are skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mvctl.apply.artifacts import registered_file
from mvctl.apply.datasets import DataProblem, load_dataset
from mvctl.apply.evaluator import EvaluationOutcome, evaluator_version, score
from mvctl.apply.predictors import Predictor, open_predictor
from mvctl.apply.session import ApplySession
from mvctl.core.evaluation import ResolvedEvaluation
from mvctl.core.plan import DatasetRef, EvaluateVersion
from mvctl.core.recorded import Change, Target
from mvctl.core.records import VERSION_FAILED, EvaluationResult, VersionRecord
from mvctl.errors import DigestMismatchError, EvaluationError, MvctlError
from mvctl.results.apply import ActionOutcome
from mvctl.spec.metrics import recorded_label
from mvctl.state import StateReader
from mvctl.store.blobs import BlobStore, hash_file


def fetch_dataset(
    ref: DatasetRef, *, root: Path, store: BlobStore, state: StateReader, work_dir: Path
) -> Path:
    """Where the data of ``ref`` can be read: the project's file, or a step output from the store."""
    if ref.path is not None:
        path = root / ref.path
        if not path.is_file():
            raise EvaluationError(
                f"dataset '{ref.name}' ({path}) does not exist",
                field=ref.field,
                fix="Create the file or fix the path (relative to the project root).",
            )
        if hash_file(path) != ref.content:
            raise DigestMismatchError(
                f"dataset {ref.path} changed since the plan was made",
                fix="Run `mvctl plan` again and review it.",
            )
        return path
    run = state.step_run(ref.content)
    digest = None if run is None else run.outputs.get(ref.file or "")
    if digest is None:
        raise EvaluationError(
            f"dataset '{ref.name}': step {ref.step} has no recorded output {ref.file} for this "
            f"version's parameters (cache key {ref.content[:12]})",
            field=ref.field,
            fix="Train a version whose pipeline produces it, or evaluate on a data file instead.",
        )
    path = work_dir / "data" / ref.content[:16] / (ref.file or "data")
    store.get_file(digest, path)
    return path


def load_version_model(
    session_root: Path,
    store: BlobStore,
    artifact_digest: str,
    evaluation: ResolvedEvaluation,
    trusted_types: tuple[str, ...],
    work_dir: Path,
    model: str,
    label: str,
    *,
    registered: bool,
    torch_module: str | None,
) -> Predictor:
    """The version's model from the store (verified), loaded under its model's rules: see
    ``open_predictor`` for ``registered`` and ``torch_module``."""
    path = work_dir / "model" / artifact_digest.removeprefix("sha256:")[:16]
    store.get_file(artifact_digest, path)
    settings = evaluation.settings
    return open_predictor(
        path,
        trusted_types,
        what=f"the model of {model}@{label}",
        registered=registered,
        torch_module=torch_module,
        predict=settings.predict,
        scores=settings.scores,
        root=session_root,
        work_dir=work_dir / "predict",
        env={"MVCTL_MODEL": model, "MVCTL_VERSION": label},
    )


def evaluate_on(
    predictor: Predictor,
    ref: DatasetRef,
    evaluation: ResolvedEvaluation,
    *,
    root: Path,
    store: BlobStore,
    state: StateReader,
    work_dir: Path,
    target: str,
) -> EvaluationOutcome:
    """Score a loaded model on one dataset (what apply stores and `mvctl compare` shows)."""
    path = fetch_dataset(ref, root=root, store=store, state=state, work_dir=work_dir)
    data = load_dataset(ref, path, target)
    return score(
        predictor, data, evaluation.settings, DataProblem(ref, target), f"the model of {target}"
    )


def evaluate_version(session: ApplySession, action: EvaluateVersion) -> ActionOutcome:
    key = (action.model, action.label)
    target = f"{action.model}@{action.label}"
    why = session.unusable.get(key)
    if why is not None:
        return ActionOutcome(action, "skipped", f"{target} failed earlier in this apply: {why}")
    evaluation = session.evaluations.get(action.model)
    if evaluation is None or evaluation.evaluation_hash != action.evaluation_hash:
        return ActionOutcome(
            action,
            "failed",
            f"the evaluation settings of {action.model} changed since "
            "the plan was made; run `mvctl plan` again",
        )
    # A retrained version aliases serve is judged on its new artifact before it is recorded.
    version = session.candidates.get(key) or session.state.version_value(action.model, action.label)
    if version is None or version.status == VERSION_FAILED or not version.artifact_digest:
        return ActionOutcome(action, "skipped", f"{target} is not trained")
    work_dir = session.work_root / "evaluate" / f"{action.model}-{action.label}"
    changes: list[Change] = []
    failures: list[str] = []
    summary: list[str] = []
    try:
        predictor = load_version_model(
            session.root,
            session.store,
            version.artifact_digest,
            evaluation,
            session.trusted_types.get(action.model, ()),
            work_dir,
            action.model,
            action.label,
            registered=registered_file(version.lineage),
            torch_module=session.torch_modules.get(action.model),
        )
    except MvctlError as error:
        predictor, failures = None, [error.message]
    for ref in action.datasets:
        if predictor is None:
            changes.append(_result(session, version, action, ref, None, failures[0]))
            continue
        try:
            outcome = evaluate_on(
                predictor,
                ref,
                evaluation,
                root=session.root,
                store=session.store,
                state=session.state,
                work_dir=work_dir,
                target=target,
            )
        except MvctlError as error:
            failures.append(error.message)
            changes.append(_result(session, version, action, ref, None, error.message))
            continue
        changes.append(_result(session, version, action, ref, outcome, None))
        shown = ", ".join(
            f"{recorded_label(name, outcome.details)} {_short(value)}"
            for name, value in outcome.metrics.items()
        )
        summary.append(f"{ref.name}: {shown}")
    session.state.record(session.apply_id, changes)
    shutil.rmtree(work_dir, ignore_errors=True)
    if failures:
        session.unusable[key] = failures[0]
        return ActionOutcome(action, "failed", failures[0])
    return ActionOutcome(action, "done", "; ".join(summary))


def _result(
    session: ApplySession,
    version: VersionRecord,
    action: EvaluateVersion,
    ref: DatasetRef,
    outcome: EvaluationOutcome | None,
    error: str | None,
) -> Change:
    value = EvaluationResult(
        spec_hash=version.spec_hash,
        dataset_digest=ref.digest,
        dataset=ref.name,
        evaluation_hash=action.evaluation_hash,
        status="ok" if outcome is not None else "error",
        metrics=outcome.metrics if outcome else {},
        metric_status=outcome.metric_status if outcome else {},
        details=outcome.details if outcome else {},
        message=error,
        evaluator_version=evaluator_version(),
        created_at=session.clock(),
    )
    return Change(Target("evaluation", action.model, action.label), None, value)


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
