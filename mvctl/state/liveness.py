"""Whether the holder of the state lock is provably dead, so that the next apply may take over.

A lock is left behind when its holder dies without releasing it (SIGKILL, a lost machine, a
cancelled CI job). Taking it over is safe only when the holder is *provably* dead: a guess
from the lock's age would let two writers run at once. Three proofs, in this order:

* Same machine: the holder's pid is not running, or belongs to another process now. "Same
  machine" is the same host name, boot (``/proc/sys/kernel/random/boot_id``) and pid
  namespace, so a container that shares the host's name but not its pids proves nothing;
  the start time in ``/proc/PID/stat``, recorded with the lock, tells a reused pid from the
  holder. A holder that is running on this machine is alive, whatever else is said.
* PostgreSQL: the holder keeps a session-level advisory lock, keyed by its lock id, on a
  connection of its own (``state/keeper.py``). The server drops it the moment that session
  ends, so when nobody holds it any more, the holder's session is gone.
* Otherwise a heartbeat: the holder refreshes ``heartbeat_at`` from a background thread and
  counts as dead once its ``lease_s`` has passed without one. The hosts' clocks must agree to
  within the lease.

A lock taken by hand (`mvctl state lock`) or by an mvctl from before these proofs records
none of them: it is never taken over, and `mvctl state unlock --force` is for it.
"""

from __future__ import annotations

import functools
import math
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from mvctl import clock
from mvctl.results.records import LockInfo

PROC = Path("/proc")
MAX_PID = 2**22
"""Linux's highest possible pid (``pid_max`` cannot be set above it)."""


@functools.cache
def _machine() -> tuple[str, str] | None:
    """This machine's boot id and this process's pid namespace; None without Linux's /proc."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text("ascii").strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    return boot, namespace


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/PID/stat`` (state first); None when it cannot be read."""
    try:
        stat = (PROC / str(pid) / "stat").read_text("ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat.rpartition(")")[2].split()
    return fields if len(fields) >= 20 else None


def _start_ticks(pid: int) -> str | None:
    """When running process ``pid`` started, in clock ticks since boot; None if there is no
    such running process to read (gone, a zombie, or hidden from this user)."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return fields[19]


def _gone(pid: int) -> bool:
    """Whether no process ``pid`` runs: no such pid, or a zombie (exited, not yet reaped)."""
    fields = _stat_fields(pid)
    if fields is not None:
        return fields[0] == "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False  # it exists, but /proc hides it from us


def process_identity(pid: int) -> str | None:
    """What tells process ``pid`` from every other process of this machine, past or future:
    boot id, pid namespace and start time. None where that cannot be read (no /proc)."""
    machine = _machine()
    ticks = _start_ticks(pid)
    if machine is None or ticks is None:
        return None
    return f"{machine[0]} {machine[1]} {ticks}"


def this_host() -> str:
    return socket.gethostname()


def why_dead(holder: LockInfo, *, now: datetime, session_alive: bool | None = None) -> str | None:
    """Why the holder is provably dead, or None while it may be alive.

    ``session_alive``: on PostgreSQL, whether the holder's session still holds its advisory
    lock; None where there is no session to ask about.
    """
    if not holder.provable:
        return None
    on_this_machine = _why_dead_here(holder)
    if on_this_machine is not None:
        return on_this_machine or None
    if holder.session is not None and session_alive is not None:
        if session_alive:
            return None
        return f"its database session (backend pid {holder.session}) is gone"
    return _lease_ran_out(holder, now)


def _why_dead_here(holder: LockInfo) -> str | None:
    """Same machine: why its process is gone, or '' when it is running; None: another machine
    (or no /proc to look in), so the process proves nothing either way."""
    machine = _machine()
    if holder.process is None or holder.host != this_host() or machine is None:
        return None
    if not 0 < holder.pid <= MAX_PID:
        return None  # no process has that pid: the row was not written by an mvctl
    parts = holder.process.split(" ")
    if len(parts) != 3 or (parts[0], parts[1]) != machine:
        return None
    ticks = parts[2]
    now_there = _start_ticks(holder.pid)
    if now_there is None:
        if not _gone(holder.pid):
            return ""  # it runs, but /proc hides it from us: nothing is proven
        return f"pid {holder.pid} is not running on {holder.host}"
    if now_there != ticks:
        return (
            f"pid {holder.pid} on {holder.host} is another process now (it started after the "
            "lock was taken)"
        )
    return ""


def _lease_ran_out(holder: LockInfo, now: datetime) -> str | None:
    if holder.heartbeat_at is None or holder.lease_s is None or not math.isfinite(holder.lease_s):
        return None
    try:
        beat = datetime.strptime(holder.heartbeat_at, clock.STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None  # unreadable: nothing is proven by it
    silent = (now - beat).total_seconds()
    if silent <= holder.lease_s:
        return None
    return (
        f"its heartbeat stopped at {holder.heartbeat_at}, {silent:.0f} s ago, past its "
        f"{holder.lease_s:g} s lease"
    )
