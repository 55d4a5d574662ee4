"""The state lock on both backends: fail fast naming the holder, wait, release, break."""

from __future__ import annotations

import os
import threading
import time

import pytest

from mvctl.errors import LockHeldError, NotFoundError
from mvctl.state.db import StateDB


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
