"""The report's per-model sections beyond the overview: metrics with their deltas against
production, the aliased versions' curves and confusion matrices, the per-class view, metric
trends over time with the gates' bounds, each promotion's gate results, and each version's
params and lineage.

Everything a user or the data named (model, version, alias, class, param and dataset names)
is escaped by ``render.html``; the pictures draw text without mathtext.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mvctl.core.records import GateDecision
from mvctl.render.evaluation import number, signed
from mvctl.render.html import escape, figure, table, td
from mvctl.render.plots import (
    Trend,
    calibration_curves,
    confusion_matrices,
    metric_trends,
    one_vs_rest_precision_recall,
    one_vs_rest_roc,
    precision_recall_curves,
    roc_curves,
)
from mvctl.results.history import HistoryEntry
from mvctl.results.records import EvaluationRecord
from mvctl.results.report import ModelReport
from mvctl.spec.gates import parse_gate
from mvctl.spec.metrics import METRICS, is_better, recorded_label

BASELINE_ALIAS = "production"
"""The alias the delta columns compare against."""

UNIT_SCORES = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "balanced_accuracy",
        "brier_score",
    }
)
"""Metrics that live in [0, 1]: their trend axes stay inside it."""


def _results_on(model: ModelReport, dataset: str) -> dict[str, EvaluationRecord]:
    return {r.label: r for r in model.results if r.dataset == dataset}


def _aliased(model: ModelReport, results: Mapping[str, EvaluationRecord]) -> dict[str, str]:
    """Legend name ('production, staging: 1.0.0') by aliased version that has a result."""
    names: dict[str, list[str]] = {}
    for alias, version in model.aliases:
        if version in results:
            names.setdefault(version, []).append(alias)
    return {version: f"{', '.join(aliases)}: {version}" for version, aliases in names.items()}


def _metric_value(record: EvaluationRecord | None, metric: str) -> float | None:
    value = record.metrics.get(metric) if record else None
    return float(value) if isinstance(value, int | float) else None


def metrics_table(model: ModelReport, dataset: str) -> str:
    """Each version's metrics, and beside each metric its difference from the version
    production holds (green where better, red where worse)."""
    results = _results_on(model, dataset)
    held = dict(model.aliases).get(BASELINE_ALIAS)
    base = results.get(held) if held else None
    scored = next(iter(results.values())).details if results else {}
    header = ["version"]
    for metric in model.metrics:
        shown = recorded_label(metric, scored)
        header += [shown, f"Δ vs {BASELINE_ALIAS}"] if base else [shown]
    rows = []
    for version in model.versions:
        record = results.get(version.label)
        if record is None:
            continue
        row = [td(version.label)]
        for metric in model.metrics:
            value = _metric_value(record, metric)
            shown = number(value) if value is not None else record.metric_status.get(metric, "—")
            row.append(td(shown.upper() if value is None else shown, "num"))
            if base:
                row.append(_delta_cell(metric, value, _metric_value(base, metric), record is base))
        rows.append(row)
    note = (
        f'<p class="meta">Δ: difference from {escape(BASELINE_ALIAS)} '
        f"({escape(held or '')}) on the same data.</p>"
        if base
        else ""
    )
    return table("metrics", header, rows, f' data-dataset="{escape(dataset)}"') + note


def _delta_cell(metric: str, value: float | None, base: float | None, same: bool) -> str:
    if same:
        return td("", "num delta")
    if value is None or base is None:
        return td("—", "num delta")
    verdict = is_better(metric, value, base) if metric in METRICS else None
    css = {True: "better", False: "worse", None: "same"}[verdict]
    return td(signed(value - base), f"num delta {css}")


def aliased_views(model: ModelReport, dataset: str) -> list[str]:
    """The aliased versions on one dataset: ROC and precision-recall curves with their areas,
    calibration (binary), confusion matrices, one-vs-rest ROC and precision-recall curves and
    per-class metrics (multiclass)."""
    results = _results_on(model, dataset)
    names = _aliased(model, results)
    details = {names[v]: results[v].details for v in names}
    where = f"{model.name} on {dataset}"
    parts: list[str] = []
    binary = model.task == "binary-classification"
    roc = {
        f"{name} (AUC {_roc_auc(results[version], details[name]['roc'])})": details[name]["roc"]
        for version, name in names.items()
        if binary and "roc" in details[name]
    }
    if roc:
        png = roc_curves(f"{where}: ROC of the aliased versions", roc)
        parts.append(figure(png, f"ROC curves of {where}, aliased versions", "roc"))
    pr = {
        f"{name} (AP {details[name]['pr']['average_precision']:.3f})": details[name]["pr"]
        for name in details
        if "pr" in details[name]
    }
    if pr:
        png = precision_recall_curves(f"{where}: precision-recall", pr)
        parts.append(figure(png, f"Precision-recall curves of {where}", "pr"))
    calibration = {name: d["calibration"] for name, d in details.items() if "calibration" in d}
    if calibration:
        png = calibration_curves(f"{where}: calibration", calibration)
        parts.append(figure(png, f"Calibration curves of {where}", "calibration"))
    matrices = {name: d["confusion"] for name, d in details.items() if "confusion" in d}
    if matrices:
        png = confusion_matrices(f"{where}: confusion matrices", matrices)
        parts.append(figure(png, f"Confusion matrices of {where}", "confusion"))
    if model.task == "multiclass-classification":
        ovr = {
            name: d["roc_ovr"] for name, d in details.items() if d.get("roc_ovr", {}).get("labels")
        }
        if ovr:
            png = one_vs_rest_roc(f"{where}: one-vs-rest ROC per class", ovr)
            parts.append(figure(png, f"One-vs-rest ROC curves of {where}", "ovr-roc"))
        ovr_pr = {
            name: d["pr_ovr"] for name, d in details.items() if d.get("pr_ovr", {}).get("labels")
        }
        if ovr_pr:
            png = one_vs_rest_precision_recall(f"{where}: one-vs-rest precision-recall", ovr_pr)
            parts.append(figure(png, f"One-vs-rest precision-recall curves of {where}", "ovr-pr"))
        for name, d in details.items():
            if "per_class" in d:
                parts += [f"<h4>Per class: {escape(name)}</h4>", _per_class_table(d["per_class"])]
    if names and not parts:
        parts.append(
            '<p class="empty">These results hold no curves or matrices (recorded by an older '
            "mvctl, or the model gives no scores).</p>"
        )
    return parts


def _roc_auc(record: EvaluationRecord, curve: Mapping[str, Sequence[float]]) -> str:
    """The stored roc_auc when it was computed, else the area under the stored curve."""
    value = _metric_value(record, "roc_auc")
    if value is not None:
        return f"{value:.3f}"
    fpr, tpr = curve["fpr"], curve["tpr"]
    area = sum((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 for i in range(1, len(fpr)))
    return f"≈{area:.3f}"


def _per_class_table(per_class: Mapping[str, Any]) -> str:
    columns = ("precision", "recall", "f1")
    rows = [
        [td(label)]
        + [td(number(float(per_class[c][i])), "num") for c in columns]
        + [td(str(per_class["support"][i]), "num")]
        for i, label in enumerate(per_class["labels"])
    ]
    return table("per-class", ["class", *columns, "support"], rows)


def _ylabel(metric: str) -> str:
    unit = " (ms)" if metric.endswith("_ms") else " (rows/s)" if metric == "qps" else ""
    direction = METRICS[metric].direction if metric in METRICS else None
    return f"{metric}{unit}" + (f", {direction} is better" if direction else "")


def _gate_bounds(
    model: ModelReport, metric: str, datasets: Sequence[str]
) -> list[tuple[str, float]]:
    """Each gate on ``metric`` as a line: its absolute bound, or its baseline alias's version's
    value on each dataset plus the offset (as the next promotion would be judged)."""
    held = dict(model.aliases)
    bounds: list[tuple[str, float]] = []
    for text in model.gates:
        gate = parse_gate(text)
        if gate.metric != metric:
            continue
        if gate.threshold is not None:
            bounds.append((f"gate {text}", float(gate.threshold)))
            continue
        for dataset in datasets:
            base = _metric_value(
                _results_on(model, dataset).get(held.get(gate.baseline or "", "")), metric
            )
            if base is not None:
                where = f" on {dataset}" if len(datasets) > 1 else ""
                bound = base + float(gate.offset)
                bounds.append((f"gate {text}{where} (now {bound:.4g})", bound))
    return bounds


def trend_figure(model: ModelReport, datasets: Sequence[str]) -> list[str]:
    """Each metric over time: the versions' evaluations, the aliases' monitor samples, the
    gates' bounds."""
    trends = []
    for metric in model.metrics:
        evaluations = {
            dataset: [
                (r.created_at, value, r.label)
                for r in model.results
                if r.dataset == dataset and (value := _metric_value(r, metric)) is not None
            ]
            for dataset in datasets
        }
        samples: dict[str, list[tuple[str, float]]] = {}
        for sample in model.samples:
            found = sample.value(metric, False)
            if found is not None:
                samples.setdefault(sample.alias, []).append((sample.taken_at, found))
        trends.append(
            Trend(
                recorded_label(metric, model.results[0].details) if model.results else metric,
                _ylabel(metric),
                metric in UNIT_SCORES,
                {d: sorted(points) for d, points in evaluations.items() if points},
                samples,
                _gate_bounds(model, metric, datasets),
            )
        )
    if not trends:
        return []
    png = metric_trends(f"{model.name}: metrics over time", trends)
    return [figure(png, f"Trend of each metric of {model.name} over time", "trend")]


