"""The report's numbers and words: the diagnostics kept for it equal scikit-learn's own
functions, trend axes keep the gate's scale, charts draw hostile names as text, and change-log
rows read as words."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from sklearn import metrics as skm
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mvctl.apply.diagnostics import classification_details
from mvctl.apply.predictors import Predictions
from mvctl.core.recorded import Change, Target
from mvctl.core.records import AliasRecord, ModelRecord
from mvctl.render.plots import axis_range, confusion_matrices, precision_recall_curves
from mvctl.render.records import change_line


def test_multiclass_diagnostics_are_scikit_learns() -> None:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=1000).fit(x[::2], names[::2])
    proba = model.predict_proba(x[1::2])
    predicted = Predictions(model.predict(x[1::2]), proba, True, model.classes_)
    details = classification_details("multiclass-classification", names[1::2], predicted)
    expected = skm.confusion_matrix(names[1::2], predicted.labels, labels=model.classes_)
    assert details["confusion"] == {
        "labels": ["setosa", "versicolor", "virginica"],
        "matrix": expected.tolist(),
    }
    assert details["per_class"]["f1"] == [
        round(v, 6) for v in skm.f1_score(names[1::2], predicted.labels, average=None)
    ]
    for index, label in enumerate(model.classes_):
        truth = names[1::2] == label
        assert details["roc_ovr"]["auc"][index] == round(
            skm.roc_auc_score(truth, proba[:, index]), 6
        )
    assert "pr" not in details and "calibration" not in details


def test_multiclass_precision_recall_is_scikit_learns_one_vs_rest() -> None:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=200).fit(x[::3], names[::3])
    held_out = np.concatenate([x[1::3], x[2::3]])
    truth = np.concatenate([names[1::3], names[2::3]])
    proba = model.predict_proba(held_out)
    predicted = Predictions(model.predict(held_out), proba, True, model.classes_)
    curves = classification_details("multiclass-classification", truth, predicted)["pr_ovr"]
    assert curves["labels"] == ["setosa", "versicolor", "virginica"]
    for index, label in enumerate(model.classes_):
        precision, recall, _ = skm.precision_recall_curve(truth == label, proba[:, index])
        assert len(precision) <= 101  # 100 rows: the stored curve is not thinned
        assert curves["precision"][index] == [round(float(v), 6) for v in precision]
        assert curves["recall"][index] == [round(float(v), 6) for v in recall]
        assert curves["average_precision"][index] == round(
            skm.average_precision_score(truth == label, proba[:, index]), 6
        )
    # versicolor and virginica overlap: not every class is ranked perfectly.
    assert min(curves["average_precision"]) < 1.0


def test_a_class_missing_from_the_data_gets_no_one_vs_rest_curve() -> None:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=200).fit(x, names)
    no_setosa = names != "setosa"
    proba = model.predict_proba(x[no_setosa])
    predicted = Predictions(model.predict(x[no_setosa]), proba, True, model.classes_)
    details = classification_details("multiclass-classification", names[no_setosa], predicted)
    assert details["pr_ovr"]["labels"] == ["versicolor", "virginica"]
    assert details["roc_ovr"]["labels"] == ["versicolor", "virginica"]


def test_binary_diagnostics_are_scikit_learns() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    y = np.where(x[:, 0] + rng.normal(size=300) > 0, "stay", "churn")
    model = LogisticRegression().fit(x[:150], y[:150])
    proba = model.predict_proba(x[150:])
    predicted = Predictions(model.predict(x[150:]), proba, True, model.classes_)
    details = classification_details("binary-classification", y[150:], predicted)
    positive = y[150:] == "stay"  # the second class, as the metrics score it
    assert details["pr"]["positive"] == "stay"
    assert details["pr"]["average_precision"] == round(
        skm.average_precision_score(positive, proba[:, 1]), 6
    )
    assert sum(details["calibration"]["count"]) == 150
    assert (
        details["confusion"]["matrix"] == skm.confusion_matrix(y[150:], predicted.labels).tolist()
    )


def test_a_regression_keeps_no_classification_details() -> None:
    assert classification_details("regression", [1.0, 2.0], Predictions([1.5, 2.5])) == {}


@pytest.mark.parametrize(
    ("values", "thresholds", "unit", "expected"),
    [
        # A 0.0003 wobble of a score is shown on at least 0.1 (plus margins), not magnified.
        ([0.9500, 0.9503], [], True, (0.884, 1.0)),
        # The gate's bound is in view, however far.
        ([0.95, 0.96], [0.80], True, (0.7872, 0.9728)),
        # A score near 1 stays inside [0, 1].
        ([0.999, 1.0], [], True, (0.884, 1.0)),
        # Unbounded metrics: at least a fifth of their size.
        ([100.0, 101.0], [], False, (88.784, 112.216)),
    ],
)
def test_trend_axes_show_the_gate_scale(
    values: list[float], thresholds: list[float], unit: bool, expected: tuple[float, float]
) -> None:
    low, high = axis_range(values, thresholds, unit)
    assert (round(low, 4), round(high, 4)) == pytest.approx(expected, abs=1e-3)
    assert low <= min(values + thresholds) and high >= max(values + thresholds)


def test_charts_draw_mathtext_and_html_names_as_text() -> None:
    name = "$\\frac{a$ <script>"
    png = confusion_matrices(
        f"{name} matrices", {name: {"labels": [name, "b"], "matrix": [[1, 2], [3, 4]]}}
    )
    with Image.open(io.BytesIO(png)) as image:
        text = dict(image.text)  # type: ignore[attr-defined]
    assert text["Title"] == f"{name} matrices"
    assert json.loads(text["Axes"]) == [
        {"title": name, "xlabel": "predicted class", "ylabel": "true class"}
    ]
    png = precision_recall_curves(name, {name: {"precision": [1.0, 0.5], "recall": [0.0, 1.0]}})
    assert png.startswith(b"\x89PNG")


def test_change_log_rows_read_as_words() -> None:
    recorded = ModelRecord(archived=False, created_at="2026-11-20T08:30:00Z")
    archived = ModelRecord(archived=True, created_at="2026-11-20T08:30:00Z")
    churn = Target("model", "churn")
    assert change_line(Change(churn, None, recorded)) == "churn: model recorded"
    assert change_line(Change(churn, recorded, archived)) == "churn: model archived"
    assert (
        change_line(Change(churn, archived, recorded)) == "churn: model restored from the archive"
    )
    assert change_line(Change(churn, recorded, None)) == "churn: model record removed"
    alias = Target("alias", "churn", "production")
    assert change_line(Change(alias, AliasRecord("1.0.0"), AliasRecord("1.1.0"))) == (
        "churn:production: 1.0.0 -> 1.1.0"
    )
