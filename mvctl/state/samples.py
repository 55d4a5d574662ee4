"""Reading monitor samples: plain SQL on both backends, rows into ``MonitorSample`` values."""

from __future__ import annotations

import json

from mvctl.core.monitoring import MonitorSample
from mvctl.state.connection import Tx

SAMPLE_COLUMNS = (
    "id, model, alias, version, spec_hash, taken_at, recorded_at, actor, dataset, "
    "dataset_digest, rows, labelled, metrics_json, status_json, drift_json"
)
OF_ALIAS = (
    f"SELECT {SAMPLE_COLUMNS} FROM monitor_samples WHERE model = ? AND alias = ? "
    "ORDER BY taken_at, id"
)
OF_MODEL = f"SELECT {SAMPLE_COLUMNS} FROM monitor_samples WHERE model = ? ORDER BY taken_at, id"


def samples_of(tx: Tx, model: str, alias: str | None = None) -> list[MonitorSample]:
    """The samples of one alias of ``model`` (or of all its aliases), oldest first."""
    rows = tx.rows(OF_ALIAS, (model, alias)) if alias is not None else tx.rows(OF_MODEL, (model,))
    return [
        MonitorSample(
            id=row[0],
            model=row[1],
            alias=row[2],
            version=row[3],
            spec_hash=row[4],
            taken_at=row[5],
            recorded_at=row[6],
            actor=row[7],
            dataset=row[8],
            dataset_digest=row[9],
            rows=row[10],
            labelled=bool(row[11]),
            metrics=json.loads(row[12]),
            metric_status=json.loads(row[13]),
            drift=json.loads(row[14]),
        )
        for row in rows
    ]
