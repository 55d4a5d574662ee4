"""What a reviewer needs to see beyond the metric values, kept in an evaluation's details for
the report: the confusion matrix and per-class precision, recall and F1 (classification), the
precision-recall curve and a calibration curve (binary), one-vs-rest ROC and precision-recall
curves (multiclass).

Computed by scikit-learn's functions on the same predictions the metrics used. Curves are
thinned to at most ``CURVE_POINTS`` points and matrices are skipped past ``MAX_CLASSES``
classes, so a stored result stays small. Class labels are stored as text (JSON keys and
legends); they come from the data and are escaped by whoever shows them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from mvctl.apply.predictors import Predictions
from mvctl.apply.scoring import positive_class

CURVE_POINTS = 101
MAX_CLASSES = 30
CALIBRATION_BINS = 10


def classification_details(task: str, y_true: Any, predicted: Predictions) -> dict[str, Any]:
    """The details above for a classification task's predictions; {} for other tasks."""
    import numpy as np

    if task not in ("binary-classification", "multiclass-classification"):
        return {}
    classes = (
        np.asarray(predicted.classes)
        if predicted.classes is not None
        else np.unique(np.concatenate([np.asarray(y_true), np.asarray(predicted.labels)]))
    )
    if len(classes) > MAX_CLASSES:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class in the data: scikit-learn warns, values stay
        details = _per_class(y_true, predicted.labels, classes)
        if predicted.scores is None:
            return details
        scores = np.asarray(predicted.scores)
        if task == "binary-classification":
            positive = positive_class(predicted.classes, y_true)
            column = scores if scores.ndim == 1 else scores[:, list(classes).index(positive)]
            details.update(_binary_curves(y_true, column, positive, predicted.probabilistic))
        elif scores.ndim == 2 and scores.shape[1] == len(classes):
            details["roc_ovr"] = _one_vs_rest(y_true, scores, classes)
            details["pr_ovr"] = _one_vs_rest_precision_recall(y_true, scores, classes)
    return details


def _text(labels: Any) -> list[str]:
    return [str(label.item() if hasattr(label, "item") else label) for label in labels]


def _per_class(y_true: Any, y_pred: Any, classes: Any) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0.0
    )
    return {
        "confusion": {
            "labels": _text(classes),
            "matrix": [[int(n) for n in row] for row in matrix],
        },
        "per_class": {
            "labels": _text(classes),
            "precision": [round(float(v), 6) for v in precision],
            "recall": [round(float(v), 6) for v in recall],
            "f1": [round(float(v), 6) for v in f1],
            "support": [int(n) for n in support],
        },
    }


def _thin(*arrays: Any) -> list[list[float]]:
    """At most CURVE_POINTS evenly spread points of aligned curve arrays, first and last kept."""
    import numpy as np

    size = len(arrays[0])
    keep = np.unique(np.linspace(0, size - 1, min(size, CURVE_POINTS)).round().astype(int))
    return [[round(float(v), 6) for v in np.asarray(a)[keep]] for a in arrays]


def _binary_curves(y_true: Any, scores: Any, positive: Any, probabilistic: bool) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import average_precision_score, precision_recall_curve

    truth = np.asarray(y_true) == positive
    if truth.all() or not truth.any():
        return {}  # one class only: no curve to draw
    precision, recall, _ = precision_recall_curve(truth, scores)
    thin_precision, thin_recall = _thin(precision, recall)
    details: dict[str, Any] = {
        "pr": {
            "precision": thin_precision,
            "recall": thin_recall,
            "average_precision": round(float(average_precision_score(truth, scores)), 6),
            "positive": _text([positive])[0],
        }
    }
    if probabilistic:
        edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
        bins = np.clip(np.digitize(scores, edges[1:-1]), 0, CALIBRATION_BINS - 1)
        used = [b for b in range(CALIBRATION_BINS) if (bins == b).any()]
        details["calibration"] = {
            "predicted": [round(float(scores[bins == b].mean()), 6) for b in used],
            "observed": [round(float(truth[bins == b].mean()), 6) for b in used],
            "count": [int((bins == b).sum()) for b in used],
        }
    return details


def _each_class(y_true: Any, scores: Any, classes: Any) -> Iterator[tuple[str, Any, Any]]:
    """(label, which rows are that class, that class's score column) for every class both
    present and absent in ``y_true``: one class against the rest."""
    import numpy as np

    truth = np.asarray(y_true)
    for index, label in enumerate(_text(classes)):
        is_class = truth == classes[index]
        if not is_class.all() and is_class.any():
            yield label, is_class, scores[:, index]


def _one_vs_rest(y_true: Any, scores: Any, classes: Any) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score, roc_curve

    curves: dict[str, Any] = {"labels": [], "fpr": [], "tpr": [], "auc": []}
    for label, is_class, column in _each_class(y_true, scores, classes):
        fpr, tpr, _ = roc_curve(is_class, column)
        thin_fpr, thin_tpr = _thin(fpr, tpr)
        curves["labels"].append(label)
        curves["fpr"].append(thin_fpr)
        curves["tpr"].append(thin_tpr)
        curves["auc"].append(round(float(roc_auc_score(is_class, column)), 6))
    return curves


def _one_vs_rest_precision_recall(y_true: Any, scores: Any, classes: Any) -> dict[str, Any]:
    """Each class's precision-recall curve and average precision against the rest, the way
    the binary curve is drawn for its positive class."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves: dict[str, Any] = {"labels": [], "precision": [], "recall": [], "average_precision": []}
    for label, is_class, column in _each_class(y_true, scores, classes):
        precision, recall, _ = precision_recall_curve(is_class, column)
        thin_precision, thin_recall = _thin(precision, recall)
        curves["labels"].append(label)
        curves["precision"].append(thin_precision)
        curves["recall"].append(thin_recall)
        average = average_precision_score(is_class, column)
        curves["average_precision"].append(round(float(average), 6))
    return curves
