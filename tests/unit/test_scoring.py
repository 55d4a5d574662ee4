"""Scoring a model: each stored metric equals scikit-learn's on the same predictions; serving
speed is timed over the declared repetitions after the warm-up; bad predictions are refused."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from mvctl.apply.datasets import DataProblem, LoadedData
from mvctl.apply.evaluator import score
from mvctl.apply.predictors import EstimatorPredictor, Predictions
from mvctl.apply.speed import batches, measure_speed
from mvctl.core.evaluation import ScoringSettings
from mvctl.core.plan import DatasetRef
from mvctl.errors import EvaluationError

REF = DatasetRef(
    "holdout",
    "sha256:d",
    "npz",
    "key",
    step="prepare",
    file="d.npz",
    field="models.m.evaluation.datasets[0]",
)
PROBLEM = DataProblem(REF, "m@1.0.0")
QUALITY = {
    "binary-classification": (
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
    ),
    "multiclass-classification": (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "balanced_accuracy",
        "matthews_corrcoef",
        "log_loss",
    ),
    "regression": ("mse", "mae", "r2"),
}


def settings(
    task: str,
    average: str,
    metrics: tuple[str, ...] | None = None,
    pos_label: str | int | None = None,
) -> ScoringSettings:
    return ScoringSettings(
        task, metrics or QUALITY[task], average, 8, 5, 2, None, False, pos_label=pos_label
    )


def run(model: Any, x: Any, y: Any, scoring: ScoringSettings) -> dict[str, float | None]:
    return score(
        EstimatorPredictor(model), LoadedData(x, y, ()), scoring, PROBLEM, "m@1.0.0"
    ).metrics


def test_binary_metrics_are_scikit_learns() -> None:
    x, y = make_classification(200, 6, random_state=3)
    model = LogisticRegression().fit(x[:120], y[:120])
    xt, yt = x[120:], y[120:]
    got = run(model, xt, yt, settings("binary-classification", "binary"))
    predicted, proba = model.predict(xt), model.predict_proba(xt)
    assert got == {
        "accuracy": skm.accuracy_score(yt, predicted),
        "precision": skm.precision_score(yt, predicted),
        "recall": skm.recall_score(yt, predicted),
        "f1": skm.f1_score(yt, predicted),
        "roc_auc": skm.roc_auc_score(yt, proba[:, 1]),
        "average_precision": skm.average_precision_score(yt, proba[:, 1]),
        "balanced_accuracy": skm.balanced_accuracy_score(yt, predicted),
        "matthews_corrcoef": skm.matthews_corrcoef(yt, predicted),
        "brier_score": skm.brier_score_loss(yt, proba[:, 1]),
        "log_loss": skm.log_loss(yt, proba),
    }


def test_binary_labels_as_text_use_the_models_second_class_as_positive() -> None:
    x, y = make_classification(200, 6, random_state=4)
    names = np.where(y == 1, "yes", "no")
    model = LogisticRegression().fit(x[:120], names[:120])
    xt, yt = x[120:], names[120:]
    got = run(model, xt, yt, settings("binary-classification", "binary"))
    assert got["f1"] == skm.f1_score(yt, model.predict(xt), pos_label="yes")
    assert got["roc_auc"] == skm.roc_auc_score(yt, model.predict_proba(xt)[:, 1])


def test_pos_label_makes_the_smaller_text_label_the_scored_class() -> None:
    x, y = make_classification(240, 6, weights=[0.7], random_state=11)
    names = np.where(y == 1, "churn", "stay")  # "churn" < "stay": not scikit-learn's default
    model = LogisticRegression().fit(x[:160], names[:160])
    xt, yt = x[160:], names[160:]
    outcome = score(
        EstimatorPredictor(model),
        LoadedData(xt, yt, ()),
        settings("binary-classification", "binary", pos_label="churn"),
        PROBLEM,
        "m@1.0.0",
    )
    predicted, churn = model.predict(xt), model.predict_proba(xt)[:, 0]
    assert list(model.classes_) == ["churn", "stay"]
    assert outcome.metrics == {
        "accuracy": skm.accuracy_score(yt, predicted),
        "precision": skm.precision_score(yt, predicted, pos_label="churn"),
        "recall": skm.recall_score(yt, predicted, pos_label="churn"),
        "f1": skm.f1_score(yt, predicted, pos_label="churn"),
        "roc_auc": skm.roc_auc_score(yt == "churn", churn),
        "average_precision": skm.average_precision_score(yt, churn, pos_label="churn"),
        "balanced_accuracy": skm.balanced_accuracy_score(yt, predicted),
        "matthews_corrcoef": skm.matthews_corrcoef(yt, predicted),
        "brier_score": skm.brier_score_loss(yt, churn, pos_label="churn"),
        "log_loss": skm.log_loss(yt, model.predict_proba(xt)),
    }
    default = run(model, xt, yt, settings("binary-classification", "binary"))
    assert default["f1"] == skm.f1_score(yt, predicted, pos_label="stay") != outcome.metrics["f1"]
    assert outcome.details["scoring"] == {"average": "binary", "positive": "churn"}
    fpr, tpr, _ = skm.roc_curve(yt, churn, pos_label="churn")
    assert outcome.details["roc"] == {
        "fpr": [round(float(v), 6) for v in fpr],
        "tpr": [round(float(v), 6) for v in tpr],
    }


def test_pos_label_written_as_text_finds_a_numeric_label() -> None:
    x, y = make_classification(200, 6, random_state=12)
    model = LogisticRegression().fit(x[:120], y[:120])
    xt, yt = x[120:], y[120:]
    got = run(model, xt, yt, settings("binary-classification", "binary", ("f1",), pos_label="0"))
    assert got["f1"] == skm.f1_score(yt, model.predict(xt), pos_label=0)


def test_a_pos_label_that_is_no_class_is_refused_naming_the_field_and_the_classes() -> None:
    x, y = make_classification(120, 4, random_state=13)
    names = np.where(y == 1, "churn", "stay")
    model = LogisticRegression().fit(x, names)
    with pytest.raises(EvaluationError) as caught:
        run(model, x, names, settings("binary-classification", "binary", pos_label="chrun"))
    assert caught.value.field == "models.m.evaluation.pos_label"
    assert "'chrun' is not one of the classes ('churn', 'stay')" in caught.value.message


@pytest.mark.parametrize("average", ["macro", "weighted", "micro"])
def test_multiclass_metrics_are_scikit_learns(average: str) -> None:
    x, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=5)
    model = LogisticRegression(max_iter=500).fit(x[:200], y[:200])
    xt, yt = x[200:], y[200:]
    got = run(model, xt, yt, settings("multiclass-classification", average))
    predicted, proba = model.predict(xt), model.predict_proba(xt)
    assert got == {
        "accuracy": skm.accuracy_score(yt, predicted),
        "precision": skm.precision_score(yt, predicted, average=average),
        "recall": skm.recall_score(yt, predicted, average=average),
        "f1": skm.f1_score(yt, predicted, average=average),
        "roc_auc": skm.roc_auc_score(yt, proba, multi_class="ovr", average=average),
        "average_precision": skm.average_precision_score(yt, proba, average=average),
        "balanced_accuracy": skm.balanced_accuracy_score(yt, predicted),
        "matthews_corrcoef": skm.matthews_corrcoef(yt, predicted),
        "log_loss": skm.log_loss(yt, proba),
    }


def test_regression_metrics_are_scikit_learns() -> None:
    x, y = make_regression(150, 4, noise=5.0, random_state=6)
    model = LinearRegression().fit(x[:100], y[:100])
    xt, yt = x[100:], y[100:]
    got = run(model, xt, yt, settings("regression", "macro"))
    predicted = model.predict(xt)
    assert got == {
        "mse": skm.mean_squared_error(yt, predicted),
        "mae": skm.mean_absolute_error(yt, predicted),
        "r2": skm.r2_score(yt, predicted),
    }


def test_a_metric_scikit_learn_cannot_define_is_stored_as_null_with_status_nan() -> None:
    x, y = make_regression(20, 2, random_state=7)
    model = LinearRegression().fit(x, y)
    outcome = score(
        EstimatorPredictor(model),
        LoadedData(x[:1], y[:1], ()),
        settings("regression", "macro", ("r2", "mae")),
        PROBLEM,
        "m@1.0.0",
    )
    assert outcome.metrics["r2"] is None and outcome.metric_status == {"r2": "nan"}
    assert "r2" in outcome.details["warnings"]


def test_scores_come_from_decision_function_for_roc_auc_but_log_loss_needs_probabilities() -> None:
    x, y = make_classification(120, 4, random_state=8)
    model = LinearSVC().fit(x, y)
    got = run(model, x, y, settings("binary-classification", "binary", ("roc_auc",)))
    assert got["roc_auc"] == skm.roc_auc_score(y, model.decision_function(x))
    with pytest.raises(EvaluationError, match="log_loss needs class probabilities"):
        run(model, x, y, settings("binary-classification", "binary", ("log_loss",)))


def test_the_roc_curve_is_kept_for_reports() -> None:
    x, y = make_classification(400, 5, random_state=9)
    model = LogisticRegression().fit(x, y)
    outcome = score(
        EstimatorPredictor(model),
        LoadedData(x, y, ()),
        settings("binary-classification", "binary", ("accuracy",)),
        PROBLEM,
        "m@1.0.0",
    )
    roc = outcome.details["roc"]
    assert len(roc["fpr"]) == len(roc["tpr"]) <= 101
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0


class _Fixed:
    """A model whose predictions are given: for bad-prediction cases."""

    in_process = True

    def __init__(self, labels: Any, n_features: int | None = None) -> None:
        self.labels = labels
        self.n_features = n_features

    def predictions(self, x: Any, features: Any, *, want_scores: bool) -> Predictions:
        return Predictions(np.asarray(self.labels))

    def predict_batch(self, x: Any) -> Any:
        return self.labels


def test_nan_predictions_are_refused_naming_model_dataset_and_field() -> None:
    data = LoadedData(np.zeros((3, 2)), np.array([1.0, 2.0, 3.0]), ())
    with pytest.raises(EvaluationError) as caught:
        score(
            _Fixed([1.0, math.nan, 2.0]), data, settings("regression", "macro"), PROBLEM, "m@1.0.0"
        )
    message = caught.value.message
    assert "m@1.0.0" in message and "'holdout'" in message and "NaN" in message
    assert caught.value.field == "models.m.evaluation.datasets[0]"


def test_a_shape_mismatch_between_data_and_model_is_refused() -> None:
    data = LoadedData(np.zeros((3, 2)), np.array([0, 1, 0]), ())
    with pytest.raises(
        EvaluationError, match=r"2 feature columns but the model of m@1\.0\.0 expects 5"
    ):
        score(
            _Fixed([0, 1, 0], n_features=5),
            data,
            settings("binary-classification", "binary", ("accuracy",)),
            PROBLEM,
            "the model of m@1.0.0",
        )


def test_speed_is_timed_over_the_declared_repetitions_after_warm_up() -> None:
    calls: list[int] = []

    def predict(batch: Any) -> Any:
        calls.append(len(batch))
        time.sleep(0.002)
        return batch

    x = np.arange(50, dtype=float).reshape(25, 2)
    result = measure_speed(predict, x, batch_size=8, repetitions=7, warmup=3)
    assert calls == [8] * 10  # three untimed, then seven timed, every batch of the declared size
    assert len(result.latencies_ms) == 7 and min(result.latencies_ms) >= 2.0
    assert result.qps == pytest.approx(8 * 7 / (sum(result.latencies_ms) / 1000))
    measured = result.metrics()
    assert measured["latency_p50_ms"] <= measured["latency_p95_ms"] <= measured["latency_p99_ms"]


def test_batches_repeat_a_short_dataset_to_the_declared_size() -> None:
    x = np.arange(6, dtype=float).reshape(3, 2)
    (only,) = batches(x, 8)
    assert only.shape == (8, 2)
