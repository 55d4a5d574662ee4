"""What `mvctl report` says about the page it wrote, as text and as JSON
(`schemas/report.schema.json`); the page itself is ``report_html``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.report import ReportResult

if TYPE_CHECKING:
    from mvctl.render.shapes import ReportJson


def format_report_written(result: ReportResult) -> str:
    return f"Wrote {escape(str(result.output))} ({result.size // 1024} KiB)."


def report_json(result: ReportResult) -> ReportJson:
    data = result.data
    return {
        "format_version": FORMAT_VERSION,
        "output": str(result.output),
        "bytes": result.size,
        "project": data.project,
        "serial": data.serial,
        "models": [model.name for model in data.models],
        "applies": len(data.history),
    }
