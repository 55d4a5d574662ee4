"""mvctl monitor MODEL:ALIAS --data FILE: score the live version on a new batch, keep the sample,
apply the monitoring rules.

The version the alias serves is loaded from the store (digest and safe format checked) and
run on the batch. With labels, it gets the model's evaluation metrics; with or without them,
each feature and the predictions are compared with the version's evaluation data (its first
dataset). The sample is appended to the state; then the model's `monitoring.rules` are decided
on the latest samples of that version. A broken rule sends `degraded`, and with
`on_degraded: rollback` moves the alias back to the version it served before, in one
transaction recorded as an automatic rollback by the actor 'monitor' and pinned like a
revert, so the next plan reports that the config still asks for the degraded version; with
`on_degraded: trigger NAME` it fires that trigger of the model as `mvctl trigger` would
(``ops.trigger.fire_on_degraded``), the broken samples being its occasion.

Scoring happens before the state lock is taken (it may be slow); the lock is held only to
record the sample and roll back, and the alias must still point where it did when scoring
began.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mvctl import clock
from mvctl.actor import current_actor
from mvctl.apply.artifacts import registered_file
from mvctl.apply.datasets import DataProblem, LoadedData, load_dataset
from mvctl.apply.evaluating import fetch_dataset, load_version_model
from mvctl.apply.evaluator import score, split_non_finite
from mvctl.apply.population_drift import drift_report
from mvctl.apply.predictors import Predictor
from mvctl.apply.served import verify_served_artifact
from mvctl.core.evaluation import dataset_ref, resolve_evaluation
from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.monitoring import (
    MonitorSample,
    RuleVerdict,
    decide_rules,
    overall_status,
)
from mvctl.core.plan import DatasetRef
from mvctl.core.policy import MONITOR_ACTOR, monitor_rollback_denial
from mvctl.core.recorded import Change, RecordedState, Target
from mvctl.core.records import (
    VERSION_TRAINED,
    AliasRecord,
    GateDecision,
    PinRecord,
    Rollback,
    VersionRecord,
)
from mvctl.core.resolve import resolve_model, torch_module
from mvctl.errors import MvctlError, NotFoundError, StaleStateError, UsageError
from mvctl.ops.alerts import Alerts
from mvctl.ops.baselines import promoted_baseline
from mvctl.ops.guard import close_failed, release_lock
from mvctl.ops.lookup import unknown_declared, unrecorded_model
from mvctl.ops.trigger import fire_on_degraded
from mvctl.results.monitor import (
    MonitorHistory,
    MonitorResult,
    MonitorRollback,
    RollbackStatus,
    SampleVerdicts,
)
from mvctl.spec.models import Dataset, ModelSpec
from mvctl.state import StateReader, StateWriter
from mvctl.store.blobs import hash_file
from mvctl.workspace import Workspace

MAX_BATCH_BYTES = 1 << 30
"""The largest batch file monitor reads (1 GiB): it is read whole into memory."""


@dataclass(frozen=True)
class MonitorOptions:
    data: Path
    label: str | None = None
    """The batch's label column; None: the evaluation's, when the batch has it."""
    at: str | None = None
    """When the batch was observed (ISO time); None: now."""
    lock_timeout_s: float = 0.0
    actor: str | None = None


def monitor(workspace: Workspace, reference: str, options: MonitorOptions) -> MonitorResult:
    model, alias = alias_reference(reference)
    spec = workspace.config.models.get(model)
    if spec is None:
        raise unknown_declared(workspace.config, model)
    if spec.evaluation is None or not spec.evaluation.all_datasets():
        raise UsageError(
            f"model {model} declares no evaluation data, which monitor compares batches with",
            fix="Add an `evaluation:` with data and metrics to the model.",
        )
    taken_at = sample_time(options.at)
    actor = current_actor(options.actor)
    batch_path = checked_batch_file(options.data)
    with workspace.open_state(create=False) as state:
        label = served_version(state, workspace, model, alias)
        version = state.version_value(model, label)
    if version is None or version.status != VERSION_TRAINED or not version.artifact_digest:
        raise NotFoundError(
            f"{model}:{alias} points at {model}@{label}, which is not a trained version",
            fix=f"See `mvctl show {model}@{label}`; point the alias at a trained version.",
        )
    sample = _measure(workspace, spec, model, alias, label, version, batch_path, options)
    sample = replace(sample, taken_at=taken_at, actor=actor)
    return _record_and_decide(workspace, spec, sample, options, actor)


def alias_reference(reference: str) -> tuple[str, str]:
    model, colon, alias = reference.partition(":")
    if not colon or not model or not alias or "@" in reference:
        raise UsageError(
            f"'{reference}' is not MODEL:ALIAS",
            fix="Monitoring watches what an alias serves, e.g. churn:production.",
        )
    return model, alias


def served_version(state: StateReader, workspace: Workspace, model: str, alias: str) -> str:
    """The version ``model:alias`` points at in the state; a clear error when it points at none."""
    recorded = state.snapshot()
    pointed = recorded.aliases.get((model, alias))
    if pointed is not None:
        return pointed.version
    unknown = unrecorded_model(state, workspace.models, model)
    if unknown is not None:
        raise unknown
    aliases = sorted(name for (m, name) in recorded.aliases if m == model)
    raise NotFoundError(
        f"alias {model}:{alias} points at no version, so nothing it serves can be monitored",
        fix=(
            f"Monitor one of {', '.join(aliases)}, or apply a config that points {alias} at a "
            "version."
            if aliases
            else f"Apply a config that points {alias} at a version first."
        ),
    )


def sample_time(at: str | None) -> str:
    if at is None:
        return clock.now_stamp()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as error:
        raise UsageError(
            f"--at '{at}' is not a date or time",
            fix="Give an ISO time such as 2026-11-29T08:30:00Z.",
        ) from error
    return clock.stamp(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def checked_batch_file(path: Path) -> Path:
    if not path.is_file():
        raise UsageError(f"--data {path} is not a file", fix="Give a CSV, Parquet or NPZ file.")
    if Dataset(path=str(path)).data_format() is None:
        raise UsageError(
            f"--data {path}: mvctl reads CSV, Parquet and NPZ files (by suffix)",
            fix="Save the batch as .csv, .parquet or .npz.",
        )
    size = path.stat().st_size
    if size > MAX_BATCH_BYTES:
        raise UsageError(
            f"--data {path} is {size / (1 << 20):.0f} MiB, more than monitor reads at once "
            f"({MAX_BATCH_BYTES >> 20} MiB)",
            fix="Monitor a sample of the batch (a few thousand rows describe its drift well).",
        )
    return path


def _measure(
    workspace: Workspace,
    spec: ModelSpec,
    model: str,
    alias: str,
    label: str,
    version: VersionRecord,
    batch_path: Path,
    options: MonitorOptions,
) -> MonitorSample:
    """Score ``model@label`` on the batch and compare it with the evaluation data."""
    digests, env_digests, _ = workspace.digests()
    resolved = resolve_model(model, spec, digests, env_digests)
    anchor = resolved.get(label) or next(iter(resolved.values()), None)
    evaluation = resolve_evaluation(
        model, spec, {label: anchor} if anchor else {}, digests, env_digests
    )
    if evaluation is None or anchor is None:
        raise UsageError(f"model {model} declares no versions to take the evaluation data from")
    reference_ref = evaluation.datasets[label][0]
    batch_ref, labelled = _batch_ref(batch_path, reference_ref, options.label)
    target = f"{model}@{label}"
    work_dir = workspace.private_dir / "work" / f"monitor-{os.getpid()}"
    store = workspace.open_store()
    try:
        with workspace.open_state(create=False) as state:
            predictor = load_version_model(
                workspace.root,
                store,
                version.artifact_digest or "",
                evaluation,
                tuple(spec.trusted_types),
                work_dir,
                model,
                label,
                registered=registered_file(version.lineage),
                torch_module=torch_module(spec),
            )
            reference_path = fetch_dataset(
                reference_ref, root=workspace.root, store=store, state=state, work_dir=work_dir
            )
        reference = load_dataset(reference_ref, reference_path, target)
        batch = load_dataset(batch_ref, batch_path, target, labelled=labelled)
        problem = DataProblem(batch_ref, target)
        _check_batch(batch, reference, predictor, problem)
        outcome = (
            score(predictor, batch, evaluation.settings, problem, f"the model of {target}")
            if labelled
            else split_non_finite({}, {"rows": batch.rows})
        )
        drift = drift_report(
            reference.x,
            batch.x,
            batch.features or tuple(f"x{j}" for j in range(batch.x.shape[1])),
            _predicted(predictor, reference, problem, target),
            _predicted(predictor, batch, problem, target),
            categorical_predictions=spec.task != "regression",
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return MonitorSample(
        id=0,
        model=model,
        alias=alias,
        version=label,
        spec_hash=version.spec_hash,
        taken_at="",
        recorded_at="",
        actor="",
        dataset=str(batch_path),
        dataset_digest=batch_ref.digest,
        rows=batch.rows,
        labelled=labelled,
        metrics=outcome.metrics,
        metric_status=outcome.metric_status,
        drift={"reference": reference_ref.name, "reference_rows": reference.rows, **drift},
    )


def _batch_ref(path: Path, reference: DatasetRef, label: str | None) -> tuple[DatasetRef, bool]:
    """The batch read the way the evaluation data is; labelled when ``--label`` is given or
    the batch holds the evaluation's label column (NPZ: its labels array)."""
    dataset = Dataset(
        path=str(path.resolve()),
        label=label or reference.label,
        features=list(reference.features) or None,
        x_array=reference.x,
        y_array=reference.y,
    )
    data_format = dataset.data_format()
    if data_format == "npz":
        labelled = _npz_has(path, reference.y)
        dataset = dataset.model_copy(update={"label": None})
    elif label is not None:
        labelled = True
    else:
        labelled = reference.label is not None and reference.label in _header(path, data_format)
        if not labelled:
            dataset = dataset.model_copy(update={"label": None})
    ref = dataset_ref(dataset, "--data", {dataset.path or "": hash_file(path)}, {})
    return replace(ref, name=str(path)), labelled


