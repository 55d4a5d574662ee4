"""Quality metrics from predictions, computed by scikit-learn's own functions.

Nothing is re-implemented: each metric is one call into ``sklearn.metrics`` with the
declared averaging. For binary tasks the positive class is the model's second class (the
greater label, scikit-learn's convention), and its score column feeds ROC AUC and the ROC
curve kept for reports. Warnings scikit-learn raises (an undefined metric, one class in the
data) are kept with the result instead of printed, and the value stays what scikit-learn
returned, NaN included, for the gates to call inconclusive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mvctl.apply.predictors import Predictions
from mvctl.core.evaluation import ScoringSettings
from mvctl.errors import EvaluationError
from mvctl.spec.metrics import METRICS

ROC_POINTS = 101
"""At most this many points of a ROC curve are stored (enough to draw it)."""


@dataclass
class Scores:
    values: dict[str, float] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    roc: dict[str, list[float]] | None = None


def positive_class(classes: Any, y_true: Any) -> Any:
    """The class binary metrics treat as positive: the model's second class, else the greater label."""
    import numpy as np

    known = classes if classes is not None else np.unique(y_true)
    return known[-1]


def quality_metrics(
    settings: ScoringSettings, y_true: Any, predicted: Predictions, what: str
) -> Scores:
    """Every declared quality metric (speed is measured elsewhere)."""
    from sklearn import metrics as skm

    scores = Scores()
    wanted = [name for name in settings.metrics if not METRICS[name].speed]
    binary = settings.task == "binary-classification"
    positive = positive_class(predicted.classes, y_true) if binary else None
    label_args: dict[str, Any] = {"average": settings.average, "zero_division": 0.0}
    if settings.average == "binary":
        label_args["pos_label"] = positive
    calls: dict[str, Callable[[], float]] = {
        "accuracy": lambda: skm.accuracy_score(y_true, predicted.labels),
        "precision": lambda: skm.precision_score(y_true, predicted.labels, **label_args),
        "recall": lambda: skm.recall_score(y_true, predicted.labels, **label_args),
        "f1": lambda: skm.f1_score(y_true, predicted.labels, **label_args),
        "roc_auc": lambda: _roc_auc(y_true, predicted, binary, positive, what),
        "log_loss": lambda: skm.log_loss(
            y_true, _probabilities(predicted, "log_loss", what), labels=predicted.classes
        ),
        "mse": lambda: skm.mean_squared_error(y_true, predicted.labels),
        "mae": lambda: skm.mean_absolute_error(y_true, predicted.labels),
        "r2": lambda: skm.r2_score(y_true, predicted.labels),
    }
    for name in wanted:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                scores.values[name] = float(calls[name]())
            except (ValueError, TypeError) as error:  # e.g. labels the model never predicts
                raise EvaluationError(
                    f"{what}: scikit-learn cannot compute {name}: {error}",
                    fix="Check that the labels in the data are the ones the model predicts.",
                ) from error
        if caught:
            scores.warnings[name] = str(caught[-1].message)
    if binary and predicted.scores is not None:
        scores.roc = _roc_curve(y_true, _positive_scores(predicted, positive, what), positive)
    return scores


def _probabilities(predicted: Predictions, metric: str, what: str) -> Any:
    if predicted.scores is None or not predicted.probabilistic:
        raise EvaluationError(
            f"{what}: metric {metric} needs class probabilities, and the model gives none "
            "(it has no predict_proba)",
            fix=f"Remove {metric}, or use an estimator that predicts probabilities.",
        )
    return predicted.scores


def _positive_scores(predicted: Predictions, positive: Any, what: str) -> Any:
    scores = predicted.scores
    if scores is None:
        raise EvaluationError(
            f"{what}: roc_auc needs class scores, and the model gives none",
            fix="Remove roc_auc, or use an estimator with predict_proba or decision_function.",
        )
    if scores.ndim == 1:
        return scores
    classes = (
        list(predicted.classes) if predicted.classes is not None else list(range(scores.shape[1]))
    )
    return scores[:, classes.index(positive) if positive in classes else -1]


def _roc_auc(y_true: Any, predicted: Predictions, binary: bool, positive: Any, what: str) -> float:
    from sklearn.metrics import roc_auc_score

    if binary:
        return float(roc_auc_score(y_true, _positive_scores(predicted, positive, what)))
    return float(
        roc_auc_score(
            y_true,
            _probabilities(predicted, "roc_auc", what),
            multi_class="ovr",
            labels=predicted.classes,
        )
    )


def _roc_curve(y_true: Any, positive_scores: Any, positive: Any) -> dict[str, list[float]] | None:
    import numpy as np
    from sklearn.metrics import roc_curve

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        fpr, tpr, _ = roc_curve(y_true, positive_scores, pos_label=positive)
    if not (np.isfinite(fpr).all() and np.isfinite(tpr).all()):
        return None  # one class only: no curve to draw
    if len(fpr) > ROC_POINTS:
        keep = np.unique(np.linspace(0, len(fpr) - 1, ROC_POINTS).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 6) for v in fpr], "tpr": [round(float(v), 6) for v in tpr]}
