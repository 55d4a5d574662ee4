"""`mvctl compare` as a terminal table (deltas coloured by each metric's direction) and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.evaluation import delta_markup, number
from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.compare import CompareResult

if TYPE_CHECKING:
    from mvctl.render.shapes import CompareJson


def format_compare(result: CompareResult) -> str:
    lines: list[str] = []
    for dataset in result.datasets:
        a, b = dataset.a, dataset.b
        width = max([len("metric"), *(len(row.shown or row.metric) for row in dataset.rows)])
        column = max(len(a.reference), len(b.reference), 10)
        lines += [
            f"[bold]{escape(result.b)}[/] against [bold]{escape(result.a)}[/] on "
            f"{escape(dataset.dataset)} [dim]({dataset.digest[:19]})[/]",
            f"  {'metric':<{width}}  {escape(a.reference):>{column}}  {escape(b.reference):>{column}}  delta",
        ]
        for row in dataset.rows:
            lines.append(
                f"  {escape(row.shown or row.metric):<{width}}  {_value(row.reference, a.metric_status.get(row.metric)):>{column}}  "
                f"{_value(row.candidate, b.metric_status.get(row.metric)):>{column}}  {delta_markup(row)}"
            )
        sources = {a.source, b.source}
        if "computed" in sources:
            lines.append(
                f"  [dim]({escape(a.reference)}: {a.source}; {escape(b.reference)}: {b.source}; computed "
                "results are not stored)[/]"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def _value(value: float | None, status: str | None) -> str:
    return status.upper() if value is None and status else number(value)


def compare_json(result: CompareResult) -> CompareJson:
    return {
        "format_version": FORMAT_VERSION,
        "a": result.a,
        "b": result.b,
        "datasets": [
            {
                "dataset": d.dataset,
                "digest": d.digest,
                "sources": {"a": d.a.source, "b": d.b.source},
                "metric_status": {"a": dict(d.a.metric_status), "b": dict(d.b.metric_status)},
                "metrics": [
                    {
                        "metric": r.metric,
                        "label": r.shown or r.metric,
                        "a": r.reference,
                        "b": r.candidate,
                        "delta": r.delta,
                        "relative_delta": r.relative,
                        "verdict": r.verdict,
                    }
                    for r in d.rows
                ],
            }
            for d in result.datasets
        ],
    }
