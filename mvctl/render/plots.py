"""The report's pictures, drawn with matplotlib's Agg backend into PNG bytes (no files, no GUI).

Matplotlib is imported here, inside the functions, so only `mvctl report` pays for it. The
object-oriented API (``Figure``) is used rather than pyplot, which keeps global state and
would pick a backend for a display that may not exist. Text is drawn as written, never as
mathtext, so a name with ``$`` in it neither breaks the drawing nor turns into a formula.

Every PNG carries its figure's title and each chart's title and axis labels as PNG text
(``Title``, ``Axes``: JSON), so a test can check what a reader sees without reading pixels.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec

WIDTH_IN, DPI = 6.4, 96
UNIT_SPAN = 0.1
"""The least a [0, 1] score's y axis shows: a 0.0003 wobble stays a flat line."""
RELATIVE_SPAN = 0.2
"""The least span of an unbounded metric's axis, as a share of its size."""

P = ParamSpec("P")


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the page needs nothing but itself."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _plain_text(draw: Callable[P, bytes]) -> Callable[P, bytes]:
    """Draw with mathtext off: labels, legends and titles are shown exactly as given."""

    @wraps(draw)
    def drawing(*args: P.args, **kwargs: P.kwargs) -> bytes:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return draw(*args, **kwargs)

    return drawing


def _png(figure: Any) -> bytes:
    charts = [
        {"title": a.get_title(), "xlabel": a.get_xlabel(), "ylabel": a.get_ylabel()}
        for a in figure.axes
    ]
    title = figure.get_suptitle() or (charts[0]["title"] if charts else "")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Long names can leave constrained layout no room; the picture is still drawn.
        warnings.filterwarnings("ignore", "constrained_layout not applied", UserWarning)
        figure.savefig(
            buffer,
            format="png",
            dpi=DPI,
            bbox_inches="tight",
            metadata={"Software": None, "Title": title, "Axes": json.dumps(charts)},
        )
    return buffer.getvalue()


def short(name: str, limit: int = 40) -> str:
    """A name cut to ``limit`` characters for a legend or tick (the page's tables hold it whole)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _moment(stamp: str) -> float:
    """An ISO 'Z' stamp in matplotlib's date unit: days since 1970-01-01, its default epoch,
    which ``xaxis_date`` reads."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() / 86400


def _time_axis(axes: Any) -> None:
    """Dates on x, labelled as concisely as their spread allows (seconds or days apart)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    axes.xaxis_date()
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def axis_range(
    values: Sequence[float], thresholds: Sequence[float], unit_score: bool
) -> tuple[float, float]:
    """The y range of a trend: every value and gate bound in view, at least ``UNIT_SPAN`` wide
    for a [0, 1] score (kept inside [0, 1]) and ``RELATIVE_SPAN`` of the size otherwise, so
    the axis shows the gate's scale rather than magnifying noise."""
    shown = [*values, *thresholds]
    if not shown:
        return (0.0, 1.0)
    low, high = min(shown), max(shown)
    least = UNIT_SPAN if unit_score else max(abs(low), abs(high)) * RELATIVE_SPAN or 1.0
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    if unit_score:
        if high > 1.0:
            low, high = low - (high - 1.0), 1.0
        if low < 0.0:
            low, high = 0.0, min(1.0, high - low)
        low, high = max(low, 0.0), min(high, 1.0)
    return (low, high)


@dataclass(frozen=True)
class Trend:
    """One metric over time: its evaluations (per dataset: time, value, version), the live
    monitor samples of each alias (time, value) and the gate bounds (text, value)."""

    metric: str
    ylabel: str
    unit_score: bool
    evaluations: Mapping[str, Sequence[tuple[str, float, str]]]
    samples: Mapping[str, Sequence[tuple[str, float]]]
    thresholds: Sequence[tuple[str, float]]


