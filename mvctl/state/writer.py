"""The write half of the state, on SQLAlchemy: apply records, changes, step runs, migrations.

``StateDB`` imports this module at its first write, so reads and the lock never pay for
SQLAlchemy. Every write is one short transaction that takes the writer's lock up front
(``BEGIN IMMEDIATE`` on SQLite, a row lock on the serial on PostgreSQL), so a change, its
change-log row and the serial bump commit together or not at all, and concurrent writers
queue instead of interleaving.

A ``Change`` becomes rows in ``apply_change``: the writer its target kind has in
``ROW_WRITERS`` makes its ``after`` value true in its table (None removes the row). A
malformed change is a bug in the caller, reported as a ValueError naming the target, and
rolls back the whole record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

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
from mvctl.state import schema
from mvctl.state import tables as t
from mvctl.state.connection import Link
from mvctl.state.engine import DriverQueries, create_state_engine, translated_errors
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


class Writer:
    """Write transactions on an engine built from ``link``'s connection settings."""

    def __init__(self, link: Link):
        self._link = link
        self._engine = create_state_engine(link)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        """One write transaction holding the writer's lock from its first statement.

        The link's guard is held too: on SQLite the engine shares the link's connection.
        """
        display = self._link.target.display
        with (
            self._link.guard,
            translated_errors(self._link.backend, display, doing),
            self._engine.begin() as conn,
        ):
            yield conn

    def migrate_to_head(self) -> None:
        with self._write("migrating the schema") as conn:
            queries = DriverQueries(conn, self._link.backend)
            schema.lock_for_migration(queries)
            # Checked again under the lock: another process may have migrated meanwhile.
            found = schema.current_revision(queries)
            schema.check_known(found, self._link.target.display)
            if found != schema.HEAD_REVISION:
                schema.upgrade_to_head(conn)

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
        with self._write("starting the apply") as conn:
            serial = _serial(conn, for_update=True)
            if expected_serial is not None and expected_serial != serial:
                raise StaleStateError(
                    f"the state moved from serial {expected_serial} to {serial} since this "
                    "plan was made",
                    fix="Run `mvctl plan` again and review the new plan.",
                )
            result = conn.execute(
                insert(t.applies).values(
                    kind=kind,
                    actor=actor,
                    started_at=now,
                    plan_hash=plan_hash,
                    status=APPLY_RUNNING,
                    serial_before=serial,
                    reverts_apply_id=reverts_apply_id,
                )
            )
            (apply_id,) = result.inserted_primary_key or (None,)
            faults.reached("apply_begun_uncommitted")
        if not isinstance(apply_id, int):
            raise StateError(f"the state database {self._link.target.display} returned no apply id")
        return apply_id

    def record(self, apply_id: int, changes: Sequence[Change], now: str) -> int:
        """Write ``changes``, their change-log rows and the serial bump; the new serial.

        Each log row names its apply's actor, so who made a change is on the change itself.
        """
        with self._write("recording changes") as conn:
            serial = _serial(conn, for_update=True)
            actor = conn.execute(
                select(t.applies.c.actor).where(t.applies.c.id == apply_id)
            ).scalar_one_or_none()
            if actor is None:
                raise ValueError(f"apply #{apply_id} does not exist; call begin_apply first")
            last_seq: int = conn.execute(
                select(func.coalesce(func.max(t.changes.c.seq), 0)).where(
                    t.changes.c.apply_id == apply_id
                )
            ).scalar_one()
            log_rows = []
            for seq, change in enumerate(changes, start=last_seq + 1):
                apply_change(conn, apply_id, change, now)
                log_rows.append(
                    {
                        "apply_id": apply_id,
                        "seq": seq,
                        "target_kind": change.target.kind,
                        "model": change.target.model,
                        "name": change.target.name,
                        "before_json": _dumps(change.before),
                        "after_json": _dumps(change.after),
                        "at": now,
                        "actor": actor,
                    }
                )
            conn.execute(insert(t.changes), log_rows)
            conn.execute(
                update(t.meta).where(t.meta.c.key == "serial").values(value=str(serial + 1))
            )
            faults.reached("state_uncommitted")
        faults.reached("state_committed")
        return serial + 1

    def finish_apply(self, apply_id: int, status: str, message: str | None, now: str) -> None:
        with self._write("finishing the apply") as conn:
            serial = _serial(conn)
            result = conn.execute(
                update(t.applies)
                .where(t.applies.c.id == apply_id)
                .values(finished_at=now, status=status, message=message, serial_after=serial)
            )
            if result.rowcount != 1:
                raise ValueError(f"apply #{apply_id} does not exist")

    def close_interrupted(self, message: str, now: str) -> list[int]:
        """Close applies still 'running' as failed; the caller holds the lock, so their
        processes are gone (killed while they held it). Returns their ids."""
        with self._write("closing interrupted applies") as conn:
            serial = _serial(conn)
            running = t.applies.c.status == APPLY_RUNNING
            ids = [row[0] for row in conn.execute(select(t.applies.c.id).where(running))]
            if ids:
                conn.execute(
                    update(t.applies)
                    .where(running)
                    .values(finished_at=now, status="failed", message=message, serial_after=serial)
                )
        return ids

    def record_step_run(self, values: Mapping[str, Any]) -> None:
        """Insert a step run; a recorded cache key keeps its row unless the outputs differ
        (a re-run of a step whose outputs left the store), which replace it in place."""
        with self._write("recording a step run") as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(t.step_runs).values(values)
            replaced = {name: statement.excluded[name] for name in STEP_RUN_REPLACED}
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.step_runs.c.cache_key],
                    set_=replaced,
                    where=t.step_runs.c.outputs_json != statement.excluded.outputs_json,
                )
            )
            faults.reached("step_run_uncommitted")

    def record_firing(self, values: Mapping[str, Any], write: Callable[[], None]) -> bool:
        """Insert a trigger firing unless its (model, trigger, occasion) is recorded, then call
        ``write`` before committing; whether it was inserted.

        Firings are serialised like every write (SQLite's BEGIN IMMEDIATE; on PostgreSQL an
        advisory lock), so two runs editing one config file take turns.
        """
        with self._write("recording a trigger firing") as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRING_LOCK_KEY})
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(t.trigger_firings).values(dict(values))
            inserted = conn.execute(
                statement.on_conflict_do_nothing(
                    index_elements=["model", "trigger", "occasion"]
                ).returning(t.trigger_firings.c.id)
            ).scalar_one_or_none()
            if inserted is None:
                return False
            write()
        return True

    def record_sample(self, values: Mapping[str, Any]) -> int:
        """Append a monitor sample; its id. Samples are observations, not state changes: no
        change-log row and no serial bump, so they never make a saved plan stale."""
        with self._write("recording a monitor sample") as conn:
            result = conn.execute(insert(t.monitor_samples).values(values))
            (sample_id,) = result.inserted_primary_key or (None,)
        if not isinstance(sample_id, int):
            raise StateError(f"the state database {self._link.target.display} returned no id")
        return sample_id


