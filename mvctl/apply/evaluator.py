"""Score one loaded model on one loaded dataset: predictions, quality metrics, serving speed.

The result is what the state stores: metric values as strict JSON (a NaN or infinite value
becomes null, with 'nan', 'inf' or '-inf' as its status), and details for reports (rows, the
ROC curve, confusion matrix and other curves of ``diagnostics``, timings, scikit-learn's
warnings, and ``scoring``: the averaging and positive class the metrics were computed with,
for the views that name them). Bad input fails before any number is made: a model expecting
another number of features, predictions of the wrong length, NaN predictions.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from mvctl import __version__
from mvctl.apply.datasets import DataProblem, LoadedData
from mvctl.apply.diagnostics import classification_details
from mvctl.apply.predictors import Predictions, Predictor
from mvctl.apply.scoring import quality_metrics
from mvctl.apply.speed import measure_speed
from mvctl.core.evaluation import ScoringSettings
from mvctl.errors import EvaluationError
from mvctl.spec.metrics import CLASSIFICATION, METRICS

MAX_STORED_LATENCIES = 1000


def evaluator_version() -> str:
    """What computed a result: this mvctl and the scikit-learn whose functions it called."""
    import sklearn

    return f"mvctl {__version__}; scikit-learn {sklearn.__version__}"


@dataclass(frozen=True)
class EvaluationOutcome:
    metrics: dict[str, float | None]
    """Finite values; None where the value was NaN or infinite."""
    metric_status: dict[str, str]
    """'nan', 'inf' or '-inf' for the metrics stored as None."""
    details: dict[str, Any]


def score(
    predictor: Predictor,
    data: LoadedData,
    settings: ScoringSettings,
    problem: DataProblem,
    what: str,
) -> EvaluationOutcome:
    if predictor.n_features is not None and predictor.n_features != data.x.shape[1]:
        raise problem(
            f"the data has {data.x.shape[1]} feature columns but {what} expects {predictor.n_features}",
            "Give the features the model was trained on (list them under 'features' to pick columns).",
            "features",
        )
    want_scores = any(METRICS[m].needs_scores for m in settings.metrics) or (
        settings.task in CLASSIFICATION  # the ROC and precision-recall curves in reports
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            predicted = predictor.predictions(data.x, data.features, want_scores=want_scores)
        except ValueError as error:  # scikit-learn's way of refusing the input's shape or values
            raise problem(
                f"{what} cannot predict on this data: {error}",
                "Give the features the model was trained on.",
                "features",
            ) from error
        except Exception as error:  # the model's own code failing on a damaged model's values
            raise problem(
                f"{what} fails to predict: {type(error).__name__}: {error}",
                "Train the version again, or register a model file saved whole.",
            ) from error
    _check_predictions(predicted, data, problem, what)
    scores = quality_metrics(
        settings, data.y, predicted, what, pos_label_field=problem.evaluation_field("pos_label")
    )
    values: dict[str, float] = dict(scores.values)
    details: dict[str, Any] = {"rows": data.rows}
    if settings.task in CLASSIFICATION:
        details["scoring"] = scoring_details(settings.average, scores.positive)
    if scores.roc is not None:
        details["roc"] = scores.roc
    details.update(classification_details(settings.task, data.y, predicted))
    notes = {**scores.warnings}
    if caught:
        notes["predict"] = str(caught[-1].message)
    if notes:
        details["warnings"] = notes
    speed_metrics = [m for m in settings.metrics if METRICS[m].speed]
    if speed_metrics:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same ones predicting raised are kept above
            speed = measure_speed(
                predictor.predict_batch,
                data.x,
                batch_size=settings.batch_size,
                repetitions=settings.repetitions,
                warmup=settings.warmup,
            )
        measured = speed.metrics()
        values.update({name: measured[name] for name in speed_metrics})
        details["speed"] = {
            "batch_size": speed.batch_size,
            "repetitions": len(speed.latencies_ms),
            "warmup": speed.warmup,
            "latencies_ms": [round(v, 4) for v in speed.latencies_ms[:MAX_STORED_LATENCIES]],
        }
    return split_non_finite(values, details)


def scoring_details(average: str, positive: Any) -> dict[str, Any]:
    """How the numbers were made, kept with them so every view can name it: the averaging,
    and the positive class of a binary task (a plain JSON value)."""
    shown = positive.item() if hasattr(positive, "item") else positive
    return {"average": average, "positive": shown}


def split_non_finite(values: dict[str, float], details: dict[str, Any]) -> EvaluationOutcome:
    metrics: dict[str, float | None] = {}
    status: dict[str, str] = {}
    for name, value in values.items():
        if math.isfinite(value):
            metrics[name] = value
        else:
            metrics[name] = None
            status[name] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return EvaluationOutcome(metrics, status, details)


def _check_predictions(
    predicted: Predictions, data: LoadedData, problem: DataProblem, what: str
) -> None:
    import numpy as np

    labels = np.asarray(predicted.labels)
    if labels.shape[:1] != (data.rows,):
        raise EvaluationError(
            f"{what} returned {labels.shape[0] if labels.ndim else 0} predictions "
            f"for {data.rows} rows of dataset '{problem.ref.name}'",
            field=problem.field(""),
            fix="Predict one value per input row.",
        )
    for what_kind, array in (("predictions", labels), ("scores", predicted.scores)):
        if array is None or not np.issubdtype(np.asarray(array).dtype, np.number):
            continue
        bad = int(np.size(array) - np.isfinite(array).sum())
        if bad:
            raise problem(
                f"{what} predicted NaN or infinite {what_kind} ({bad} of {np.size(array)} values)",
                "Check the model and the data's missing values; a metric of NaN predictions "
                "would mean nothing.",
            )