@_plain_text
def metric_trends(title: str, trends: Sequence[Trend]) -> bytes:
    """One chart per metric: evaluations as labelled points, monitor samples as lines, gate
    bounds as red dashed lines, time on x."""
    from matplotlib.figure import Figure

    columns = min(2, max(1, len(trends)))
    rows = -(-len(trends) // columns)
    figure = Figure(figsize=(WIDTH_IN * 1.5, 3.2 * rows), layout="constrained")
    figure.suptitle(title)
    for index, trend in enumerate(trends):
        axes = figure.add_subplot(rows, columns, index + 1)
        values: list[float] = []
        for dataset, points in trend.evaluations.items():
            times = [_moment(t) for t, _, _ in points]
            axes.plot(times, [v for _, v, _ in points], "o", label=short(f"evaluated on {dataset}"))
            for moment, (_, value, version) in zip(times, points, strict=True):
                axes.annotate(
                    short(version, 24),
                    (moment, value),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=7,
                )
            values += [v for _, v, _ in points]
        for alias, samples in trend.samples.items():
            axes.plot(
                [_moment(t) for t, _ in samples],
                [v for _, v in samples],
                marker=".",
                linewidth=1,
                label=short(f"live {alias}"),
            )
            values += [v for _, v in samples]
        for gate, bound in trend.thresholds:
            axes.axhline(bound, color="tab:red", linestyle="--", linewidth=1, label=gate)
        axes.set_ylim(*axis_range(values, [b for _, b in trend.thresholds], trend.unit_score))
        axes.set_title(trend.metric, fontsize="medium")
        _time_axis(axes)
        axes.set_xlabel("time (UTC)")
        axes.set_ylabel(trend.ylabel)
        axes.tick_params(axis="x", labelrotation=30, labelsize="small")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="x-small")
    return _png(figure)


