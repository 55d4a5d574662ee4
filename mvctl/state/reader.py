"""The read half of the state: SQL text shared by SQLite and PostgreSQL, rows into values.

Each function runs inside a read transaction the state opened (a ``Tx``), so several
SELECTs see one snapshot. Only the columns needed are selected and unpacked straight into
frozen dataclasses: a snapshot of 10,000 versions must cost milliseconds. The SQL names the
tables and columns ``tables.py`` declares; the state tests run every statement on both
backends against the migrated schema, so a drift fails there.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any, get_args

from mvctl.collector import built_to_last
from mvctl.core.recorded import (
    DEP_FILES,
    RESULT_KINDS,
    Change,
    Firing,
    LoggedChange,
    LogRow,
    RecordedAlias,
    RecordedOverview,
    RecordedPin,
    RecordedPolicy,
    RecordedState,
    RecordedVersion,
    StepRun,
    Target,
    TriggerKind,
)
from mvctl.core.records import (
    JSON,
    VERSION_FIELDS,
    PinRecord,
    RecordShapeError,
    policy_shape_problem,
    record_from_json,
    target_kind,
    version_status,
)
from mvctl.errors import StateError
from mvctl.results.records import ApplyRecord, VersionDetail
from mvctl.state.connection import Row, Tx
from mvctl.state.evaluations import latest_evaluations

SERIAL = "SELECT value FROM meta WHERE key = 'serial'"

# The snapshot: no parameters, so the same text runs on both drivers.
MODEL_NAMES = "SELECT name FROM models"
VERSIONS = (
    "SELECT model, label, status, spec_hash, metadata_hash, artifact_digest, spec_json, "
    "apply_id, created_by, created_at FROM versions"
)
ALIASES = "SELECT model, name, version, apply_id FROM aliases"
PINS = "SELECT model, alias, version, revert_apply_id FROM pins"
STEP_KEYS = "SELECT cache_key FROM step_runs"
# The latest run per (model, step): ids grow in insertion order.
LAST_STEP_INPUTS = (
    "SELECT model, step, inputs_json FROM step_runs "
    "WHERE id IN (SELECT max(id) FROM step_runs GROUP BY model, step)"
)
# The latest log row per alias. Writers are serialised and write rows in seq order, so the
# highest id is the latest (apply id, seq).
LOGGED_ALIASES = (
    "SELECT model, name, after_json FROM changes WHERE id IN "
    "(SELECT max(id) FROM changes WHERE target_kind = 'alias' GROUP BY model, name)"
)

POLICY = "SELECT value_json, apply_id FROM policy WHERE id = 1"

STEP_RUN = (
    "SELECT cache_key, model, step, outputs_json, inputs_json, log_digest, duration_s, "
    "apply_id FROM step_runs WHERE cache_key = ?"
)
PIN = "SELECT version, revert_apply_id FROM pins WHERE model = ? AND alias = ?"
VERSION_JSON_FIELDS = frozenset({"spec", "params", "lineage", "failure", "tags"})
"""The fields of a ``VersionRecord`` stored as JSON text, each in a column named
``<field>_json``; the others have a column of their own name."""
VERSION_COLUMNS = tuple(
    f"{name}_json" if name in VERSION_JSON_FIELDS else name for name in VERSION_FIELDS
)
"""The ``versions`` columns that hold a record, in ``VersionRecord`` field order."""
VERSION_DETAILS = f"SELECT model, label, {', '.join(VERSION_COLUMNS)} FROM versions"
APPLIES = (
    "SELECT a.id, a.kind, a.actor, a.started_at, a.finished_at, a.plan_hash, a.status, "
    "a.message, a.serial_before, a.serial_after, a.reverts_apply_id, "
    "(SELECT count(*) FROM changes AS c WHERE c.apply_id = a.id) "
    "FROM applies AS a"
)
"""Each apply with its number of changes, counted through the (apply_id, seq) index for the
applies returned only: a page of history never scans the whole change log."""
LAST_APPLY_ID = "SELECT max(id) FROM applies"
CHANGES = (
    "SELECT apply_id, seq, target_kind, model, name, before_json, after_json, actor FROM changes"
)


FIRINGS = (
    "SELECT id, model, trigger, kind, occasion, period, digests_json, label, source, file, "
    "fired_at, actor FROM trigger_firings ORDER BY id"
)


def trigger_firings(tx: Tx) -> list[Firing]:
    """Every recorded trigger firing, oldest first."""
    found = []
    for row in tx.rows(FIRINGS):
        kind = row[3]
        if kind not in get_args(TriggerKind):
            raise StateError(
                f"trigger firing #{row[0]} in {tx.display} has the unknown kind {kind!r}",
                fix="It was changed by something other than mvctl; restore it from a backup.",
            )
        digests = json.loads(row[6])
        found.append(Firing(row[0], row[1], row[2], kind, row[4], row[5], digests, *row[7:]))
    return found


def serial(tx: Tx) -> int:
    row = tx.first(SERIAL)
    if row is None:
        raise StateError(
            f"the state database {tx.display} has no serial row",
            fix="It was changed by something other than mvctl; restore it from a backup.",
        )
    return int(row[0])


def snapshot(tx: Tx) -> RecordedState:
    """The whole recorded state the planner needs."""
    with built_to_last():
        versions = {(row[0], row[1]): RecordedVersion(*row) for row in tx.rows(VERSIONS)}
        return RecordedState(
            serial=serial(tx),
            models=frozenset(name for (name,) in tx.rows(MODEL_NAMES)),
            versions=versions,
            aliases={(row[0], row[1]): RecordedAlias(*row) for row in tx.rows(ALIASES)},
            pins={(row[0], row[1]): RecordedPin(*row) for row in tx.rows(PINS)},
            step_keys=frozenset(key for (key,) in tx.rows(STEP_KEYS)),
            last_step_inputs={
                (model, step): inputs for model, step, inputs in tx.rows(LAST_STEP_INPUTS)
            },
            logged_aliases={
                (model, name): None if after is None else json.loads(after)["version"]
                for model, name, after in tx.rows(LOGGED_ALIASES)
            },
            evaluations=latest_evaluations(tx, versions),
            policy=recorded_policy(tx),
        )


# `mvctl status`: each by its primary key or the (model, label) index when a model is given.
OVERVIEW_MODELS = "SELECT name FROM models"
OVERVIEW_VERSIONS = "SELECT model, label, status, created_at FROM versions"
OVERVIEW_ALIASES = (
    "SELECT a.model, a.name, a.version, p.revert_apply_id FROM aliases AS a "
    "LEFT JOIN pins AS p ON p.model = a.model AND p.alias = a.name"
)


def overview(tx: Tx, model: str | None) -> RecordedOverview:
    """The model names, versions and aliases `mvctl status` prints (of ``model`` alone, if
    given), nothing else."""
    if model is None:
        models, versions, aliases = OVERVIEW_MODELS, OVERVIEW_VERSIONS, OVERVIEW_ALIASES
        params: tuple[str, ...] = ()
    else:
        models = OVERVIEW_MODELS + " WHERE name = ?"
        versions = OVERVIEW_VERSIONS + " WHERE model = ?"
        aliases = OVERVIEW_ALIASES + " WHERE a.model = ?"
        params = (model,)
    return RecordedOverview(
        serial=serial(tx),
        models=frozenset(name for (name,) in tx.rows(models, params)),
        versions=tuple(
            (m, label, status, at) for m, label, status, at in tx.rows(versions, params)
        ),
        aliases=tuple((m, name, v, pin) for m, name, v, pin in tx.rows(aliases, params)),
    )


STEP_OUTPUTS = "SELECT cache_key, outputs_json FROM step_runs WHERE cache_key IN ({})"
KEYS_PER_QUERY = 500
"""Well under SQLite's and PostgreSQL's limits on parameters per statement."""


def step_outputs(tx: Tx, cache_keys: Collection[str]) -> dict[str, dict[str, str]]:
    """{cache key: {output name: digest}} of the recorded step runs among ``cache_keys``."""
    keys = sorted(cache_keys)
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        sql = STEP_OUTPUTS.format(", ".join("?" * len(chunk)))
        for key, outputs_json in tx.rows(sql, chunk):
            found[key] = json.loads(outputs_json)
    return found


def recorded_policy(tx: Tx) -> RecordedPolicy | None:
    """The policy in force, or None when none was ever recorded.

    Refused when it is not what mvctl writes: a policy misread could allow what it forbids.
    """
    row = tx.first(POLICY)
    if row is None:
        return None
    value, apply_id = _stored_json(row[0]), row[1]
    problem = policy_shape_problem(value)
    if problem is not None:
        raise StateError(
            f"the policy recorded in the state database {tx.display} is malformed: {problem}",
            fix="It was changed by something other than mvctl; restore it from a backup, or "
            "check the change log with `mvctl state check`.",
        )
    return RecordedPolicy(value, apply_id)


def recorded_policy_value(tx: Tx) -> Any:
    """The policy row's value as stored, whatever its shape (what `state check` compares with
    the log); None when there is no row."""
    row = tx.first(POLICY)
    return None if row is None else _stored_json(row[0])


def _stored_json(text: str) -> Any:
    """Stored JSON text as a value; text that is not JSON stays the text it is."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def step_run(tx: Tx, cache_key: str) -> StepRun | None:
    row = tx.first(STEP_RUN, (cache_key,))
    if row is None:
        return None
    key, model, step, outputs_json, inputs_json, log_digest, duration_s, apply_id = row
    return StepRun(
        cache_key=key,
        model=model,
        step=step,
        outputs=json.loads(outputs_json),
        inputs_json=inputs_json,
        log_digest=log_digest,
        duration_s=duration_s,
        apply_id=apply_id,
    )


