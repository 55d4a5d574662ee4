"""`mvctl state check` as text and as JSON (`schemas/check.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.check import CheckResult

if TYPE_CHECKING:
    from mvctl.render.shapes import CheckJson


def format_check(result: CheckResult) -> str:
    counts = result.counts
    looked = (
        f"{counts.get('rows', 0)} rows, {counts.get('changes', 0)} change-log rows, "
        f"{counts.get('applies', 0)} applies, {counts.get('blobs', 0)} blobs"
    )
    lines = [f"State check of {escape(result.state_url)} (serial {result.serial}): {looked}."]
    for finding in result.findings:
        mark = "[red]✗ error[/]" if finding.severity == "error" else "[yellow]! warning[/]"
        lines.append(f"{mark} {escape(finding.obj)}: {escape(finding.message)}")
        lines.append(f"    fix: {escape(finding.fix)}")
    errors = sum(1 for f in result.findings if f.severity == "error")
    if errors:
        lines.append(f"[red]{errors} problem(s) found.[/]")
    else:
        lines.append("[green]The state is consistent.[/]")
    return "\n".join(lines)


def check_json(result: CheckResult) -> CheckJson:
    return {
        "format_version": FORMAT_VERSION,
        "ok": result.ok,
        "state": result.state_url,
        "serial": result.serial,
        "counts": dict(result.counts),
        "findings": [
            {
                "severity": f.severity,
                "kind": f.kind,
                "obj": f.obj,
                "message": f.message,
                "fix": f.fix,
            }
            for f in result.findings
        ],
    }
