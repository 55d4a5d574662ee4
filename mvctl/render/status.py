"""`mvctl status` as markup text and as JSON, apart from the other records so that status loads
only what it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.status import StatusResult

if TYPE_CHECKING:
    from mvctl.render.shapes import StatusJson

STATUS_COLOURS = {
    "trained": "green",
    "failed": "red",
    "archived": "dim",
    "succeeded": "green",
    "running": "yellow",
}


def coloured_status(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "yellow")
    return f"[{colour}]{escape(status)}[/]"


def format_status(result: StatusResult) -> str:
    lines = [
        f"Project [bold]{escape(result.project)}[/] — state {escape(result.state_url)} (serial {result.serial})"
    ]
    if result.lock is not None:
        lock = result.lock
        lines.append(
            f"[yellow]Locked[/] by {escape(lock.actor)} ({escape(lock.operation)}, pid {lock.pid} on "
            f"{escape(lock.host)}, since {escape(lock.acquired_at)}, lock {escape(lock.lock_id)})"
        )
        if result.lock_dead is not None:
            lines.append(
                f"  [yellow]its holder is dead[/]: {escape(result.lock_dead)}; "
                "the next `mvctl apply` (or revert) takes the lock over"
            )
    if not result.models:
        lines.append("Nothing recorded yet. Run `mvctl plan`, then `mvctl apply`.")
    for model in result.models:
        note = "" if model.declared else "  [dim](not in the config)[/]"
        lines += ["", f"[bold]{escape(model.name)}[/]{note}"]
        for alias, version, pin in model.aliases:
            pin_note = f"  [yellow]{escape(pin)}[/]" if pin else ""
            lines.append(f"  {escape(alias):<12} -> {escape(version)}{pin_note}")
        for label, status, created_at in model.versions:
            lines.append(f"  {escape(label):<12} {coloured_status(status)}  {created_at}")
    return "\n".join(lines)


def status_json(result: StatusResult) -> StatusJson:
    lock = result.lock
    return {
        "format_version": FORMAT_VERSION,
        "project": result.project,
        "state": result.state_url,
        "serial": result.serial,
        "lock": (
            {
                "lock_id": lock.lock_id,
                "actor": lock.actor,
                "operation": lock.operation,
                "pid": lock.pid,
                "host": lock.host,
                "acquired_at": lock.acquired_at,
                "process": lock.process,
                "heartbeat_at": lock.heartbeat_at,
                "lease_s": lock.lease_s,
                "session": lock.session,
                "dead": result.lock_dead,
            }
            if lock
            else None
        ),
        "models": [
            {
                "name": m.name,
                "declared": m.declared,
                "aliases": [{"alias": a, "version": v, "pinned": p} for a, v, p in m.aliases],
                "versions": [
                    {"label": lb, "status": s, "created_at": c} for lb, s, c in m.versions
                ],
            }
            for m in result.models
        ],
    }