def _npz_has(path: Path, array: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return f"{array}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False  # load_dataset reports the damaged file


def _header(path: Path, data_format: str | None) -> list[str]:
    """The batch's column names, read cheaply; [] when unreadable (the loader says why)."""
    if data_format == "parquet":
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        except Exception:  # pyarrow's own errors; the loader reports them
            return []
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _check_batch(
    batch: LoadedData, reference: LoadedData, predictor: Predictor, problem: DataProblem
) -> None:
    """The batch has the evaluation data's feature columns, and only finite values."""
    import numpy as np

    if reference.features and batch.features and batch.features != reference.features:
        missing = [name for name in reference.features if name not in batch.features]
        extra = [name for name in batch.features if name not in reference.features]
        raise problem(
            "its feature columns are not the evaluation data's"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not in the evaluation data: {', '.join(extra)}" if extra else "")
            + ("; same names in another order" if not missing and not extra else ""),
            f"Give the columns {', '.join(reference.features)} (and the label column).",
        )
    expected = predictor.n_features or reference.x.shape[1]
    if batch.x.shape[1] != expected:
        raise problem(
            f"it has {batch.x.shape[1]} feature columns but the model expects {expected}",
            "Give the features the model was trained on.",
        )
    finite = np.isfinite(batch.x)
    if not finite.all():
        row, column = (int(i) for i in np.argwhere(~finite)[0])
        name = batch.features[column] if batch.features else f"column {column + 1}"
        raise problem(
            f"feature {name} holds {batch.x[row, column]} in row {row + 1} "
            f"({int((~finite).sum())} values are missing, NaN or infinite)",
            "Drop or fill the rows with missing values before monitoring them.",
        )


def _predicted(predictor: Predictor, data: LoadedData, problem: DataProblem, target: str) -> Any:
    try:
        return predictor.predictions(data.x, data.features, want_scores=False).labels
    except ValueError as error:
        raise problem(
            f"the model of {target} cannot predict on this data: {error}",
            "Give the features the model was trained on.",
        ) from error


def _record_and_decide(
    workspace: Workspace,
    spec: ModelSpec,
    sample: MonitorSample,
    options: MonitorOptions,
    actor: str,
) -> MonitorResult:
    model, alias, label = sample.model, sample.alias, sample.version
    state = workspace.open_state(create=True)
    lock_id = state.acquire_lock("monitor", actor, timeout_s=options.lock_timeout_s)
    alerts = Alerts(workspace.config.notifications, workspace, "monitor", actor, state.serial)
    try:
        recorded = state.snapshot()
        pointed = recorded.aliases.get((model, alias))
        if pointed is None or pointed.version != label:
            raise StaleStateError(
                f"{model}:{alias} moved from {label} to "
                f"{pointed.version if pointed else 'nothing'} while the batch was scored; "
                "the sample was not recorded",
                fix="Run the same `mvctl monitor` again.",
            )
        sample = replace(sample, recorded_at=clock.now_stamp())
        sample = replace(sample, id=state.record_sample(sample))
        rules = spec.monitoring
        if rules is None:
            return MonitorResult(sample, "ok", (), None, None)
        history = state.monitor_samples(model, alias)
        promoted, previous = promoted_baseline(state, sample)
        verdicts = decide_rules(rules.rules, rules.over, history, label, promoted)
        status = overall_status(verdicts)
        broken = [verdict for verdict in verdicts if verdict.status == "broken"]
        rollback = None
        if broken and rules.on_degraded == "rollback":
            rollback = _roll_back(workspace, state, recorded, sample, previous, broken)
        for verdict in broken:
            alerts.degraded(model, alias, label, verdict, rollback)
        if rollback is not None and rollback.apply_id is not None:
            alerts.monitor_rollback(rollback.apply_id, model, alias, rollback, broken)
        fired = None
        if broken and rules.trigger is not None:
            fired = fire_on_degraded(
                workspace,
                state,
                model,
                rules.trigger,
                sorted({i for verdict in broken for i in verdict.samples}),
                "monitoring rule(s) "
                + ", ".join(f"'{verdict.rule}'" for verdict in broken)
                + f" broke on {model}:{alias} serving {label}",
                actor,
            )
        return MonitorResult(sample, status, verdicts, rules.on_degraded, rollback, fired)
    finally:
        try:
            release_lock(state, lock_id)
        finally:
            alerts.close()


def _roll_back(
    workspace: Workspace,
    state: StateWriter,
    recorded: RecordedState,
    sample: MonitorSample,
    previous: str | None,
    broken: list[RuleVerdict],
) -> MonitorRollback:
    """Move the alias back to ``previous`` as one automatic-rollback transaction, or say why not."""
    model, alias, label = sample.model, sample.alias, sample.version

    def not_done(status: RollbackStatus, message: str) -> MonitorRollback:
        return MonitorRollback(status, label, previous, None, message)

    if previous is None:
        return not_done(
            "impossible",
            f"{model}:{alias} has no earlier version to go back to: it served none before "
            f"{label}, or a rollback by monitoring put it there",
        )
    denial = monitor_rollback_denial(recorded, model, alias)
    if denial is not None:
        return not_done("refused", denial)
    record = state.version_value(model, previous)
    if record is None or record.status != VERSION_TRAINED or not record.artifact_digest:
        return not_done("impossible", f"{model}@{previous} is not a trained version any more")
    spec = workspace.config.models.get(model)
    work_dir = workspace.private_dir / "work" / f"monitor-{os.getpid()}"
    try:
        verify_served_artifact(
            workspace.open_store(),
            record.artifact_digest,
            record.lineage,
            tuple(spec.trusted_types) if spec else (),
            torch_module(spec) if spec else None,
            work_dir,
            state,
            what=f"the artifact of {model}@{previous}",
        )
    except MvctlError as error:
        return not_done("impossible", error.message)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    reason = "; ".join(
        f"monitoring rule '{v.rule}' broke: {v.reason} (values {_values(v)}, samples "
        f"{', '.join(f'#{i}' for i in v.samples)})"
        for v in broken
    )
    checks = tuple(
        {
            "gate": "monitor",
            "rule": v.rule,
            "result": "fail",
            "bound": v.bound,
            "values": list(v.values),
            "samples": list(v.samples),
        }
        for v in broken
    )
    apply_id = state.begin_apply(
        kind="rollback",
        actor=MONITOR_ACTOR,
        plan_hash=sha256_hex(canonical_json([model, alias, label, previous, list(checks)])),
        expected_serial=recorded.serial,
    )
    declared = spec.aliases.get(alias) if spec else None
    pin_now = state.pin_value(model, alias)
    changes = [
        Change(
            Target("gate", model, alias),
            None,
            GateDecision(label, False, checks, rollback=Rollback(reason, previous)),
        ),
        Change(Target("alias", model, alias), AliasRecord(label), AliasRecord(previous)),
    ]
    if declared != previous:
        changes.append(Change(Target("pin", model, alias), pin_now, PinRecord(previous, apply_id)))
    elif pin_now is not None:
        changes.append(Change(Target("pin", model, alias), pin_now, None))
    message = f"automatic rollback of {model}:{alias} from {label} to {previous}: {reason}"
    try:
        state.record(apply_id, changes)
    except BaseException as error:
        stopped = close_failed(state, apply_id, error, "revert")
        if stopped is not error:
            raise stopped from error
        raise
    state.finish_apply(apply_id, "succeeded", message)
    return MonitorRollback("done", label, previous, apply_id, message)


def _values(verdict: RuleVerdict) -> str:
    return ", ".join("n/a" if v is None else f"{v:.4g}" for v in verdict.values)


def monitor_history(workspace: Workspace, reference: str) -> MonitorHistory:
    """The samples of ``MODEL:ALIAS``, oldest first, each with the model's monitoring rules as
    the config declares them now, decided on it and the samples before it."""
    model, alias = alias_reference(reference)
    spec = workspace.config.models.get(model)
    rules = spec.monitoring if spec is not None else None
    with workspace.open_state(create=False) as state:
        samples = state.monitor_samples(model, alias)
        if not samples:
            unknown = unrecorded_model(state, workspace.models, model)
            if unknown is not None:
                raise unknown
        baselines: dict[tuple[str, str], dict[str, float | None]] = {}
        for sample in samples:
            key = (sample.version, sample.spec_hash)
            if key not in baselines:
                baselines[key] = promoted_baseline(state, sample)[0]
    entries = []
    for index, sample in enumerate(samples):
        verdicts = (
            decide_rules(
                rules.rules,
                rules.over,
                samples[: index + 1],
                sample.version,
                baselines[(sample.version, sample.spec_hash)],
            )
            if rules is not None
            else ()
        )
        entries.append(SampleVerdicts(sample, overall_status(verdicts), verdicts))
    return MonitorHistory(model, alias, tuple(rules.rules) if rules else (), tuple(entries))
