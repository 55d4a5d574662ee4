"""`mvctl monitor` and `mvctl history --monitor` as terminal tables and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.core.monitoring import MonitorSample, RuleVerdict
from mvctl.render.evaluation import number
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.render.trigger import outcome_json, outcome_line
from mvctl.results.monitor import MonitorHistory, MonitorResult

if TYPE_CHECKING:
    from mvctl.render.shapes import MonitorHistoryJson, MonitorJson, RuleVerdictJson, SampleJson

_STATUS_STYLE = {
    "ok": "green",
    "pass": "green",
    "failing": "yellow",
    "inconclusive": "yellow",
    "unmeasured": "dim",
    "broken": "red",
    "degraded": "red",
}


def _styled(word: str) -> str:
    style = _STATUS_STYLE.get(word, "")
    return f"[{style}]{word}[/]" if style else word


def format_monitor(result: MonitorResult) -> str:
    sample = result.sample
    lines = [
        f"[bold]{escape(sample.model)}:{escape(sample.alias)}[/] serving "
        f"{escape(sample.version)}: sample #{sample.id} at {sample.taken_at}, "
        f"{sample.rows} rows of {escape(sample.dataset)} "
        f"({'labelled' if sample.labelled else 'no labels'})  {_styled(result.status)}",
    ]
    if sample.metrics:
        width = max(len(name) for name in sample.metrics)
        lines.append("  metrics")
        for name, value in sample.metrics.items():
            shown = sample.metric_status.get(name, "").upper() if value is None else number(value)
            lines.append(f"    {escape(name):<{width}}  {shown}")
    lines += _drift_lines(sample)
    if result.verdicts:
        lines.append("  rules")
        lines += _verdict_lines(result.verdicts, "    ")
    elif result.on_degraded is None:
        lines.append("  [dim](the model declares no monitoring rules)[/]")
    if result.rollback is not None:
        lines.append(
            f"  rollback {_styled('broken' if result.rollback.status != 'done' else 'ok')}: "
            f"{escape(result.rollback.message)}"
        )
    if result.trigger is not None:
        lines.append("  " + outcome_line(result.trigger).replace("\n", "\n  "))
    return "\n".join(lines)


def _drift_lines(sample: MonitorSample) -> list[str]:
    columns = [*sample.drift.get("features", []), sample.drift.get("prediction")]
    columns = [column for column in columns if column]
    if not columns:
        return []
    width = max(len("feature"), *(len(str(column["name"])) for column in columns))
    lines = [
        f"  drift against {escape(str(sample.drift.get('reference')))} "
        f"({sample.drift.get('reference_rows')} rows)",
        f"    {'feature':<{width}}  {'test':<4}  {'statistic':>9}  {'p-value':>9}  {'psi':>8}",
    ]
    for column in columns:
        lines.append(
            f"    {escape(str(column['name'])):<{width}}  {column['test']:<4}  "
            f"{number(column['statistic']):>9}  {number(column['p_value']):>9}  "
            f"{number(column['psi']):>8}" + ("  [red]drifted[/]" if column["drifted"] else "")
        )
    statistics = sample.drift.get("statistics", {})
    lines.append(
        "    " + ", ".join(f"{name} {number(value)}" for name, value in statistics.items())
    )
    return lines


def _verdict_lines(verdicts: tuple[RuleVerdict, ...], indent: str) -> list[str]:
    width = max(len(verdict.rule) for verdict in verdicts)
    return [
        f"{indent}{escape(verdict.rule):<{width}}  {_styled(verdict.status)}  "
        f"[dim]{escape(verdict.reason)}"
        + (f"; bound {number(verdict.bound)}" if verdict.bound is not None else "")
        + (f"; values {', '.join(number(v) for v in verdict.values)}" if verdict.values else "")
        + "[/]"
        for verdict in verdicts
    ]


def format_monitor_history(history: MonitorHistory) -> str:
    if not history.samples:
        return f"No monitor samples of {escape(history.model)}:{escape(history.alias)} yet."
    lines = []
    for entry in history.samples:
        sample = entry.sample
        shown = ", ".join(
            f"{name} {number(value)}"
            for name, value in [
                *sample.metrics.items(),
                *sample.drift.get("statistics", {}).items(),
            ]
        )
        lines.append(
            f"[bold]#{sample.id}[/] {sample.taken_at} {escape(sample.version)} "
            f"{sample.rows} rows{'' if sample.labelled else ' (no labels)'}  "
            f"{_styled(entry.status)}  [dim]{escape(shown)}[/]"
        )
        lines += _verdict_lines(entry.verdicts, "    ") if entry.verdicts else []
    return "\n".join(lines)


def sample_json(sample: MonitorSample) -> SampleJson:
    return {
        "id": sample.id,
        "model": sample.model,
        "alias": sample.alias,
        "version": sample.version,
        "spec_hash": sample.spec_hash,
        "taken_at": sample.taken_at,
        "recorded_at": sample.recorded_at,
        "actor": sample.actor,
        "dataset": sample.dataset,
        "dataset_digest": sample.dataset_digest,
        "rows": sample.rows,
        "labelled": sample.labelled,
        "metrics": dict(sample.metrics),
        "metric_status": dict(sample.metric_status),
        "drift": dict(sample.drift),
    }


def verdict_json(verdict: RuleVerdict) -> RuleVerdictJson:
    return {
        "rule": verdict.rule,
        "status": verdict.status,
        "bound": verdict.bound,
        "values": list(verdict.values),
        "samples": list(verdict.samples),
        "reason": verdict.reason,
    }


def monitor_json(result: MonitorResult) -> MonitorJson:
    rollback = result.rollback
    return {
        "format_version": FORMAT_VERSION,
        "status": result.status,
        "sample": sample_json(result.sample),
        "rules": [verdict_json(verdict) for verdict in result.verdicts],
        "on_degraded": result.on_degraded,
        "rollback": None
        if rollback is None
        else {
            "status": rollback.status,
            "from_version": rollback.from_version,
            "to_version": rollback.to_version,
            "apply_id": rollback.apply_id,
            "message": rollback.message,
        },
        "trigger": None if result.trigger is None else outcome_json(result.trigger),
    }


def monitor_history_json(history: MonitorHistory) -> MonitorHistoryJson:
    return {
        "format_version": FORMAT_VERSION,
        "model": history.model,
        "alias": history.alias,
        "rules": list(history.rules),
        "samples": [
            {
                "sample": sample_json(entry.sample),
                "status": entry.status,
                "rules": [verdict_json(verdict) for verdict in entry.verdicts],
            }
            for entry in history.samples
        ],
    }
