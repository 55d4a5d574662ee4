"""A recorded state for report tests, written through StateDB as apply would write it: a
binary classifier (two versions with their evaluations, a third that failed, two aliases, a
passed and a blocked promotion, monitor samples), a multiclass one, and a model recorded but
not declared. The curves and matrices in the evaluation details are what the evaluator's
``classification_details`` makes of real scikit-learn predictions; nothing is trained by mvctl,
so the page renders in seconds.

``hostile`` puts HTML, script and mathtext into every name the state can hold that the report
shows: an undeclared model's name, version, alias, params and gate; the declared models' class
labels, dataset name, param names and values, input file names and actors. (The config's own
names are restricted to letters, digits and ``_.-+``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvctl.core.monitoring import MonitorSample
from mvctl.core.recorded import Change, Target
from mvctl.core.records import (
    AliasRecord,
    EvaluationResult,
    GateDecision,
    ModelRecord,
    VersionRecord,
)
from mvctl.state.db import StateDB
from tests.functional.scored_project import CONFIG

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>$\\frac{a$"
"""HTML that would run, and mathtext that would break a matplotlib drawing."""

MULTICLASS = """\
  iris:
    task: multiclass-classification
    pipeline:
      - name: prepare
        run: python steps/prepare.py
        deps: [steps/prepare.py]
        params: {seed: 1}
        outputs: [train.npz]
      - name: train
        uses: sklearn
        with: {estimator: sklearn.linear_model.LogisticRegression}
        params: {C: 1.0}
        deps: [prepare]
    evaluation:
      datasets:
        - {name: split, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}
      metrics: [accuracy, f1, roc_auc]
      gates: ["accuracy >= 0.8"]
    versions:
      "1.0.0": {}
    aliases:
      production: "1.0.0"
