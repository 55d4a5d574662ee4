"""Quality metrics from predictions, computed by scikit-learn's own functions.

Nothing is re-implemented: each metric is one call into ``sklearn.metrics`` with the
declared averaging (precision, recall and f1 always; for multiclass tasks also the
one-vs-rest areas, roc_auc and average_precision). For binary tasks the positive class is
the declared ``pos_label``, else the model's second class (the greater label, scikit-learn's
convention); its score column feeds roc_auc, average_precision, brier_score and the ROC
curve kept for reports. Warnings scikit-learn raises (an undefined metric, one class in the
data) are kept with the result instead of printed, and the value stays what scikit-learn
returned, NaN included, for the gates to call inconclusive."""

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
    positive: Any = None
    """The class binary metrics scored (None for other tasks)."""


def positive_class(
    classes: Any, y_true: Any, declared: str | int | None = None, field: str | None = None
) -> Any:
    """The class binary metrics treat as positive: the ``declared`` one (matched by its text, so
    ``pos_label: "1"`` finds the label 1), else the model's second class, else the greater label.

    ``field`` names the config field of ``declared`` in the error when no class matches it.
    """
    import numpy as np

    known = classes if classes is not None else np.unique(y_true)
    if declared is None:
        return known[-1]
    for candidate in known:
        if str(candidate) == str(declared):
            return candidate
    shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in known)
    raise EvaluationError(
        f"pos_label {declared!r} is not one of the classes ({shown})",
        field=field,
        fix="Set 'pos_label' to the label of the positive class exactly as the data writes it.",
    )


def quality_metrics(
    settings: ScoringSettings,
    y_true: Any,
    predicted: Predictions,
    what: str,
    *,
    pos_label_field: str | None = None,
) -> Scores:
    """Every declared quality metric (speed is measured elsewhere).

    ``pos_label_field`` names the config field of ``pos_label`` in the error when it names no
    class of the model or the data.
    """
    from sklearn import metrics as skm

    wanted = [name for name in settings.metrics if not METRICS[name].speed]
    binary = settings.task == "binary-classification"
    positive = (
        positive_class(predicted.classes, y_true, settings.pos_label, pos_label_field)
        if binary
        else None
    )
    scores = Scores(positive=positive)
    label_args: dict[str, Any] = {"average": settings.average, "zero_division": 0.0}
    if settings.average == "binary":
        label_args["pos_label"] = positive
    calls: dict[str, Callable[[], float]] = {
        "accuracy": lambda: skm.accuracy_score(y_true, predicted.labels),
        "precision": lambda: skm.precision_score(y_true, predicted.labels, **label_args),
        "recall": lambda: skm.recall_score(y_true, predicted.labels, **label_args),
        "f1": lambda: skm.f1_score(y_true, predicted.labels, **label_args),
        "roc_auc": lambda: _roc_auc(y_true, predicted, settings.average, positive, what),
        "average_precision": lambda: _average_precision(
            y_true, predicted, settings.average, positive, what
        ),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y_true, predicted.labels),
        "matthews_corrcoef": lambda: skm.matthews_corrcoef(y_true, predicted.labels),
        "brier_score": lambda: skm.brier_score_loss(
            y_true,
            _positive_scores(predicted, positive, "brier_score", what, probabilities=True),
            pos_label=positive,
        ),
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
        scores.roc = _roc_curve(
            y_true, _positive_scores(predicted, positive, "roc_auc", what), positive
        )
    return scores


def _probabilities(predicted: Predictions, metric: str, what: str) -> Any:
    if predicted.scores is None or not predicted.probabilistic:
        raise EvaluationError(
            f"{what}: metric {metric} needs class probabilities, and the model gives none "
            "(it has no predict_proba)",
            fix=f"Remove {metric}, or use an estimator that predicts probabilities.",
        )
    return predicted.scores


def _positive_scores(
    predicted: Predictions, positive: Any, metric: str, what: str, *, probabilities: bool = False
) -> Any:
    """The positive class's column of the scores (of the probabilities when ``probabilities``)."""
    scores = _probabilities(predicted, metric, what) if probabilities else predicted.scores
    if scores is None:
        raise EvaluationError(
            f"{what}: {metric} needs class scores, and the model gives none",
            fix=f"Remove {metric}, or use an estimator with predict_proba or decision_function.",
        )
    if scores.ndim == 1:
        return scores
    classes = (
        list(predicted.classes) if predicted.classes is not None else list(range(scores.shape[1]))
    )
    return scores[:, classes.index(positive) if positive in classes else -1]


def _roc_auc(y_true: Any, predicted: Predictions, average: str, positive: Any, what: str) -> float:
    """Binary: the positive class's scores against "is positive" (roc_auc_score itself would
    take the greater label as positive). Multiclass: one-vs-rest, averaged as declared."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    if positive is not None:
        scores = _positive_scores(predicted, positive, "roc_auc", what)
        return float(roc_auc_score(np.asarray(y_true) == positive, scores))
    return float(
        roc_auc_score(
            y_true,
            _probabilities(predicted, "roc_auc", what),
            multi_class="ovr",
            average=average,
            labels=predicted.classes,
        )
    )


def _average_precision(
    y_true: Any, predicted: Predictions, average: str, positive: Any, what: str
) -> float:
    """Binary: of the positive class. Multiclass: one-vs-rest over the model's classes (the
    columns of its scores), averaged as declared."""
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import label_binarize

    if positive is not None:
        scores = _positive_scores(predicted, positive, "average_precision", what)
        return float(average_precision_score(y_true, scores, pos_label=positive))
    scores = predicted.scores
    if scores is None or scores.ndim != 2:
        raise EvaluationError(
            f"{what}: average_precision needs a score per class, and the model gives none",
            fix="Remove average_precision, or use an estimator with predict_proba.",
        )
    classes = predicted.classes if predicted.classes is not None else range(scores.shape[1])
    return float(
        average_precision_score(
            label_binarize(y_true, classes=list(classes)), scores, average=average
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
