"""Evaluations, gates and metric tables as terminal markup and Markdown. Pure formatting.

The plan's renderers call these for EvaluateVersion actions, the gates of each alias move and
the Markdown metric tables a pull-request comment carries; `mvctl compare` reuses the value
and delta formatting. Better and worse follow each metric's direction, coloured green and red.
"""

from __future__ import annotations

from collections.abc import Sequence

from mvctl.core.comparison import MetricDelta, MetricTable
from mvctl.core.plan import EvaluateVersion, GateCheck
from mvctl.render import markdown
from mvctl.render.markup import escape
from mvctl.results.records import EvaluationRecord
from mvctl.spec.metrics import recorded_label

RESULT_COLOURS = {"pass": "green", "fail": "red", "inconclusive": "yellow", "pending": "dim"}
VERDICT_COLOURS = {"better": "green", "worse": "red", "same": "dim", "n/a": "dim"}
VERDICT_MARKS = {"better": ":green_circle:", "worse": ":red_circle:", "same": "", "n/a": ""}


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def signed(value: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.2f}%" if percent else f"{value:+.4g}"


def evaluate_lines(action: EvaluateVersion) -> list[str]:
    names = ", ".join(ref.name for ref in action.datasets)
    return [
        f"[magenta]* evaluate[/] [bold]{escape(action.model)}@{escape(action.label)}[/]  "
        f"on {escape(names)}  ({escape(action.reason)})"
    ]


def gate_line(check: GateCheck) -> str:
    colour = RESULT_COLOURS[check.result]
    detail = check.reason if check.result != "pending" else "known once apply evaluates it"
    return (
        f"gate [bold]{escape(check.gate)}[/] on {escape(check.dataset)}: "
        f"[{colour}]{check.result}[/] ({escape(detail)})"
    )


def gate_lines(checks: Sequence[GateCheck]) -> list[str]:
    return [f"    {gate_line(check)}" for check in checks]


def delta_markup(row: MetricDelta) -> str:
    colour = VERDICT_COLOURS[row.verdict]
    return f"[{colour}]{signed(row.delta)} ({signed(row.relative, percent=True)})[/]"


def metric_tables_markdown(tables: Sequence[MetricTable]) -> list[str]:
    """One Markdown table per version and dataset: its metrics, the alias's now, the delta."""
    lines: list[str] = []
    for table in tables:
        against = (
            f"{table.reference_alias} ({table.reference_version})"
            if table.reference_version
            else "(no version to compare with)"
        )
        note = " — evaluated during apply" if table.pending else ""
        lines += [
            "",
            f"**{markdown.code(f'{table.model}@{table.version}')}** on "
            f"{markdown.code(table.dataset)} vs {markdown.text(against)}{note}",
            "",
            f"| metric | {markdown.text(table.version)} | "
            f"{markdown.text(table.reference_version or '—')} | Δ | Δ % |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for row in table.rows:
            candidate = "pending" if table.pending else number(row.candidate)
            mark = VERDICT_MARKS[row.verdict]
            lines.append(
                f"| {markdown.text(row.shown or row.metric)} | {candidate} | {number(row.reference)} | "
                f"{signed(row.delta)} {mark} | {signed(row.relative, percent=True)} |".replace(
                    "  |", " |"
                )
            )
    return lines


def result_summary(kind: str, value: dict[str, object]) -> str:
    """A logged evaluation or gate decision in one line (history)."""
    if kind == "gate" and isinstance(value.get("rollback"), dict):
        rollback: dict[str, object] = value["rollback"]  # type: ignore[assignment]
        return (
            f"promotion to {value.get('version')} rolled back automatically to "
            f"{rollback.get('restored') or 'nothing'}: {rollback.get('reason')}"
        )
    if kind == "gate" and value.get("forced"):
        checks = value.get("checks")
        problems = (
            "; ".join(str(check.get("reason")) for check in checks if isinstance(check, dict))
            if isinstance(checks, list)
            else ""
        )
        return (
            f"restored to {value.get('version')} by `revert --force` although its artifact "
            f"failed verification: {problems}"
        )
    if kind == "gate":
        checks = value.get("checks")
        failed = (
            [c for c in checks if c.get("result") != "pass"] if isinstance(checks, list) else []
        )
        verdict = "passed" if value.get("passed") else f"blocked ({len(failed)} gate(s) not passed)"
        spec = value.get("spec_hash")
        retrained = f" retrained (spec {str(spec)[:12]})" if spec else ""
        return f"gates for {value.get('version')}{retrained} {verdict}"
    if value.get("status") != "ok":
        return f"evaluation on {value.get('dataset')} failed: {value.get('message')}"
    metrics = value.get("metrics")
    details = value.get("details")
    scoring = details if isinstance(details, dict) else {}
    shown = ", ".join(
        f"{recorded_label(name, scoring)} {number(v) if isinstance(v, float | int) else 'n/a'}"
        for name, v in (metrics.items() if isinstance(metrics, dict) else ())
    )
    return f"evaluated on {value.get('dataset')}: {shown}"


def record_line(record: EvaluationRecord) -> str:
    """A stored result in one line (show): the dataset, when, and every metric."""
    if record.status != "ok":
        return f"{record.dataset} ({record.created_at}): failed: {record.message}"
    shown = ", ".join(
        f"{recorded_label(name, record.details)} "
        f"{number(value) if value is not None else record.metric_status.get(name, 'n/a').upper()}"
        for name, value in record.metrics.items()
    )
    return f"{record.dataset} ({record.created_at}): {shown}"