"""


def _version(
    spec_hash: str,
    status: str = "trained",
    *,
    created_at: str = "2026-11-20T08:30:00Z",
    params: dict[str, Any] | None = None,
    lineage: dict[str, Any] | None = None,
    actor: str = "alice",
) -> VersionRecord:
    return VersionRecord.from_json(
        {
            "status": status,
            "spec_hash": spec_hash,
            "metadata_hash": "m",
            "artifact_digest": None if status == "failed" else "sha256:" + "ab" * 32,
            "spec": {},
            "params": params or {},
            "lineage": lineage or {},
            "failure": None,
            "description": None,
            "tags": {},
            "created_by": actor,
            "created_at": created_at,
            "apply_id": 1,
        }
    )


def _lineage(cached: bool, input_file: str) -> dict[str, Any]:
    run: dict[str, Any] = {"cached": cached, "key": "1" * 64, "log": "sha256:" + "2" * 64}
    if not cached:
        run["duration_s"] = 1.5
    return {
        "artifact": {"file": "model.skops", "step": "train"},
        "steps": {
            "prepare": {
                **run,
                "outputs": {"train.npz": "sha256:" + "3" * 64},
                "dep_files": {
                    "steps/prepare.py": {
                        "kept": True,
                        "files": {input_file: "sha256:" + "4" * 64},
                    }
                },
            },
            "train": {**run, "outputs": {"model.skops": "sha256:" + "ab" * 32}},
        },
    }


def _details(task: str, strength: float, labels: tuple[str, ...]) -> dict[str, Any]:
    """Real predictions of a logistic regression on made-up data, as the evaluator keeps them."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from mvctl.apply.diagnostics import classification_details
    from mvctl.apply.predictors import Predictions

    rng = np.random.default_rng(7)
    x = rng.normal(size=(240, 4))
    noise = rng.normal(scale=1 / strength, size=240)
    if task == "binary-classification":
        y = np.where(x @ [1.5, -2.0, 0.5, 1.0] + noise > 0, labels[1], labels[0])
    else:
        y = np.array(labels)[np.digitize(x[:, 0] + x[:, 1] + noise, [-0.7, 0.7])]
    model = LogisticRegression().fit(x[:120], y[:120])
    predicted = Predictions(
        model.predict(x[120:]), model.predict_proba(x[120:]), True, model.classes_
    )
    details = classification_details(task, y[120:], predicted)
    details["rows"] = 120
    if task == "binary-classification":
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(y[120:] == model.classes_[1], predicted.scores[:, 1])
        details["roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    return details


def _evaluation(
    spec_hash: str,
    evaluation_hash: str,
    quality: float,
    details: dict[str, Any],
    *,
    dataset: str,
    created_at: str,
    metrics: tuple[str, ...],
) -> EvaluationResult:
    values = {
        "accuracy": quality,
        "precision": quality,
        "recall": quality - 0.02,
        "f1": quality - 0.01,
        "roc_auc": quality + 0.02,
        "log_loss": 1 - quality,
        "latency_p50_ms": 3.0 / quality,
        "qps": 5000 * quality,
    }
    return EvaluationResult.from_json(
        {
            "spec_hash": spec_hash,
            "dataset_digest": "sha256:" + "5" * 64,
            "dataset": dataset,
            "evaluation_hash": evaluation_hash,
            "status": "ok",
            "metrics": {name: values[name] for name in metrics},
            "metric_status": {},
            "details": details,
            "message": None,
            "evaluator_version": "mvctl test",
            "created_at": created_at,
        }
    )


def _sample(sample_id: int, taken_at: str, f1: float, alias: str = "production") -> MonitorSample:
    psi = 0.02 * sample_id
    column = {"name": "f0", "psi": psi, "drifted": False, "test": "ks", "statistic": 0.1}
    return MonitorSample(
        id=sample_id,
        model="churn",
        alias=alias,
        version="1.0.0",
        spec_hash="s1",
        taken_at=taken_at,
        recorded_at=taken_at,
        actor="monitor-bot",
        dataset="batch.csv",
        dataset_digest="sha256:" + "6" * 64,
        rows=200,
        labelled=True,
        metrics={"f1": f1},
        metric_status={},
        drift={
            "features": [column],
            "prediction": {**column, "name": "prediction"},
            "statistics": {"drift.psi.max": psi},
        },
    )


def _check(gate: str, dataset: str, result: str, value: float, bound: float) -> dict[str, Any]:
    return {
        "gate": gate,
        "dataset": dataset,
        "result": result,
        "value": value,
        "bound": bound,
        "reason": f"{value} vs {bound}",
    }


def write_report_project(root: Path, *, hostile: bool = False) -> Path:
    """A project folder holding the config and a state database to report on."""
    import yaml

    from mvctl.core.evaluation import scoring_settings
    from mvctl.spec.models import Config

    text = CONFIG + MULTICLASS
    root.mkdir(parents=True, exist_ok=True)
    (root / "mvctl.yaml").write_text(text, "utf-8")
    config = Config.model_validate(yaml.safe_load(text), by_name=False)
    hashes = {}
    for name in ("churn", "iris"):
        model = config.models[name]
        assert model.evaluation is not None
        hashes[name] = scoring_settings(model.task, model.evaluation).hash()
    name = HOSTILE if hostile else "plain"
    binary = ("stay", HOSTILE) if hostile else ("stay", "churn")
    classes = ("setosa", HOSTILE, "virginica") if hostile else ("setosa", "versicolor", "virginica")
    dataset = f"data/{HOSTILE}.csv" if hostile else "data/holdout.csv"
    churn_metrics = tuple(config.models["churn"].evaluation.metrics)  # type: ignore[union-attr]
    actor = f"alice {HOSTILE}" if hostile else "alice"
    db = StateDB.open(f"sqlite:///{root / '.mvctl' / 'state.db'}", create=True)
    try:
        first = db.begin_apply(kind="apply", actor=actor, plan_hash="p", expected_serial=None)
        changes = [
            Change(
                Target("model", "churn"),
                None,
                ModelRecord(archived=False, created_at="2026-11-20T08:30:00Z"),
            ),
            Change(
                Target("version", "churn", "1.0.0"),
                None,
                _version("s1", params={"train": {"C": 1.0}}, lineage=_lineage(False, "a.py")),
            ),
            Change(
                Target("version", "churn", "1.1.0"),
                None,
                _version(
                    "s2",
                    created_at="2026-11-29T08:30:00Z",
                    params={"train": {"C": 0.05, name: name}},
                    lineage=_lineage(True, f"{name}.py"),
                ),
            ),
            Change(Target("version", "churn", "1.2.0"), None, _version("s3", "failed")),
            Change(
                Target("evaluation", "churn", "1.0.0"),
                None,
                _evaluation(
                    "s1",
                    hashes["churn"],
                    0.88,
                    _details("binary-classification", 1.0, binary),
                    dataset=dataset,
                    created_at="2026-11-20T08:31:00Z",
                    metrics=churn_metrics,
                ),
            ),
            Change(
                Target("evaluation", "churn", "1.1.0"),
                None,
                _evaluation(
                    "s2",
                    hashes["churn"],
                    0.93,
                    _details("binary-classification", 3.0, binary),
                    dataset=dataset,
                    created_at="2026-11-29T08:31:00Z",
                    metrics=churn_metrics,
                ),
            ),
            Change(
                Target("gate", "churn", "production"),
                None,
                GateDecision(
                    "1.0.0", True, (_check("accuracy >= 0.7", dataset, "pass", 0.88, 0.7),)
                ),
            ),
            Change(Target("alias", "churn", "production"), None, AliasRecord("1.0.0")),
            Change(Target("alias", "churn", "staging"), None, AliasRecord("1.1.0")),
            Change(
                Target("model", "iris"),
                None,
                ModelRecord(archived=False, created_at="2026-11-20T08:30:00Z"),
            ),
            Change(Target("version", "iris", "1.0.0"), None, _version("i1")),
            Change(
                Target("evaluation", "iris", "1.0.0"),
                None,
                _evaluation(
                    "i1",
                    hashes["iris"],
                    0.9,
                    _details("multiclass-classification", 2.0, classes),
                    dataset="split",
                    created_at="2026-11-20T08:31:00Z",
                    metrics=("accuracy", "f1", "roc_auc"),
                ),
            ),
            Change(
                Target("gate", "iris", "production"),
                None,
                GateDecision(
                    "1.0.0", True, (_check("accuracy >= 0.8", "split", "pass", 0.9, 0.8),)
                ),
            ),
            Change(Target("alias", "iris", "production"), None, AliasRecord("1.0.0")),
        ]
        if hostile:
            changes += [
                Change(
                    Target("model", HOSTILE),
                    None,
                    ModelRecord(archived=False, created_at="2026-11-20T08:30:00Z"),
                ),
                Change(
                    Target("version", HOSTILE, HOSTILE),
                    None,
                    _version("h1", params={HOSTILE: {HOSTILE: HOSTILE}}, actor=actor),
                ),
                Change(
                    Target("gate", HOSTILE, HOSTILE),
                    None,
                    GateDecision(HOSTILE, True, (_check(HOSTILE, HOSTILE, "pass", 1.0, 0.5),)),
                ),
                Change(Target("alias", HOSTILE, HOSTILE), None, AliasRecord(HOSTILE)),
            ]
        db.record(first, changes)
        db.finish_apply(first, "succeeded")
        second = db.begin_apply(kind="apply", actor=actor, plan_hash="q", expected_serial=None)
        db.record(
            second,
            [
                Change(
                    Target("gate", "churn", "production"),
                    None,
                    GateDecision(
                        "1.1.0",
                        False,
                        (
                            _check("accuracy >= 0.7", dataset, "pass", 0.93, 0.7),
                            _check(
                                "roc_auc >= baseline(production) - 0.05",
                                dataset,
                                "fail",
                                0.8,
                                0.85,
                            ),
                        ),
                    ),
                )
            ],
        )
        db.finish_apply(second, "failed")
        for index, (stamp, f1) in enumerate(
            [
                ("2026-11-21T08:00:00Z", 0.86),
                ("2026-11-24T08:00:00Z", 0.861),
                ("2026-11-30T08:00:00Z", 0.859),
            ],
            start=1,
        ):
            db.record_sample(_sample(index, stamp, f1))
    finally:
        db.close()
    steps = root / "steps"
    steps.mkdir(exist_ok=True)
    (steps / "prepare.py").write_text("", "utf-8")
    return root
