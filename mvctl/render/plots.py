"""The report's pictures, drawn with matplotlib's Agg backend into PNG bytes (no files, no GUI).

Matplotlib is imported here, inside the functions, so only `mvctl report` pays for it. The
object-oriented API (``Figure``) is used rather than pyplot, which keeps global state and
would pick a backend for a display that may not exist.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH_IN, DPI = 6.4, 96


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI, so the page needs nothing but itself."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def roc_curves(title: str, curves: Mapping[str, Mapping[str, Sequence[float]]]) -> bytes:
    """ROC curves by legend label ('production: 1.0.0'), each {'fpr': [...], 'tpr': [...]}."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN * 0.75, WIDTH_IN * 0.75))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance")
    for name, curve in curves.items():
        axes.plot(curve["fpr"], curve["tpr"], linewidth=2, label=name)
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


def metric_trends(
    title: str, versions: Sequence[str], series: Mapping[str, Mapping[str, Sequence[float | None]]]
) -> bytes:
    """One small chart per metric: its value per version (x), one line per dataset.

    ``series`` maps metric -> dataset -> values aligned with ``versions`` (None: no result).
    """
    from matplotlib.figure import Figure

    metrics = list(series)
    columns = min(3, max(1, len(metrics)))
    rows = -(-len(metrics) // columns)
    figure = Figure(figsize=(WIDTH_IN * 1.5, 2.6 * rows), layout="constrained")
    figure.suptitle(title)
    positions = list(range(len(versions)))
    for index, metric in enumerate(metrics):
        axes = figure.add_subplot(rows, columns, index + 1)
        for dataset, values in series[metric].items():
            points = [(x, v) for x, v in zip(positions, values, strict=True) if v is not None]
            if points:
                axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=dataset)
        axes.set_title(metric, fontsize="medium")
        axes.set_xticks(positions, list(versions), rotation=30, fontsize="small")
        axes.grid(alpha=0.3)
        if len(series[metric]) > 1:
            axes.legend(fontsize="x-small")
    return _png(figure)


def monitor_over_time(
    title: str,
    times: Sequence[str],
    versions: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    thresholds: Mapping[str, Sequence[tuple[str, float]]],
) -> bytes:
    """One small chart per metric or drift statistic of one alias's monitor samples: its value
    over the sample times (ISO 'Z' stamps), a dashed line where the served version changed
    (labelled with the new version), and each absolute rule bound as a red line."""
    from datetime import datetime

    from matplotlib.figure import Figure

    # Days since 1970-01-01, matplotlib's date unit (its default epoch), so xaxis_date reads them.
    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() / 86400 for t in times]
    names = list(series)
    columns = min(3, max(1, len(names)))
    rows = -(-len(names) // columns)
    figure = Figure(figsize=(WIDTH_IN * 1.5, 2.6 * rows), layout="constrained")
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
                versions[change],
                (moments[change], 1.0),
                xycoords=("data", "axes fraction"),
                fontsize="x-small",
                rotation=90,
                va="top",
            )
        for rule, bound in thresholds.get(name, ()):
            axes.axhline(bound, color="red", linewidth=0.8, label=rule)
        if thresholds.get(name):
            axes.legend(fontsize="x-small")
        axes.set_title(name, fontsize="medium")
        axes.xaxis_date()
        axes.tick_params(axis="x", labelrotation=30, labelsize="small")
        axes.grid(alpha=0.3)
    return _png(figure)


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
    axes.set_title(title, fontsize="medium")
    axes.grid(alpha=0.3, axis="x")
    return _png(figure)
