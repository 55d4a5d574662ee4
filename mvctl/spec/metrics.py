"""The fixed vocabulary of evaluation metrics: which task each fits, which way is better, and
whether it needs the model's scores (probabilities) rather than its predicted labels.

The spec checks, the gate grammar, the planner and every renderer read this one table, so a
metric means the same thing everywhere. It is part of the config language (the schema lists
the names for editors), so it lives with the spec, which the planner reads, never the other
way round. The numbers themselves are computed by scikit-learn
(``mvctl.apply.scoring``), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["higher", "lower"]

CLASSIFICATION = ("binary-classification", "multiclass-classification")
BINARY = ("binary-classification",)
REGRESSION = ("regression",)
ANY_TASK = (*CLASSIFICATION, *REGRESSION, "other")


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    direction: Direction
    tasks: tuple[str, ...]
    needs_scores: bool = False
    speed: bool = False
    """Measured by timing batch prediction rather than computed from predictions."""
    description: str = ""


METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("accuracy", "higher", CLASSIFICATION, description="share of correct labels"),
        MetricInfo(
            "precision", "higher", CLASSIFICATION, description="scikit-learn precision_score"
        ),
        MetricInfo("recall", "higher", CLASSIFICATION, description="scikit-learn recall_score"),
        MetricInfo("f1", "higher", CLASSIFICATION, description="scikit-learn f1_score"),
        MetricInfo(
            "roc_auc",
            "higher",
            CLASSIFICATION,
            needs_scores=True,
            description="area under the ROC curve (one-vs-rest for multiclass)",
        ),
        MetricInfo(
            "average_precision",
            "higher",
            CLASSIFICATION,
            needs_scores=True,
            description="area under the precision-recall curve (one-vs-rest for multiclass)",
        ),
        MetricInfo(
            "balanced_accuracy",
            "higher",
            CLASSIFICATION,
            description="mean recall over the classes",
        ),
        MetricInfo(
            "matthews_corrcoef",
            "higher",
            CLASSIFICATION,
            description="Matthews correlation of true and predicted labels (-1 to 1)",
        ),
        MetricInfo(
            "brier_score",
            "lower",
            BINARY,
            needs_scores=True,
            description="mean squared error of the positive class's probability",
        ),
        MetricInfo(
            "log_loss",
            "lower",
            CLASSIFICATION,
            needs_scores=True,
            description="cross-entropy of the predicted probabilities",
        ),
        MetricInfo("mse", "lower", REGRESSION, description="mean squared error"),
        MetricInfo("mae", "lower", REGRESSION, description="mean absolute error"),
        MetricInfo("r2", "higher", REGRESSION, description="coefficient of determination"),
        MetricInfo(
            "latency_p50_ms",
            "lower",
            ANY_TASK,
            speed=True,
            description="median time to predict one batch, in milliseconds",
        ),
        MetricInfo(
            "latency_p95_ms",
            "lower",
            ANY_TASK,
            speed=True,
            description="95th percentile time to predict one batch, in milliseconds",
        ),
        MetricInfo(
            "latency_p99_ms",
            "lower",
            ANY_TASK,
            speed=True,
            description="99th percentile time to predict one batch, in milliseconds",
        ),
        MetricInfo(
            "qps",
            "higher",
            ANY_TASK,
            speed=True,
            description="rows predicted per second over the timed batches",
        ),
    )
}

MetricName = Literal[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "balanced_accuracy",
    "matthews_corrcoef",
    "brier_score",
    "log_loss",
    "mse",
    "mae",
    "r2",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "qps",
]
"""The same names as ``METRICS``, as a type, so the config schema can list them for editors."""

AVERAGED = frozenset({"precision", "recall", "f1"})
"""Metrics whose value depends on the declared ``average`` for every classification task."""
AVERAGED_MULTICLASS = AVERAGED | {"roc_auc", "average_precision"}
"""Metrics ``average`` governs for a multiclass task (one-vs-rest areas are averaged too)."""
POSITIVE_CLASS = frozenset({"average_precision", "brier_score"})
"""Binary metrics computed for the positive class whatever the ``average``."""


def averaged_metrics(task: str) -> frozenset[str]:
    """The metrics whose value the declared ``average`` changes for ``task``."""
    if task == "multiclass-classification":
        return AVERAGED_MULTICLASS
    return AVERAGED if task == "binary-classification" else frozenset()


def metric_label(name: str, task: str, average: str, positive: object | None = None) -> str:
    """The metric's name as shown, with how it was computed: ``f1 (macro)``,
    ``f1 (binary, positive=churn)``, ``average_precision (positive=1)``.

    Stored values, gates and JSON keys keep the bare name; only what people read carries the
    qualifier, so two numbers computed differently never look alike. ``positive`` is the class
    binary metrics score, where it is known (declared, or recorded with a result).
    """
    shown_positive = f"positive={positive}" if positive is not None else None
    if name in averaged_metrics(task):
        if average == "binary":
            return f"{name} (binary, {shown_positive})" if shown_positive else f"{name} (binary)"
        return f"{name} ({average})"
    if task == "binary-classification" and name in POSITIVE_CLASS and shown_positive:
        return f"{name} ({shown_positive})"
    return name


def recorded_label(name: str, details: Mapping[str, Any]) -> str:
    """A stored metric's name as shown, from the scoring its result recorded (``f1 (macro)``);
    the bare name for results stored before results recorded it."""
    scoring = details.get("scoring")
    if not isinstance(scoring, dict) or not isinstance(scoring.get("average"), str):
        return name
    positive = scoring.get("positive")
    task = "binary-classification" if positive is not None else "multiclass-classification"
    return metric_label(name, task, scoring["average"], positive)


def is_better(metric: str, candidate: float, reference: float) -> bool | None:
    """Whether ``candidate`` beats ``reference`` on ``metric``; None when they are equal."""
    if candidate == reference:
        return None
    higher = METRICS[metric].direction == "higher"
    return candidate > reference if higher else candidate < reference