@_plain_text
def roc_curves(title: str, curves: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """ROC curves by legend label ('production: 1.0.0 (AUC 0.991)'), each {'fpr', 'tpr'}."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN * 0.75, WIDTH_IN * 0.75))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance")
    for name, curve in curves.items():
        axes.plot(curve["fpr"], curve["tpr"], linewidth=2, label=short(name, 60))
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=title,
    )
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def precision_recall_curves(
    title: str, curves: Mapping[str, Mapping[str, Sequence[float]]]
) -> bytes:
    """Precision-recall curves by legend label, each {'precision', 'recall'}."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN * 0.75, WIDTH_IN * 0.75))
    axes = figure.add_subplot()
    for name, curve in curves.items():
        axes.step(
            curve["recall"], curve["precision"], where="post", linewidth=2, label=short(name, 60)
        )
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=title)
    axes.legend(loc="lower left", fontsize="small")
    axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def calibration_curves(title: str, curves: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """Reliability diagram: the observed positive rate per bin of predicted probability."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN * 0.75, WIDTH_IN * 0.75))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="calibrated")
    for name, curve in curves.items():
        axes.plot(
            curve["predicted"], curve["observed"], marker="o", linewidth=2, label=short(name, 60)
        )
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="mean predicted probability (10 bins)",
        ylabel="observed share of positives",
        title=title,
    )
    axes.legend(loc="upper left", fontsize="small")
    axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def confusion_matrices(title: str, matrices: Mapping[str, Mapping[str, Any]]) -> bytes:
    """One heat map per version ({'labels', 'matrix'}: rows true, columns predicted), counts
    written in the cells."""
    from matplotlib.figure import Figure

    count = max(1, len(matrices))
    size = max(len(m["labels"]) for m in matrices.values()) if matrices else 2
    side = min(8.0, 2.2 + 0.35 * size)
    figure = Figure(figsize=(side * count, side + 0.6), layout="constrained")
    figure.suptitle(title)
    for index, (name, value) in enumerate(matrices.items()):
        axes = figure.add_subplot(1, count, index + 1)
        labels, matrix = list(value["labels"]), value["matrix"]
        axes.imshow(matrix, cmap="Blues")
        top = max((n for row in matrix for n in row), default=0)
        for row, counts in enumerate(matrix):
            for column, n in enumerate(counts):
                colour = "white" if top and n > top / 2 else "black"
                axes.text(column, row, str(n), ha="center", va="center", color=colour, fontsize=8)
        ticks = range(len(labels))
        names = [short(label, 24) for label in labels]
        axes.set_xticks(ticks, names, rotation=45, ha="right", fontsize="small")
        axes.set_yticks(ticks, names, fontsize="small")
        axes.set(xlabel="predicted class", ylabel="true class", title=short(name))
    return _png(figure)


@_plain_text
def one_vs_rest_roc(title: str, versions: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Per version, a ROC curve of each class against the rest ({'labels', 'fpr', 'tpr',
    'auc'}: one entry per class), AUC in the legend."""
    from matplotlib.figure import Figure

    count = max(1, len(versions))
    figure = Figure(figsize=(WIDTH_IN * 0.75 * count, WIDTH_IN * 0.8), layout="constrained")
    figure.suptitle(title)
    for index, (name, curves) in enumerate(versions.items()):
        axes = figure.add_subplot(1, count, index + 1)
        axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance")
        for label, fpr, tpr, auc in zip(
            curves["labels"], curves["fpr"], curves["tpr"], curves["auc"], strict=True
        ):
            axes.plot(fpr, tpr, linewidth=1.5, label=f"{short(label, 24)} (AUC {auc:.3f})")
        axes.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="false positive rate",
            ylabel="true positive rate",
            title=short(name),
        )
        axes.legend(loc="lower right", fontsize="x-small")
        axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def one_vs_rest_precision_recall(title: str, versions: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Per version, a precision-recall curve of each class against the rest ({'labels',
    'precision', 'recall', 'average_precision'}: one entry per class), AP in the legend."""
    from matplotlib.figure import Figure

    count = max(1, len(versions))
    figure = Figure(figsize=(WIDTH_IN * 0.75 * count, WIDTH_IN * 0.8), layout="constrained")
    figure.suptitle(title)
    for index, (name, curves) in enumerate(versions.items()):
        axes = figure.add_subplot(1, count, index + 1)
        for label, precision, recall, average in zip(
            curves["labels"],
            curves["precision"],
            curves["recall"],
            curves["average_precision"],
            strict=True,
        ):
            axes.step(
                recall,
                precision,
                where="post",
                linewidth=1.5,
                label=f"{short(label, 24)} (AP {average:.3f})",
            )
        axes.set(
            xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title=short(name)
        )
        axes.legend(loc="lower left", fontsize="x-small")
        axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def monitor_over_time(
    title: str,
    times: Sequence[str],
    versions: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    thresholds: Mapping[str, Sequence[tuple[str, float]]],
    unit_scores: frozenset[str] = frozenset(),
) -> bytes:
    """One small chart per metric or drift statistic of one alias's monitor samples: its value
    over the sample times (ISO 'Z' stamps), a dashed line where the served version changed
    (labelled with the new version), and each absolute rule bound as a red line in view."""
    from matplotlib.figure import Figure

    moments = [_moment(t) for t in times]
    names = list(series)
    columns = min(3, max(1, len(names)))
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(WIDTH_IN * 1.5, 2.8 * rows), layout="constrained")
    figure.suptitle(title)
    changes = [i for i in range(len(versions)) if i == 0 or versions[i] != versions[i - 1]]
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        points = [(m, v) for m, v in zip(moments, series[name], strict=True) if v is not None]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        for change in changes:
            axes.axvline(moments[change], color="grey", linestyle="--", linewidth=0.8)
            axes.annotate(
                short(versions[change], 24),
                (moments[change], 1.0),
                xycoords=("data", "axes fraction"),
                fontsize="x-small",
                rotation=90,
                va="top",
            )
        bounds = thresholds.get(name, ())
        for rule, bound in bounds:
            axes.axhline(bound, color="red", linewidth=0.8, label=rule)
        if bounds:
            axes.legend(fontsize="x-small")
        axes.set_ylim(
            *axis_range([p[1] for p in points], [b for _, b in bounds], name in unit_scores)
        )
        axes.set_title(name, fontsize="medium")
        _time_axis(axes)
        axes.set_xlabel("time (UTC)")
        axes.set_ylabel(name)
        axes.tick_params(axis="x", labelrotation=30, labelsize="small")
        axes.grid(alpha=0.3)
    return _png(figure)


@_plain_text
def drift_per_feature(title: str, columns: Sequence[Mapping[str, Any]]) -> bytes:
    """The population stability index of each column of one sample; drifting ones in red."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, 0.9 + 0.22 * len(columns)), layout="constrained")
    axes = figure.add_subplot()
    names = [str(column["name"]) for column in columns]
    values = [float(column["psi"] or 0.0) for column in columns]
    colours = ["tab:red" if column["drifted"] else "tab:blue" for column in columns]
    axes.barh(range(len(names)), values, color=colours)
    axes.set_yticks(range(len(names)), names, fontsize="x-small")
    axes.invert_yaxis()
    axes.set_xlabel("PSI (red: the test says it drifts, p < 0.05)")
    axes.set_ylabel("column")
    axes.set_title(title, fontsize="medium")
    axes.grid(alpha=0.3, axis="x")
    return _png(figure)
