"""The state lock on both backends: fail fast naming the holder, wait, release, break; take
over the lock of a holder that is provably dead, and only then."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mvctl.errors import LockHeldError, NotFoundError
from mvctl.state import liveness
from mvctl.state import lock as state_lock
from mvctl.state.connection import Link
from mvctl.state.db import LockInfo, StateDB
from mvctl.state.url import parse_state_url


def test_second_lock_fails_fast_naming_the_holder(db: StateDB) -> None:
    lock_id = db.acquire_lock("apply", "alice")
    holder = db.lock_holder()
    assert holder is not None
    assert (holder.lock_id, holder.actor, holder.operation, holder.pid) == (
        lock_id,
        "alice",
        "apply",
        os.getpid(),
    )
    started = time.monotonic()
    with pytest.raises(LockHeldError) as caught:
        db.acquire_lock("revert", "bob")
    assert time.monotonic() - started < 2
    message = str(caught.value)
    for part in ("alice", "apply", f"pid {os.getpid()}", holder.host, holder.acquired_at, lock_id):
        assert part in message
    assert f"`mvctl state unlock --force {lock_id}`" in message
    assert db.lock_holder() == holder


def test_release_removes_only_the_callers_lock(db: StateDB) -> None:
    lock_id = db.acquire_lock("apply", "alice")
    db.release_lock("someone-else")
    holder = db.lock_holder()
    assert holder is not None and holder.lock_id == lock_id
    db.release_lock(lock_id)
    assert db.lock_holder() is None
    second = db.acquire_lock("revert", "bob")
    assert second != lock_id


def test_force_unlock_needs_the_holders_id(db: StateDB) -> None:
    with pytest.raises(NotFoundError, match="no state lock"):
        db.force_unlock("abcd1234")
    lock_id = db.acquire_lock("apply", "alice")
    with pytest.raises(NotFoundError) as caught:
        db.force_unlock("abcd1234")
    assert f"--force {lock_id}" in str(caught.value)
    assert db.lock_holder() is not None
    broken = db.force_unlock(lock_id)
    assert (broken.lock_id, broken.actor) == (lock_id, "alice")
    assert db.lock_holder() is None


def test_lock_wait_succeeds_when_the_holder_releases(db: StateDB, state_url: str) -> None:
    lock_id = db.acquire_lock("apply", "alice")
    errors: list[BaseException] = []

    def release_later() -> None:
        try:
            time.sleep(0.5)
            with StateDB.open(state_url, create=True) as other:
                other.release_lock(lock_id)
        except BaseException as exc:
            errors.append(exc)

    releaser = threading.Thread(target=release_later)
    started = time.monotonic()
    releaser.start()
    try:
        second = db.acquire_lock("revert", "bob", timeout_s=20)
    finally:
        releaser.join()
    assert errors == []
    assert time.monotonic() - started >= 0.4
    holder = db.lock_holder()
    assert holder is not None and (holder.lock_id, holder.actor) == (second, "bob")


def test_lock_wait_gives_up_after_the_timeout(db: StateDB) -> None:
    db.acquire_lock("apply", "alice")
    started = time.monotonic()
    with pytest.raises(LockHeldError, match="waited"):
        db.acquire_lock("revert", "bob", timeout_s=0.6)
    assert 0.55 <= time.monotonic() - started < 5


# -- taking over the lock of a dead holder ----------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**delta))


def plant(state_url: str, **fields: Any) -> LockInfo:
    """A lock row written straight into the database, as another process would have left it:
    an apply of alice's on this host, its heartbeat fresh, unless ``fields`` say otherwise."""
    now = iso(datetime.now(UTC))
    holder = replace(
        LockInfo(
            lock_id="0ld10ck5",
            actor="alice",
            operation="apply",
            pid=os.getpid(),
            host=socket.gethostname(),
            acquired_at=now,
            process=liveness.process_identity(os.getpid()),
            heartbeat_at=now,
            lease_s=120.0,
        ),
        **fields,
    )
    link = Link(parse_state_url(state_url), wal=False)
    try:
        with link.transaction("planting a lock", write=True) as tx:
            assert state_lock.try_insert(tx, holder)
    finally:
        link.close()
    return holder


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def dead_process() -> tuple[int, str]:
    """The pid and identity of a process that has ended (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = liveness.process_identity(process.pid)
    process.kill()
    process.wait()
    assert identity is not None
    return process.pid, identity


_SECONDS_AGO = re.compile(r"\d+ s ago")


def assert_taken_over(db: StateDB, planted: LockInfo, reason: str) -> None:
    lock_id = db.acquire_lock("apply", "bob")
    holder = db.lock_holder()
    assert holder is not None and (holder.lock_id, holder.actor) == (lock_id, "bob")
    assert db.takeover is not None
    # The reason counts the seconds since the holder's last heartbeat: the takeover may come
    # a second after ``reason`` was worked out.
    assert db.takeover.holder == planted
    assert _SECONDS_AGO.sub("N s ago", db.takeover.reason) == _SECONDS_AGO.sub("N s ago", reason)


def test_the_lock_of_a_dead_process_is_taken_over_with_a_warning(
    db: StateDB, state_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pid, identity = dead_process()
    planted = plant(state_url, pid=pid, process=identity)
    assert_taken_over(db, planted, f"pid {pid} is not running on {planted.host}")
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "mvctl.lock"]
    assert warning == (
        f"Warning: took over the state lock of alice (apply, pid {pid} on {planted.host}) since "
        f"{planted.acquired_at}, lock id 0ld10ck5: pid {pid} is not running on {planted.host}."
    )


def test_a_reused_pid_is_taken_over(db: StateDB, state_url: str) -> None:
    """The lock names a running pid, but that process started after the lock was taken."""
    boot, namespace, ticks = (liveness.process_identity(os.getpid()) or "").split(" ")
    planted = plant(state_url, process=f"{boot} {namespace} {int(ticks) - 1}")
    assert_taken_over(
        db,
        planted,
        f"pid {os.getpid()} on {planted.host} is another process now (it started after the "
        "lock was taken)",
    )


def test_a_live_holder_is_not_taken_over_even_past_its_lease(
    db: StateDB, state_url: str, sleeper: subprocess.Popen[bytes]
) -> None:
    planted = plant(
        state_url,
        pid=sleeper.pid,
        process=liveness.process_identity(sleeper.pid),
        heartbeat_at=ago(hours=1),
        lease_s=1.0,
    )
    started = time.monotonic()
    with pytest.raises(LockHeldError) as caught:
        db.acquire_lock("apply", "bob")
    assert time.monotonic() - started < 2
    assert f"locked by alice (apply, pid {sleeper.pid}" in str(caught.value)
    assert db.lock_holder() == planted and db.takeover is None
    assert db.dead_holder_reason(planted) is None


def test_another_hosts_lock_is_taken_over_once_its_lease_ran_out(
    db: StateDB, state_url: str
) -> None:
    silent_since = ago(minutes=10)
    planted = plant(state_url, host="elsewhere", pid=4242, heartbeat_at=silent_since)
    reason = db.dead_holder_reason(planted)
    assert reason is not None and reason.startswith(f"its heartbeat stopped at {silent_since}, ")
    assert reason.endswith(" s ago, past its 120 s lease")
    assert_taken_over(db, planted, reason)


def test_another_hosts_lock_within_its_lease_is_not_taken_over(db: StateDB, state_url: str) -> None:
    planted = plant(state_url, host="elsewhere", pid=4242, heartbeat_at=ago(seconds=60))
    with pytest.raises(LockHeldError, match="locked by alice"):
        db.acquire_lock("apply", "bob")
    assert db.lock_holder() == planted


def test_a_lock_taken_by_hand_is_never_taken_over(db: StateDB, state_url: str) -> None:
    """`mvctl state lock` records no proof of life: its process has ended at once."""
    pid, _ = dead_process()
    planted = plant(state_url, pid=pid, process=None, heartbeat_at=None, lease_s=None)
    with pytest.raises(LockHeldError) as caught:
        db.acquire_lock("apply", "bob")
    assert "`mvctl state unlock --force 0ld10ck5`" in str(caught.value)
    assert db.lock_holder() == planted and db.dead_holder_reason(planted) is None


def test_the_holder_refreshes_its_heartbeat(db: StateDB) -> None:
    db.acquire_lock("apply", "alice", lease_s=2)
    holder = db.lock_holder()
    assert holder is not None and holder.heartbeat_at == holder.acquired_at
    assert holder.lease_s == 2 and holder.process == liveness.process_identity(os.getpid())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        refreshed = db.lock_holder()
        assert refreshed is not None
        if refreshed.heartbeat_at != holder.heartbeat_at:
            break
        time.sleep(0.2)
    assert refreshed.heartbeat_at is not None and holder.heartbeat_at is not None
    assert refreshed.heartbeat_at > holder.heartbeat_at


def test_a_holder_whose_lock_was_taken_writes_nothing_more(db: StateDB, state_url: str) -> None:
    lock_id = db.acquire_lock("apply", "alice")
    with StateDB.open(state_url, create=True) as other:
        other.force_unlock(lock_id)
        taken = other.acquire_lock("apply", "bob")
        with pytest.raises(LockHeldError) as caught:
            db.begin_apply(kind="apply", actor="alice", plan_hash="h", expected_serial=None)
        assert f"no longer holds the state lock {lock_id}: it is held by bob" in str(caught.value)
        assert f"lock id {taken}" in str(caught.value)
        assert other.applies() == []


@pytest.mark.postgres
def test_a_holder_whose_session_is_gone_is_taken_over(postgres_database_url: str) -> None:
    """Another host, a lease long run out: the session decides, alive or gone."""
    import psycopg

    libpq = postgres_database_url.replace("postgresql+psycopg://", "postgresql://")
    with StateDB.open(postgres_database_url, create=True) as db:
        holder_session = psycopg.connect(libpq, autocommit=True)
        row = holder_session.execute(
            state_lock.CLAIM_SESSION.replace("?", "%s"), (state_lock.ADVISORY_CLASS, "0ld10ck5")
        ).fetchone()
        assert row is not None and row[0]
        planted = plant(
            postgres_database_url,
            host="elsewhere",
            heartbeat_at=ago(hours=1),
            lease_s=1.0,
            session=row[1],
        )
        with pytest.raises(LockHeldError, match="locked by alice"):
            db.acquire_lock("apply", "bob")
        holder_session.close()
        deadline = time.monotonic() + 10
        while db.dead_holder_reason(planted) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert_taken_over(db, planted, f"its database session (backend pid {row[1]}) is gone")


@pytest.mark.parametrize("pid", [0, -1, 2**22 + 1, 2**40])
def test_a_lock_row_naming_an_impossible_pid_proves_nothing(pid: int) -> None:
    """A row written by hand naming our own machine: no probe, no signal, no takeover until
    its lease runs out."""
    fresh = iso(datetime.now(UTC))
    holder = LockInfo(
        "0ld10ck5",
        "mallory",
        "apply",
        pid,
        socket.gethostname(),
        fresh,
        liveness.process_identity(os.getpid()),
        fresh,
        120.0,
    )
    assert liveness.why_dead(holder, now=datetime.now(UTC)) is None
    expired = replace(holder, heartbeat_at=ago(minutes=5))
    assert "past its 120 s lease" in (liveness.why_dead(expired, now=datetime.now(UTC)) or "")


@pytest.mark.parametrize("lease", [float("nan"), float("inf")])
def test_a_lease_that_never_runs_out_proves_nothing(lease: float) -> None:
    holder = LockInfo("0ld10ck5", "mallory", "apply", 4242, "elsewhere", ago(days=9))
    silent = replace(holder, heartbeat_at=ago(days=9), lease_s=lease)
    assert liveness.why_dead(silent, now=datetime.now(UTC)) is None