def applies(
    tx: Tx, *, model: str | None, since: str | None, limit: int | None, before: int | None = None
) -> list[ApplyRecord]:
    """Newest first; ``since`` is already in stored form (``normalize_since``). Walked down
    the applies' primary key, so a page costs the same however long the log is."""
    where: list[str] = []
    params: list[Any] = []
    if model is not None:
        # Through the (model, apply_id) index: one model's applies, never a scan of the log.
        where.append("a.id IN (SELECT apply_id FROM changes WHERE model = ?)")
        params.append(model)
    if since is not None:
        where.append("a.started_at >= ?")
        params.append(since)
    if before is not None:
        where.append("a.id < ?")
        params.append(before)
    sql = APPLIES + _where(where) + " ORDER BY a.id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [ApplyRecord(*row) for row in tx.rows(sql, params)]


def apply_record(tx: Tx, apply_id: int) -> ApplyRecord | None:
    row = tx.first(APPLIES + " WHERE a.id = ?", (apply_id,))
    return None if row is None else ApplyRecord(*row)


def last_apply_id(
    tx: Tx, *, kind: str | None, status: str | None, with_changes: bool
) -> int | None:
    where: list[str] = []
    params: list[Any] = []
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if with_changes:
        # Results (evaluations, gate decisions) are facts, not changes revert could undo.
        kinds = ", ".join(f"'{kind}'" for kind in sorted(RESULT_KINDS))
        where.append(f"id IN (SELECT apply_id FROM changes WHERE target_kind NOT IN ({kinds}))")
    row = tx.first(LAST_APPLY_ID + _where(where), params)
    return None if row is None else row[0]


