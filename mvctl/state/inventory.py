"""Everything the state holds, read in one transaction, for `mvctl state check`.

The check compares the tables with the change log replayed, so both must come from one
snapshot: a concurrent apply committing between two SELECTs would look like corruption. Rows
come back as the change log's JSON values (what ``records`` values become), and the log's
values stay JSON too, whatever their shape: a check must report a hand-edited row, not stop
at it. Plain SQL on the shared read path: a check imports no SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mvctl.core.recorded import POLICY_TARGET, LogRow, Target
from mvctl.results.records import ApplyRecord, LockInfo
from mvctl.state import lock as state_lock
from mvctl.state import reader
from mvctl.state.connection import Tx

MODELS = "SELECT name, archived, created_at FROM models"
VERSION_MODELS = "SELECT DISTINCT model FROM versions"
ALIASES = "SELECT model, name, version FROM aliases"
PINS = "SELECT model, alias, version, revert_apply_id FROM pins"
STEP_RUNS = "SELECT cache_key, model, step, outputs_json, log_digest FROM step_runs"


@dataclass(frozen=True, slots=True)
class StepRunBlobs:
    """The blobs one recorded step run names: its outputs and its log."""

    cache_key: str
    model: str
    step: str
    outputs: Mapping[str, str]
    log_digest: str | None


@dataclass(frozen=True)
class Inventory:
    serial: int
    rows: Mapping[Target, Any]
    """Model, version, alias, pin and policy rows as change-log JSON values (what the log's
    `after` holds)."""
    step_runs: Sequence[StepRunBlobs]
    changes: Sequence[LogRow]
    applies: Sequence[ApplyRecord]
    """Oldest first."""
    lock: LockInfo | None


def inventory(tx: Tx) -> Inventory:
    rows: dict[Target, Any] = {}
    for name, archived, created_at in tx.rows(MODELS):
        rows[Target("model", name)] = {"archived": bool(archived), "created_at": created_at}
    model_names = {name for (name,) in tx.rows(VERSION_MODELS)}
    for model in sorted(model_names):
        for label, value in reader.version_values(tx, model):
            rows[Target("version", model, label)] = value
    for model, name, version in tx.rows(ALIASES):
        rows[Target("alias", model, name)] = {"version": version}
    for model, alias, version, revert_apply_id in tx.rows(PINS):
        rows[Target("pin", model, alias)] = {"version": version, "revert_apply_id": revert_apply_id}
    policy = reader.recorded_policy_value(tx)
    if policy is not None:
        rows[POLICY_TARGET] = policy
    step_runs = [
        StepRunBlobs(key, model, step, json.loads(outputs), log_digest)
        for key, model, step, outputs, log_digest in tx.rows(STEP_RUNS)
    ]
    return Inventory(
        serial=reader.serial(tx),
        rows=rows,
        step_runs=step_runs,
        changes=reader.log_rows(tx, apply_ids=None, after_apply_id=None),
        applies=list(reversed(reader.applies(tx, model=None, since=None, limit=None))),
        lock=state_lock.read_holder(tx),
    )
