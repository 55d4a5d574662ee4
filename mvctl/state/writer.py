"""The write half of the state on the plain DB-API connection: apply records, changes, step runs.

Every write is one short transaction on the link's connection that takes the writer's lock up
front (``BEGIN IMMEDIATE`` on SQLite, a row lock on the serial on PostgreSQL), so a change, its
change-log row and the serial bump commit together or not at all, and concurrent writers queue
instead of interleaving. The SQL is written once for both databases: SQLite (3.35 and later)
and PostgreSQL share ``INSERT ... ON CONFLICT`` and ``RETURNING``. SQLAlchemy is left to the
migrations (``migrating.py``), so a revert, which moves a few pointers, never imports it.

A ``Change`` becomes rows in ``apply_change``: the writer its target kind has in
``ROW_WRITERS`` makes its ``after`` value true in its table (None removes the row). A
malformed change is a bug in the caller, reported as a ValueError naming the target, and
rolls back the whole record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from mvctl import faults
from mvctl.core.hashing import canonical_json
from mvctl.core.recorded import Change
from mvctl.core.records import (
    VERSION_FIELDS,
    VERSION_STATUSES,
    AliasRecord,
    EvaluationResult,
    GateDecision,
    ModelRecord,
    PinRecord,
    PolicyRecord,
    RecordValue,
    TargetKind,
    VersionRecord,
)
from mvctl.errors import StaleStateError, StateError
from mvctl.state.connection import Link, Tx
from mvctl.state.reader import VERSION_COLUMNS, VERSION_JSON_FIELDS

APPLY_RUNNING = "running"
STEP_RUN_REPLACED = (
    "outputs_json",
    "inputs_json",
    "log_digest",
    "duration_s",
    "apply_id",
    "created_at",
)
"""What a re-run with other outputs replaces in its step run: everything but key and name."""
FIRING_LOCK_KEY = 0x6D76_6374_6C01
"""PostgreSQL advisory lock key held while a trigger firing is recorded and its edit written."""
CHANGE_LOG_COLUMNS = (
    "apply_id",
    "seq",
    "target_kind",
    "model",
    "name",
    "before_json",
    "after_json",
    "at",
    "actor",
)


class Writer:
    """Write transactions on ``link``'s connection."""

    def __init__(self, link: Link):
        self._link = link

    def begin_apply(
        self,
        *,
        kind: str,
        actor: str,
        plan_hash: str,
        expected_serial: int | None,
        reverts_apply_id: int | None,
        now: str,
    ) -> int:
        with self._link.transaction("starting the apply", write=True) as tx:
            serial = _serial(tx, for_update=True)
            if expected_serial is not None and expected_serial != serial:
                raise StaleStateError(
                    f"the state moved from serial {expected_serial} to {serial} since this "
                    "plan was made",
                    fix="Run `mvctl plan` again and review the new plan.",
                )
            apply_id = _insert_returning_id(
                tx,
                "applies",
                {
                    "kind": kind,
                    "actor": actor,
                    "started_at": now,
                    "plan_hash": plan_hash,
                    "status": APPLY_RUNNING,
                    "serial_before": serial,
                    "reverts_apply_id": reverts_apply_id,
                },
            )
            faults.reached("apply_begun_uncommitted")
        return apply_id

    def record(self, apply_id: int, changes: Sequence[Change], now: str) -> int:
        """Write ``changes``, their change-log rows and the serial bump; the new serial.

        Each log row names its apply's actor, so who made a change is on the change itself.
        """
        with self._link.transaction("recording changes", write=True) as tx:
            serial = _serial(tx, for_update=True)
            found = tx.first("SELECT actor FROM applies WHERE id = ?", (apply_id,))
            if found is None:
                raise ValueError(f"apply #{apply_id} does not exist; call begin_apply first")
            (actor,) = found
            (last_seq,) = tx.first(
                "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE apply_id = ?", (apply_id,)
            ) or (0,)
            log_rows = []
            for seq, change in enumerate(changes, start=int(last_seq) + 1):
                apply_change(tx, apply_id, change, now)
                target = change.target
                log_rows.append(
                    (
                        apply_id,
                        seq,
                        target.kind,
                        target.model,
                        target.name,
                        _dumps(change.before),
                        _dumps(change.after),
                        now,
                        actor,
                    )
                )
            tx.execute_many(_insert_sql("changes", CHANGE_LOG_COLUMNS), log_rows)
            tx.execute("UPDATE meta SET value = ? WHERE key = 'serial'", (str(serial + 1),))
            faults.reached("state_uncommitted")
        faults.reached("state_committed")
        return serial + 1

    def finish_apply(self, apply_id: int, status: str, message: str | None, now: str) -> None:
        with self._link.transaction("finishing the apply", write=True) as tx:
            serial = _serial(tx)
            changed = tx.execute(
                "UPDATE applies SET finished_at = ?, status = ?, message = ?, serial_after = ?"
                " WHERE id = ?",
                (now, status, message, serial, apply_id),
            )
            if changed != 1:
                raise ValueError(f"apply #{apply_id} does not exist")

    def close_interrupted(self, message: str, now: str) -> list[int]:
        """Close applies still 'running' as failed; the caller holds the lock, so their
        processes are gone (killed while they held it). Returns their ids."""
        with self._link.transaction("closing interrupted applies", write=True) as tx:
            serial = _serial(tx)
            ids = [
                int(row[0])
                for row in tx.rows("SELECT id FROM applies WHERE status = ?", (APPLY_RUNNING,))
            ]
            if ids:
                tx.execute(
                    "UPDATE applies SET finished_at = ?, status = 'failed', message = ?,"
                    " serial_after = ? WHERE status = ?",
                    (now, message, serial, APPLY_RUNNING),
                )
        return ids

    def record_step_run(self, values: Mapping[str, Any]) -> None:
        """Insert a step run; a recorded cache key keeps its row unless the outputs differ
        (a re-run of a step whose outputs left the store), which replace it in place."""
        with self._link.transaction("recording a step run", write=True) as tx:
            replaced = ", ".join(f"{name} = excluded.{name}" for name in STEP_RUN_REPLACED)
            tx.execute(
                _insert_sql("step_runs", values)
                + f" ON CONFLICT (cache_key) DO UPDATE SET {replaced}"
                " WHERE step_runs.outputs_json <> excluded.outputs_json",
                tuple(values.values()),
            )
            faults.reached("step_run_uncommitted")

    def record_firing(self, values: Mapping[str, Any], write: Callable[[], None]) -> bool:
        """Insert a trigger firing unless its (model, trigger, occasion) is recorded, then call
        ``write`` before committing; whether it was inserted.

        Firings are serialised like every write (SQLite's BEGIN IMMEDIATE; on PostgreSQL an
        advisory lock), so two runs editing one config file take turns.
        """
        with self._link.transaction("recording a trigger firing", write=True) as tx:
            if tx.backend.name == "postgresql":
                tx.rows("SELECT pg_advisory_xact_lock(?)", (FIRING_LOCK_KEY,))
            inserted = tx.first(
                _insert_sql("trigger_firings", values)
                + ' ON CONFLICT (model, "trigger", occasion) DO NOTHING RETURNING id',
                tuple(values.values()),
            )
            if inserted is None:
                return False
            write()
        return True

    def record_sample(self, values: Mapping[str, Any]) -> int:
        """Append a monitor sample; its id. Samples are observations, not state changes: no
        change-log row and no serial bump, so they never make a saved plan stale."""
        with self._link.transaction("recording a monitor sample", write=True) as tx:
            return _insert_returning_id(tx, "monitor_samples", values)