def log_rows(
    tx: Tx, *, apply_ids: Collection[int] | None, after_apply_id: int | None
) -> list[LogRow]:
    """Change-log rows as stored, their values left as JSON whatever their shape (what `state
    check` replays), in the order they were made (apply id, then seq)."""
    where: list[str] = []
    params: list[Any] = []
    if apply_ids is not None:
        ordered = sorted(apply_ids)
        where.append(f"apply_id IN ({', '.join('?' * len(ordered))})")
        params += ordered
    if after_apply_id is not None:
        where.append("apply_id > ?")
        params.append(after_apply_id)
    rows = tx.rows(CHANGES + _where(where) + " ORDER BY apply_id, seq", params)
    return [
        LogRow(apply_id, seq, kind, model, name, _loads(before), _loads(after), actor)
        for apply_id, seq, kind, model, name, before, after, actor in rows
    ]


def changes(
    tx: Tx, *, apply_ids: Collection[int] | None, after_apply_id: int | None
) -> list[LoggedChange]:
    """Change-log rows as typed changes, in the order they were made (apply id, then seq).

    A row mvctl did not write (a hand edit, a foreign database) is refused, naming it: revert
    and history must not act on a value they misread.
    """
    return [
        _logged_change(tx, row)
        for row in log_rows(tx, apply_ids=apply_ids, after_apply_id=after_apply_id)
    ]


def _logged_change(tx: Tx, row: LogRow) -> LoggedChange:
    try:
        kind = target_kind(row.kind)
        change = Change(
            Target(kind, row.model, row.name),
            record_from_json(kind, row.before),
            record_from_json(kind, row.after),
        )
    except RecordShapeError as error:
        raise StateError(
            f"change {row.seq} of apply #{row.apply_id} in the change log of {tx.display} "
            f"({row.kind} {row.model}:{row.name}) is not one mvctl writes: {error}",
            fix="It was changed by something other than mvctl; run `mvctl state check`, and "
            "restore the state database from a backup.",
        ) from error
    return LoggedChange(row.apply_id, row.seq, change, row.actor)