def promotions_section(model: ModelReport, history: Sequence[HistoryEntry]) -> list[str]:
    """Every gate decision logged for the model in the listed applies, oldest first."""
    rows = []
    for entry in reversed(history):
        for logged in entry.changes:
            target, decision = logged.change.target, logged.change.after
            if target.kind != "gate" or target.model != model.name:
                continue
            if not isinstance(decision, GateDecision):
                continue
            rows.append(_promotion_row(entry, target.name, decision))
    parts = ["<h3>Promotions and their gates</h3>"]
    if not rows:
        parts.append('<p class="empty">No promotion decided in the listed applies.</p>')
        return parts
    header = ["apply", "when", "by", "alias", "version", "decision", "gates"]
    parts.append(table("promotions", header, rows))
    return parts


def _promotion_row(entry: HistoryEntry, alias: str, decision: GateDecision) -> list[str]:
    if decision.rollback is not None:
        verdict, css = f"rolled back: {decision.rollback.reason}", "status-failed"
    elif decision.forced:
        verdict, css = "forced by revert", "status-failed"
    else:
        verdict, css = (
            ("passed", "status-succeeded") if decision.passed else ("blocked", "status-failed")
        )
    checks = "".join(
        f'<li class="gate-{escape(str(c.get("result")))}">{escape(_check_line(c))}</li>'
        for c in decision.checks
    )
    return [
        td(f"#{entry.apply.id}"),
        td(entry.apply.started_at),
        td(entry.apply.actor),
        td(alias),
        td(decision.version),
        td(verdict, css),
        f'<td><ul class="changes">{checks}</ul></td>' if checks else td("(no gates)"),
    ]


