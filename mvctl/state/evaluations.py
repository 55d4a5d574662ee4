"""Reading evaluation results: plain SQL on both backends, rows into values (no SQLAlchemy).

The planner needs only the latest result per (version, dataset digest, evaluation hash), and
only for the version as it is trained now: a result stored before an overwrite under the same
label has another spec hash and is left out. Reports and ``compare`` read every result with
its details.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mvctl.core.recorded import RecordedEvaluation, RecordedVersion
from mvctl.results.records import EvaluationRecord
from mvctl.state.connection import Tx

# The newest row of each group; ids grow in insertion order.
LATEST = (
    "SELECT model, label, spec_hash, dataset_digest, evaluation_hash, dataset, status, "
    "metrics_json, status_json, message, created_at, apply_id FROM evaluations WHERE id IN "
    "(SELECT max(id) FROM evaluations "
    "GROUP BY model, label, spec_hash, dataset_digest, evaluation_hash)"
)
ONE_RESULT = (
    "SELECT e.dataset, e.status, e.metrics_json, e.status_json, e.message, e.created_at, "
    "e.apply_id FROM evaluations AS e JOIN versions AS v ON v.model = e.model "
    "AND v.label = e.label AND v.spec_hash = e.spec_hash WHERE e.model = ? AND e.label = ? "
    "AND e.dataset_digest = ? AND e.evaluation_hash = ? ORDER BY e.id DESC LIMIT 1"
)
ONE_RESULT_OF_SPEC = (
    "SELECT dataset, status, metrics_json, status_json, message, created_at, apply_id "
    "FROM evaluations WHERE model = ? AND label = ? AND spec_hash = ? AND dataset_digest = ? "
    "AND evaluation_hash = ? ORDER BY id DESC LIMIT 1"
)
ALL_OF_MODEL = (
    "SELECT id, model, label, spec_hash, dataset_digest, evaluation_hash, dataset, status, "
    "metrics_json, status_json, details_json, message, evaluator_version, created_at, apply_id "
    "FROM evaluations WHERE model = ? ORDER BY id"
)


def latest_evaluations(
    tx: Tx, versions: Mapping[tuple[str, str], RecordedVersion]
) -> dict[tuple[str, str, str, str], RecordedEvaluation]:
    latest: dict[tuple[str, str, str, str], RecordedEvaluation] = {}
    for row in tx.rows(LATEST):
        model, label, spec_hash, digest, evaluation_hash = row[:5]
        version = versions.get((model, label))
        if version is None or version.spec_hash != spec_hash:
            continue
        latest[(model, label, digest, evaluation_hash)] = RecordedEvaluation(
            model, label, digest, evaluation_hash, *row[5:]
        )
    return latest


def latest_result(
    tx: Tx,
    model: str,
    label: str,
    dataset_digest: str,
    evaluation_hash: str,
    spec_hash: str | None = None,
) -> RecordedEvaluation | None:
    """The latest result of the version as trained now on one dataset, under one hash; with
    ``spec_hash``, of the version trained under that spec (a retrained one not recorded yet)."""
    if spec_hash is None:
        row = tx.first(ONE_RESULT, (model, label, dataset_digest, evaluation_hash))
    else:
        row = tx.first(
            ONE_RESULT_OF_SPEC, (model, label, spec_hash, dataset_digest, evaluation_hash)
        )
    if row is None:
        return None
    return RecordedEvaluation(model, label, dataset_digest, evaluation_hash, *row)


def evaluations_of(tx: Tx, model: str) -> list[EvaluationRecord]:
    """Every stored evaluation of ``model``, oldest first."""
    records = []
    for row in tx.rows(ALL_OF_MODEL, (model,)):
        (
            id_,
            model_,
            label,
            spec_hash,
            digest,
            evaluation_hash,
            dataset,
            status,
            metrics_json,
            status_json,
            details_json,
            message,
            evaluator,
            created_at,
            apply_id,
        ) = row
        records.append(
            EvaluationRecord(
                id_,
                model_,
                label,
                spec_hash,
                digest,
                evaluation_hash,
                dataset,
                status,
                json.loads(metrics_json),
                json.loads(status_json),
                json.loads(details_json),
                message,
                evaluator,
                created_at,
                apply_id,
            )
        )
    return records