def _serial(conn: Connection, *, for_update: bool = False) -> int:
    query = select(t.meta.c.value).where(t.meta.c.key == "serial")
    if for_update:
        # Serialises PostgreSQL writers on this row; SQLite's BEGIN IMMEDIATE already has.
        query = query.with_for_update()
    value = conn.execute(query).scalar_one()
    return int(value)


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
RowWriter = Callable[[Connection, int, Change, str], None]
"""Makes one kind of change true in its table: (connection, apply id, change, now)."""


def apply_change(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    """Make ``change.after`` true in its table (None: remove the row)."""
    ROW_WRITERS[change.target.kind](conn, apply_id, change, now)


def _after(change: Change, kind: type[R]) -> R | None:
    """The change's new value as the type its kind takes (``Change`` already checks it)."""
    after = change.after
    if after is None or isinstance(after, kind):
        return after
    raise ValueError(f"malformed change to {change.target}: its value is not a {kind.__name__}")


def _write_model(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, ModelRecord)
    if after is None:
        conn.execute(delete(t.models).where(t.models.c.name == target.model))
        return
    values = {
        "name": target.model,
        "created_at": after.created_at,
        "archived": after.archived,
        "apply_id": apply_id,
    }
    # The apply that created the model stays its apply; archiving does not move it.
    _upsert(conn, t.models, ["name"], values, keep=["apply_id"])


def _write_version(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, VersionRecord)
    v = t.versions.c
    if after is None:
        conn.execute(delete(t.versions).where(v.model == target.model, v.label == target.name))
        return
    if after.status not in VERSION_STATUSES:
        raise ValueError(f"malformed change to {target}: status {after.status!r} is unknown")
    record = after.to_json()
    values = {
        column: _json_column(record[name]) if name in VERSION_JSON_FIELDS else record[name]
        for name, column in zip(VERSION_FIELDS, VERSION_COLUMNS, strict=True)
    }
    _upsert(
        conn,
        t.versions,
        ["model", "label"],
        {"model": target.model, "label": target.name, **values},
    )


def _write_alias(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, AliasRecord)
    a = t.aliases.c
    if after is None:
        conn.execute(delete(t.aliases).where(a.model == target.model, a.name == target.name))
        return
    values = {
        "model": target.model,
        "name": target.name,
        "version": after.version,
        "apply_id": apply_id,
        "updated_at": now,
    }
    _upsert(conn, t.aliases, ["model", "name"], values)


def _write_pin(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    target, after = change.target, _after(change, PinRecord)
    p = t.pins.c
    if after is None:
        conn.execute(delete(t.pins).where(p.model == target.model, p.alias == target.name))
        return
    values = {
        "model": target.model,
        "alias": target.name,
        "version": after.version,
        "revert_apply_id": after.revert_apply_id,
    }
    _upsert(conn, t.pins, ["model", "alias"], values)


def _write_evaluation(conn: Connection, apply_id: int, change: Change, now: str) -> None:
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
    conn.execute(
        insert(t.evaluations).values(
            model=target.model, label=target.name, apply_id=apply_id, **row
        )
    )


def _write_gate(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    """A gate's decision is kept in the change log alone."""
    _after(change, GateDecision)


def _write_policy(conn: Connection, apply_id: int, change: Change, now: str) -> None:
    after = _after(change, PolicyRecord)
    if after is None:
        conn.execute(delete(t.policy))
        return
    values = {
        "id": 1,
        "value_json": canonical_json(after.to_json()),
        "apply_id": apply_id,
        "updated_at": now,
    }
    _upsert(conn, t.policy, ["id"], values)


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
    conn: Connection,
    table: Any,
    keys: Sequence[str],
    values: Mapping[str, Any],
    keep: Sequence[str] = (),
) -> None:
    """Insert or update by ``keys``; columns in ``keep`` keep their first value."""
    changed = [name for name in values if name not in keys and name not in keep]
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(values)
        pg = pg.on_conflict_do_update(
            index_elements=list(keys), set_={name: pg.excluded[name] for name in changed}
        )
        conn.execute(pg)
    else:
        lite = sqlite.insert(table).values(values)
        lite = lite.on_conflict_do_update(
            index_elements=list(keys), set_={name: lite.excluded[name] for name in changed}
        )
        conn.execute(lite)