def _insert_sql(table: str, columns: Sequence[str] | Mapping[str, Any]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``; names are mvctl's own, quoted
    (``trigger`` is an SQL keyword)."""
    names = ", ".join(f'"{name}"' for name in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"


def _insert_returning_id(tx: Tx, table: str, values: Mapping[str, Any]) -> int:
    row = tx.first(_insert_sql(table, values) + " RETURNING id", tuple(values.values()))
    if row is None or not isinstance(row[0], int):
        raise StateError(f"the state database {tx.display} returned no id for the new row")
    return row[0]


def _serial(tx: Tx, *, for_update: bool = False) -> int:
    # FOR UPDATE serialises PostgreSQL writers on this row; SQLite's BEGIN IMMEDIATE already has.
    lock = " FOR UPDATE" if for_update and tx.backend.name == "postgresql" else ""
    row = tx.first("SELECT value FROM meta WHERE key = 'serial'" + lock)
    if row is None:
        raise StateError(f"the state database {tx.display} has no serial; it is damaged")
    return int(row[0])


def _dumps(value: RecordValue | None) -> str | None:
    return None if value is None else canonical_json(value.to_json())


EVALUATION_JSON_COLUMNS = {
    "metrics": "metrics_json",
    "metric_status": "status_json",
    "details": "details_json",
}
"""The fields of an ``EvaluationResult`` stored as JSON text, by column; the others have a
column of their own name."""

R = TypeVar("R")
RowWriter = Callable[[Tx, int, Change, str], None]
"""Makes one kind of change true in its table: (connection, apply id, change, now)."""


def apply_change(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    """Make ``change.after`` true in its table (None: remove the row)."""
    ROW_WRITERS[change.target.kind](tx, apply_id, change, now)


def _after(change: Change, kind: type[R]) -> R | None:
    """The change's new value as the type its kind takes (``Change`` already checks it)."""
    after = change.after
    if after is None or isinstance(after, kind):
        return after
    raise ValueError(f"malformed change to {change.target}: its value is not a {kind.__name__}")


def _write_model(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, ModelRecord)
    if after is None:
        tx.execute("DELETE FROM models WHERE name = ?", (target.model,))
        return
    values = {
        "name": target.model,
        "created_at": after.created_at,
        "archived": after.archived,
        "apply_id": apply_id,
    }
    # The apply that created the model stays its apply; archiving does not move it.
    _upsert(tx, "models", ["name"], values, keep=["apply_id"])


def _write_version(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, VersionRecord)
    if after is None:
        tx.execute(
            "DELETE FROM versions WHERE model = ? AND label = ?", (target.model, target.name)
        )
        return
    if after.status not in VERSION_STATUSES:
        raise ValueError(f"malformed change to {target}: status {after.status!r} is unknown")
    record = after.to_json()
    values = {
        column: _json_column(record[name]) if name in VERSION_JSON_FIELDS else record[name]
        for name, column in zip(VERSION_FIELDS, VERSION_COLUMNS, strict=True)
    }
    _upsert(
        tx, "versions", ["model", "label"], {"model": target.model, "label": target.name, **values}
    )


def _write_alias(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, AliasRecord)
    if after is None:
        tx.execute("DELETE FROM aliases WHERE model = ? AND name = ?", (target.model, target.name))
        return
    values = {
        "model": target.model,
        "name": target.name,
        "version": after.version,
        "apply_id": apply_id,
        "updated_at": now,
    }
    _upsert(tx, "aliases", ["model", "name"], values)


def _write_pin(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, PinRecord)
    if after is None:
        tx.execute("DELETE FROM pins WHERE model = ? AND alias = ?", (target.model, target.name))
        return
    values = {
        "model": target.model,
        "alias": target.name,
        "version": after.version,
        "revert_apply_id": after.revert_apply_id,
    }
    _upsert(tx, "pins", ["model", "alias"], values)


def _write_evaluation(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, EvaluationResult)
    if after is None or change.before is not None:
        raise ValueError(f"malformed change to {target}: evaluation results are only ever added")
    result = after.to_json()
    row = {
        EVALUATION_JSON_COLUMNS.get(name, name): (
            canonical_json(value) if name in EVALUATION_JSON_COLUMNS else value
        )
        for name, value in result.items()
    }
    values = {"model": target.model, "label": target.name, "apply_id": apply_id, **row}
    tx.execute(_insert_sql("evaluations", values), tuple(values.values()))


def _write_gate(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    """A gate's decision is kept in the change log alone."""
    _after(change, GateDecision)


def _write_policy(tx: Tx, apply_id: int, change: Change, now: str) -> None:
    after = _after(change, PolicyRecord)
    if after is None:
        tx.execute("DELETE FROM policy")
        return
    values = {
        "id": 1,
        "value_json": canonical_json(after.to_json()),
        "apply_id": apply_id,
        "updated_at": now,
    }
    _upsert(tx, "policy", ["id"], values)


ROW_WRITERS: Mapping[TargetKind, RowWriter] = {
    "model": _write_model,
    "version": _write_version,
    "alias": _write_alias,
    "pin": _write_pin,
    "evaluation": _write_evaluation,
    "gate": _write_gate,
    "policy": _write_policy,
}
"""How each kind of change reaches its table; a test checks that every kind has one."""


def _json_column(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def _upsert(
    tx: Tx,
    table: str,
    keys: Sequence[str],
    values: Mapping[str, Any],
    keep: Sequence[str] = (),
) -> None:
    """Insert or update by ``keys``; columns in ``keep`` keep their first value."""
    changed = ", ".join(
        f'"{name}" = excluded."{name}"' for name in values if name not in keys and name not in keep
    )
    conflict = ", ".join(f'"{name}"' for name in keys)
    tx.execute(
        _insert_sql(table, values) + f" ON CONFLICT ({conflict}) DO UPDATE SET {changed}",
        tuple(values.values()),
    )
