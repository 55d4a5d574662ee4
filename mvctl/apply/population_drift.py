"""How far a live batch has moved from the evaluation data: per feature and for the predictions.

Evidently's defaults are the starting point. A numeric column is compared with the two-sample
Kolmogorov-Smirnov test, a categorical one (a column with at most ``CATEGORICAL_MAX_VALUES``
distinct values in the reference, and a classifier's predictions) with the chi-square test of
the two samples' counts; either drifts at p < ``DRIFT_P_VALUE``. The population stability
index is reported beside the test for every column (deciles of the reference for numeric
ones, categories for the others). The statistics monitoring rules read are summaries of these
(``spec.rules.DRIFT_STATISTICS``). Values that are not finite are stored as null.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

CATEGORICAL_MAX_VALUES = 5
"""A numeric column with at most this many distinct reference values is compared as
categories (Evidently's rule)."""
DRIFT_P_VALUE = 0.05
PSI_BINS = 10
PSI_FLOOR = 1e-4
"""Proportions are floored at this before the logarithm, so an empty bin is finite."""


def drift_report(
    reference: Any,
    batch: Any,
    features: Sequence[str],
    reference_predictions: Any,
    batch_predictions: Any,
    *,
    categorical_predictions: bool,
) -> dict[str, Any]:
    """Drift of each feature column and of the predictions, and the summary statistics."""
    import numpy as np

    columns = [
        _column_drift(name, np.asarray(reference[:, j]), np.asarray(batch[:, j]), None)
        for j, name in enumerate(features)
    ]
    prediction = _column_drift(
        "prediction",
        np.asarray(reference_predictions),
        np.asarray(batch_predictions),
        categorical_predictions,
    )
    numeric_ks = [c["statistic"] for c in columns if c["test"] == "ks"]
    statistics = {
        "drift.psi.max": _finite_max([c["psi"] for c in columns]),
        "drift.ks.max": _finite_max(numeric_ks),
        "drift.share": sum(c["drifted"] for c in columns) / len(columns) if columns else None,
        "drift.prediction.psi": prediction["psi"],
    }
    return {"features": columns, "prediction": prediction, "statistics": statistics}


def _column_drift(
    name: str, reference: Any, batch: Any, categorical: bool | None
) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    if categorical is None:
        categorical = len(np.unique(reference)) <= CATEGORICAL_MAX_VALUES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's notes on tiny samples; the p-value says it
        if categorical:
            categories = np.unique(np.concatenate([reference.astype(str), batch.astype(str)]))
            expected = np.array([(reference.astype(str) == c).sum() for c in categories])
            observed = np.array([(batch.astype(str) == c).sum() for c in categories])
            psi = _psi(expected, observed)
            if len(categories) < 2:
                statistic, p_value = 0.0, 1.0
            else:
                result = stats.chi2_contingency(np.vstack([expected, observed]))
                statistic, p_value = float(result.statistic), float(result.pvalue)
            test = "chi2"
        else:
            reference = reference.astype(float)
            batch = batch.astype(float)
            edges = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1))[1:-1])
            bins = len(edges) + 1
            expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins)
            observed = np.bincount(np.searchsorted(edges, batch, side="right"), minlength=bins)
            psi = _psi(expected, observed)
            result = stats.ks_2samp(reference, batch)
            statistic, p_value = float(result.statistic), float(result.pvalue)
            test = "ks"
    return {
        "name": name,
        "kind": "categorical" if categorical else "numeric",
        "test": test,
        "statistic": _finite(statistic),
        "p_value": _finite(p_value),
        "psi": _finite(psi),
        "drifted": bool(p_value < DRIFT_P_VALUE),
    }


def _psi(expected_counts: Any, observed_counts: Any) -> float:
    import numpy as np

    expected = np.maximum(expected_counts / max(expected_counts.sum(), 1), PSI_FLOOR)
    observed = np.maximum(observed_counts / max(observed_counts.sum(), 1), PSI_FLOOR)
    return float(np.sum((observed - expected) * np.log(observed / expected)))


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _finite_max(values: Sequence[float | None]) -> float | None:
    finite = [value for value in values if value is not None]
    return max(finite) if finite else None
