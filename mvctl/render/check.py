"""`mvctl state check` as text and as JSON (`schemas/check.schema.json`, from ``check_json_schema``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from mvctl.render.markup import escape
from mvctl.results.check import FINDING_KINDS, CheckResult


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


def check_json(result: CheckResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "state": result.state_url,
        "serial": result.serial,
        "counts": result.counts,
        "findings": [dataclasses.asdict(finding) for finding in result.findings],
    }


def check_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``check_json``'s output."""
    finding = {
        "type": "object",
        "additionalProperties": False,
        "required": ["severity", "kind", "obj", "message", "fix"],
        "properties": {
            "severity": {
                "enum": ["error", "warning"],
                "description": "Errors make the command exit 1.",
            },
            "kind": {"enum": list(FINDING_KINDS)},
            "obj": {
                "type": "string",
                "description": "What the finding is about: a blob, an alias, an apply, the lock.",
            },
            "message": {"type": "string"},
            "fix": {
                "type": "string",
                "description": "What to do about it, with the exact command.",
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mvctl.dev/schemas/check.schema.json",
        "title": "mvctl state check",
        "description": "Output of `mvctl state check --json`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["ok", "state", "serial", "counts", "findings"],
        "properties": {
            "ok": {"type": "boolean", "description": "No finding is an error."},
            "state": {"type": "string", "description": "The state URL, password hidden."},
            "serial": {"type": "integer", "minimum": 0},
            "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "findings": {"type": "array", "items": finding},
        },
    }
