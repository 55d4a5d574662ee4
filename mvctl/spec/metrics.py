"""The fixed vocabulary of evaluation metrics: which task each fits, which way is better, and
whether it needs the model's scores (probabilities) rather than its predicted labels.

The spec checks, the gate grammar, the planner and every renderer read this one table, so a
metric means the same thing everywhere. It is part of the config language (the schema lists
the names for editors), so it lives with the spec, which the planner reads, never the other
way round. The numbers themselves are computed by scikit-learn
(``mvctl.apply.scoring``), never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower"]

CLASSIFICATION = ("binary-classification", "multiclass-classification")
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
"""Metrics whose multiclass value depends on the declared ``average``."""


def is_better(metric: str, candidate: float, reference: float) -> bool | None:
    """Whether ``candidate`` beats ``reference`` on ``metric``; None when they are equal."""
    if candidate == reference:
        return None
    higher = METRICS[metric].direction == "higher"
    return candidate > reference if higher else candidate < reference
