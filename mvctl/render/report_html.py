"""The HTML report: one self-contained page (inline CSS, images as data: URIs, no network).

For each model: aliases, versions, a metrics table per dataset with deltas against
production, the aliased versions' curves and confusion matrices (``report_sections``), each
metric over time with the gates' bounds, the monitor samples, each promotion's gate results
and each version's params and lineage; then the apply history. A few lines of script mark on ``<body data-images>`` how many images the
browser loaded with a real size (once the load event says all are in), which the rendering
test in headless Chromium reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from mvctl.render.html import escape, figure, table, td
from mvctl.render.plots import drift_per_feature, monitor_over_time
from mvctl.render.records import change_line
from mvctl.render.report_sections import (
    UNIT_SCORES,
    aliased_views,
    metrics_table,
    promotions_section,
    trend_figure,
    version_details,
)
from mvctl.results.history import HistoryEntry
from mvctl.results.report import ModelReport, ReportData
from mvctl.spec.rules import DRIFT_STATISTICS, parse_rule

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.5rem; }
.meta, .empty { color: #59636e; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-trained, .status-succeeded { color: #1a7f37; } .status-failed { color: #cf222e; }
.status-archived { color: #59636e; } .alias { background: #ddf4ff; border-radius: .6rem; padding: 0 .4rem; }
figure { margin: .5rem 0 1.5rem; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
nav a { margin-right: 1rem; } ul.changes { margin: 0; padding-left: 1.1rem; }
td.better { color: #1a7f37; } td.worse { color: #cf222e; } td.same { color: #59636e; }
li.gate-pass { color: #1a7f37; } li.gate-fail, li.gate-inconclusive { color: #cf222e; }
details.version-detail { margin: .3rem 0; } summary { cursor: pointer; font-weight: 600; }
"""

IMAGE_CHECK = """
(function () {
  function mark() {
    var imgs = document.images, ok = 0;
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
    }
    document.body.setAttribute("data-images", ok + "/" + imgs.length);
  }
  if (document.readyState === "complete") { mark(); } else { window.addEventListener("load", mark); }
})();
"""


def format_report_html(report: ReportData) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>mvctl report — {escape(report.project)}</title>",
        f"<style>{STYLE}</style></head>",
        '<body data-images="pending">',
        f"<header><h1>mvctl report — {escape(report.project)}</h1>",
        f'<p class="meta">State {escape(report.state_url)} at serial {report.serial}; '
        f"generated {escape(report.generated_at)}.</p>",
        "<nav>"
        + "".join(f'<a href="#model-{escape(m.name)}">{escape(m.name)}</a>' for m in report.models)
        + '<a href="#history">apply history</a></nav></header>',
    ]
    if not report.models:
        parts.append(
            '<p class="empty">Nothing recorded yet: run <code>mvctl apply</code> first.</p>'
        )
    for model in report.models:
        parts += _model_section(model, report.history)
    parts += _history_section(report)
    parts += [f"<script>{IMAGE_CHECK}</script>", "</body></html>", ""]
    return "\n".join(parts)


def _model_section(model: ModelReport, history: Sequence[HistoryEntry]) -> list[str]:
    held: dict[str, list[str]] = {}
    for alias, version in model.aliases:
        held.setdefault(version, []).append(alias)
    parts = [
        f'<section class="model" id="model-{escape(model.name)}">',
        f"<h2>{escape(model.name)}</h2>",
        f'<p class="meta">{escape(model.description or "")} Task: {escape(model.task)}.</p>',
        "<h3>Aliases</h3>",
        table("aliases", ["alias", "version"], ([td(a), td(v)] for a, v in model.aliases))
        if model.aliases
        else '<p class="empty">No aliases.</p>',
        "<h3>Versions</h3>",
        table(
            "versions",
            ["version", "status", "aliases", "created", "by"],
            (
                [
                    td(v.label),
                    td(v.status, f"status-{v.status}"),
                    "<td>"
                    + " ".join(
                        f'<span class="alias">{escape(a)}</span>' for a in held.get(v.label, [])
                    )
                    + "</td>",
                    td(v.created_at),
                    td(v.created_by),
                ]
                for v in model.versions
            ),
        ),
    ]
    datasets = list(dict.fromkeys(r.dataset for r in model.results))
    if not model.metrics:
        parts.append('<p class="empty">The model declares no evaluation.</p>')
    elif not datasets:
        parts.append('<p class="empty">No evaluation results under the current settings yet.</p>')
    for dataset in datasets:
        parts += [f"<h3>Metrics on {escape(dataset)}</h3>", metrics_table(model, dataset)]
        parts += aliased_views(model, dataset)
    if datasets:
        parts += ["<h3>Trends</h3>", *trend_figure(model, datasets)]
    parts += _monitoring_figures(model)
    parts += promotions_section(model, history)
    parts += version_details(model)
    parts.append("</section>")
    return parts


def _monitoring_figures(model: ModelReport) -> list[str]:
    """Per alias with monitor samples: each metric and drift statistic over time, and the
    drift per feature of its latest sample."""
    parts = []
    rules = [parse_rule(text) for text in model.rules]
    for alias in sorted({sample.alias for sample in model.samples}):
        samples = [sample for sample in model.samples if sample.alias == alias]
        names = list(dict.fromkeys(name for s in samples for name in s.metrics))
        names += list(dict.fromkeys(name for s in samples for name in s.drift["statistics"]))
        series = {
            name: [s.value(name, name in DRIFT_STATISTICS) for s in samples] for name in names
        }
        thresholds = {
            name: [
                (r.text, r.threshold)
                for r in rules
                if r.subject == name and r.threshold is not None
            ]
            for name in names
        }
        reference = f"{model.name}:{alias}"
        png = monitor_over_time(
            f"{reference}: monitor samples over time",
            [s.taken_at for s in samples],
            [s.version for s in samples],
            series,
            thresholds,
            UNIT_SCORES,
        )
        parts.append(figure(png, f"Metrics and drift of {reference} over time", "monitor-trend"))
        latest = samples[-1]
        columns = [*latest.drift["features"], latest.drift["prediction"]]
        png = drift_per_feature(
            f"{reference}: drift of sample #{latest.id} ({latest.taken_at})", columns
        )
        parts.append(figure(png, f"Drift per feature of {reference}'s latest sample", "drift"))
    return parts


def _history_section(report: ReportData) -> list[str]:
    rows = []
    for entry in report.history:
        a = entry.apply
        changes = "".join(f"<li>{escape(change_line(c.change))}</li>" for c in entry.changes)
        rows.append(
            [
                td(f"#{a.id}"),
                td(a.kind),
                td(a.actor),
                td(a.started_at),
                td(a.status, f"status-{a.status}"),
                f'<td><ul class="changes">{changes}</ul></td>' if changes else td("(no changes)"),
            ]
        )
    history = table("history", ["apply", "kind", "actor", "started", "status", "changes"], rows)
    return [
        '<section id="history"><h2>Apply history</h2>',
        history if rows else '<p class="empty">No applies yet.</p>',
        "</section>",
    ]
