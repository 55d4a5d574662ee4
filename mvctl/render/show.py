"""`mvctl show` as text and as JSON (`schemas/show.schema.json`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mvctl.render.evaluation import record_line
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.render.status import coloured_status

if TYPE_CHECKING:
    from mvctl.render.shapes import EvaluationJson, ShowJson
    from mvctl.results.records import EvaluationRecord
    from mvctl.results.show import InputDigest, ShowResult


def format_show(result: ShowResult) -> str:
    v = result.version
    lines = [
        f"[bold]{escape(v.model)}@{escape(v.label)}[/]  {coloured_status(v.status)}",
        f"  aliases:      {escape(', '.join(result.aliases)) or '(none)'}",
        f"  description:  {escape(v.description or '')}",
        *(
            [f"  tags:         {escape(', '.join(f'{k}={x}' for k, x in v.tags.items()))}"]
            if v.tags
            else []
        ),
        f"  spec hash:    {v.spec_hash}",
        f"  artifact:     {v.artifact_digest or '(none)'}",
        f"  created:      {v.created_at} by {escape(v.created_by)} in apply {v.apply_id}",
    ]
    if v.params:
        lines.append("  params:")
        for step, params in v.params.items():
            lines.append(f"    {escape(step)}: {escape(json.dumps(params, sort_keys=True))}")
    steps = v.lineage.get("steps", {})
    if steps:
        lines.append("  lineage:")
        for name, info in steps.items():
            how = "cached" if info.get("cached") else f"ran {info.get('duration_s', '?')} s"
            outputs = ", ".join(f"{k} {d[:19]}" for k, d in info.get("outputs", {}).items())
            lines.append(f"    {escape(name)}: key {info['key'][:12]} ({how}) -> {escape(outputs)}")
    if result.inputs:
        lines.append("  inputs (recorded -> now):")
        width = max(len(_input_name(i)) for i in result.inputs)
        for item in result.inputs:
            now = (
                "[dim]unchanged[/]"
                if not item.changed
                else f"[yellow]{escape(_input_digest(item.current))}[/]"
            )
            lines.append(
                f"    {escape(_input_name(item)):<{width}}  "
                f"{escape(_input_digest(item.recorded))} -> {now}"
            )
    if v.failure:
        lines.append(
            f"  [red]failure:[/] {escape(json.dumps({k: x for k, x in v.failure.items() if k != 'log_tail'}))}"
        )
        tail = v.failure.get("log_tail")
        if tail:
            lines += ["  log tail:"] + [f"    {escape(line)}" for line in str(tail).splitlines()]
    if result.evaluations:
        lines.append("  metrics:")
        lines += [f"    {escape(record_line(r))}" for r in result.evaluations]
    return "\n".join(lines)


def show_json(result: ShowResult) -> ShowJson:
    v = result.version
    return {
        "format_version": FORMAT_VERSION,
        "model": v.model,
        "label": v.label,
        "status": v.status,
        "spec_hash": v.spec_hash,
        "metadata_hash": v.metadata_hash,
        "artifact_digest": v.artifact_digest,
        "spec": dict(v.spec),
        "params": dict(v.params),
        "lineage": dict(v.lineage),
        "failure": None if v.failure is None else dict(v.failure),
        "description": v.description,
        "tags": dict(v.tags),
        "created_by": v.created_by,
        "created_at": v.created_at,
        "apply_id": v.apply_id,
        "aliases": list(result.aliases),
        "evaluations": [_evaluation_json(r) for r in result.evaluations],
        "inputs": [
            {
                "step": i.step,
                "kind": i.kind,
                "name": i.name,
                "recorded": i.recorded,
                "current": i.current,
            }
            for i in result.inputs
        ],
    }


def _input_digest(value: str | None) -> str:
    """A digest cut to its first 12 hex digits, as the lineage shows outputs; 'unset' for a
    variable without a value."""
    if value is None:
        return "(missing)"
    return value[:19] if value.startswith("sha256:") else value


def _input_name(item: InputDigest) -> str:
    return f"{item.step}: {item.name if item.kind == 'file' else '$' + item.name}"


def _evaluation_json(record: EvaluationRecord) -> EvaluationJson:
    return {
        "id": record.id,
        "model": record.model,
        "label": record.label,
        "spec_hash": record.spec_hash,
        "dataset_digest": record.dataset_digest,
        "evaluation_hash": record.evaluation_hash,
        "dataset": record.dataset,
        "status": record.status,
        "metrics": dict(record.metrics),
        "metric_status": dict(record.metric_status),
        "details": dict(record.details),
        "message": record.message,
        "evaluator_version": record.evaluator_version,
        "created_at": record.created_at,
        "apply_id": record.apply_id,
    }