def _check_line(check: Mapping[str, Any]) -> str:
    line = f"{check.get('gate')}"
    if check.get("dataset"):
        line += f" on {check.get('dataset')}"
    line += f": {check.get('result')}"
    value, bound = check.get("value"), check.get("bound")
    if isinstance(value, int | float) and isinstance(bound, int | float):
        line += f" ({number(float(value))} vs bound {number(float(bound))})"
    elif check.get("reason"):
        line += f" ({check.get('reason')})"
    return line


def version_details(model: ModelReport) -> list[str]:
    """Per version: its params and its lineage (each step run or cached, its key, input and
    output digests; the artifact; the datasets it was evaluated on, digest and rows)."""
    parts = ["<h3>Versions in detail</h3>"]
    for version in model.versions:
        parts.append(
            f'<details class="version-detail"><summary>{escape(version.label)} — '
            f"{escape(version.status)}, params and lineage</summary>"
        )
        params = [
            [td(step), td(name), td(_plain(value))]
            for step, values in version.params.items()
            if isinstance(values, dict)
            for name, value in sorted(values.items())
        ]
        parts.append(
            table("params", ["step", "param", "value"], params)
            if params
            else '<p class="empty">No params.</p>'
        )
        parts.append(_lineage_table(model, version.label, version.lineage, version.artifact_digest))
        parts.append("</details>")
    return parts


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) + "}"
    return str(value)


def _digest(value: Any) -> str:
    return str(value)[:19] + "…" if isinstance(value, str) and len(value) > 20 else str(value)


def _lineage_table(
    model: ModelReport, label: str, lineage: Mapping[str, Any], artifact: str | None
) -> str:
    rows = []
    steps = lineage.get("steps")
    for name, step in (steps if isinstance(steps, dict) else {}).items():
        if not isinstance(step, dict):
            continue
        how = "cached" if step.get("cached") else f"ran ({step.get('duration_s', '?')} s)"
        inputs = _input_digests(step.get("dep_files"))
        found = step.get("outputs")
        outputs: Mapping[str, Any] = found if isinstance(found, dict) else {}
        rows.append(
            [
                td(f"step {name}"),
                td(how),
                td(f"key {_digest(step.get('key'))}"),
                td("; ".join(inputs) or "(in the step key; files not recorded)"),
                td("; ".join(f"{k} {_digest(d)}" for k, d in outputs.items()) or "(none)"),
            ]
        )
    source = lineage.get("artifact")
    where = (
        f"from step {source.get('step')}, {source.get('file')}" if isinstance(source, dict) else ""
    )
    rows.append([td("artifact"), td(where), td(_digest(artifact or "(none)")), td(""), td("")])
    for record in model.results:
        if record.label == label:
            rows.append(
                [
                    td(f"evaluated on {record.dataset}"),
                    td(f"{record.details.get('rows', '?')} rows"),
                    td(_digest(record.dataset_digest)),
                    td(""),
                    td(""),
                ]
            )
    return table("lineage", ["what", "how", "digest", "inputs", "outputs"], rows)


def _input_digests(dep_files: Any) -> list[str]:
    """The recorded dep files ({dep: {'files': {path: digest}}}) as 'path digest' lines."""
    if not isinstance(dep_files, dict):
        return []
    return [
        f"{path} {_digest(digest)}"
        for dep in dep_files.values()
        if isinstance(dep, dict) and isinstance(dep.get("files"), dict)
        for path, digest in dep["files"].items()
    ]