def pin_value(tx: Tx, model: str, alias: str) -> PinRecord | None:
    row = tx.first(PIN, (model, alias))
    return None if row is None else PinRecord(row[0], row[1])


def version_details(tx: Tx, model: str, label: str | None = None) -> list[VersionDetail]:
    """The versions of ``model`` (just ``label``, if given) in the order they were recorded."""
    if label is None:
        rows = tx.rows(VERSION_DETAILS + " WHERE model = ? ORDER BY id", (model,))
    else:
        rows = tx.rows(VERSION_DETAILS + " WHERE model = ? AND label = ?", (model, label))
    return [_version_detail(row) for row in rows]


def _version_detail(row: Row) -> VersionDetail:
    model, label, *stored = row
    value = _version_json(stored)
    try:
        value["status"] = version_status(value["status"])
    except RecordShapeError as error:
        raise StateError(
            f"version {model}@{label} in the state database is not one mvctl writes: {error}",
            fix="It was changed by something other than mvctl; run `mvctl state check`, and "
            "restore the state database from a backup.",
        ) from error
    return VersionDetail(model=model, label=label, **value)


def version_values(tx: Tx, model: str) -> list[tuple[str, dict[str, JSON]]]:
    """(label, the row as a version's change-log JSON) for each version of ``model``, whatever
    the row holds: what `state check` compares with the log."""
    rows = tx.rows(VERSION_DETAILS + " WHERE model = ? ORDER BY id", (model,))
    return [(label, _version_json(stored)) for _, label, *stored in rows]


def _version_json(stored: Sequence[Any]) -> dict[str, JSON]:
    """A ``versions`` row's record columns as a version's change-log JSON."""
    return {
        name: _loads(text) if name in VERSION_JSON_FIELDS else text
        for name, text in zip(VERSION_FIELDS, stored, strict=True)
    }


# Blobs the state names (`mvctl store gc`): versions as they are, every version value the
# change log keeps (what revert may restore), and every step run.
VERSION_BLOBS = "SELECT artifact_digest, lineage_json, failure_json FROM versions"
LOGGED_VERSION_BLOBS = "SELECT before_json, after_json FROM changes WHERE target_kind = 'version'"
STEP_RUN_BLOBS = "SELECT outputs_json, inputs_json, log_digest FROM step_runs"


def referenced_digests(tx: Tx) -> frozenset[str]:
    """Every blob digest a recorded version (artifact, step outputs, logs and kept dep files,
    failure log), a version value in the change log, or a step run (outputs, log, kept dep
    files) refers to."""
    found: set[str] = set()
    for artifact, lineage_json, failure_json in tx.rows(VERSION_BLOBS):
        _version_blobs(found, artifact, _loads(lineage_json), _loads(failure_json))
    for before_json, after_json in tx.rows(LOGGED_VERSION_BLOBS):
        for value in (_loads(before_json), _loads(after_json)):
            if isinstance(value, dict):
                _version_blobs(
                    found, value.get("artifact_digest"), value.get("lineage"), value.get("failure")
                )
    for outputs_json, inputs_json, log_digest in tx.rows(STEP_RUN_BLOBS):
        found.update(str(digest) for digest in json.loads(outputs_json).values())
        if log_digest:
            found.add(log_digest)
        inputs = _loads(inputs_json)
        if isinstance(inputs, dict):
            _kept_dep_files(found, inputs.get(DEP_FILES))
    return frozenset(found)


def _kept_dep_files(found: set[str], dep_files: Any) -> None:
    """The digests of the dep files a step run kept in the store (``core.reproduction``)."""
    for entry in dep_files.values() if isinstance(dep_files, dict) else ():
        if isinstance(entry, dict) and entry.get("kept") and isinstance(entry.get("files"), dict):
            found.update(str(digest) for digest in entry["files"].values())


def _version_blobs(found: set[str], artifact: Any, lineage: Any, failure: Any) -> None:
    if isinstance(artifact, str):
        found.add(artifact)
    steps = lineage.get("steps") if isinstance(lineage, dict) else None
    for info in steps.values() if isinstance(steps, dict) else ():
        found.update(str(digest) for digest in info.get("outputs", {}).values())
        if info.get("log"):
            found.add(str(info["log"]))
        _kept_dep_files(found, info.get(DEP_FILES))
    if isinstance(failure, dict) and failure.get("log"):
        found.add(str(failure["log"]))


def _where(conditions: Sequence[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
