"""Evaluation, gates, compare and the plan's metric tables, end to end through the real CLI.

One project is trained and evaluated once per module; each test works on its own copy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from skops.io import get_untrusted_types, load

from mvctl.state.db import StateDB
from tests.functional.projects import Project
from tests.functional.scored_project import make_scored, write_holdout

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = make_scored(tmp_path_factory.mktemp("scored") / "proj")
    result = project.mvctl("apply", "--auto-approve")
    assert result.code == 0, result.text
    yield project


@pytest.fixture
def project(applied: Project, tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    shutil.copytree(applied.root, root)
    return Project(root, applied.env)


def state(project: Project) -> StateDB:
    return StateDB.open(f"sqlite:///{project.root / '.mvctl' / 'state.db'}", create=False)


def aliases(project: Project) -> dict[str, str]:
    status = json.loads(project.mvctl("status", "--json").out)
    return {a["alias"]: a["version"] for a in status["models"][0]["aliases"]}


def model_of(project: Project, label: str) -> object:
    with state(project) as db:
        detail = db.version_detail("churn", label)
    assert detail is not None and detail.artifact_digest
    digest = detail.artifact_digest.removeprefix("sha256:")
    path = project.root / ".mvctl" / "store" / "objects" / digest[:2] / digest[2:]
    return load(path, trusted=get_untrusted_types(file=path))


def test_stored_metrics_are_scikit_learns_on_the_same_data(project: Project) -> None:
    with state(project) as db:
        records = {(r.label, r.dataset): r for r in db.evaluations_of("churn")}
    assert set(records) == {
        (v, d) for v in ("1.0.0", "1.1.0") for d in ("data/holdout.csv", "split")
    }
    table = np.loadtxt(project.root / "data" / "holdout.csv", delimiter=",", skiprows=1)
    x, y = table[:, :4], table[:, 4].astype(int)
    for label in ("1.0.0", "1.1.0"):
        model = model_of(project, label)
        predicted, proba = model.predict(x), model.predict_proba(x)  # type: ignore[attr-defined]
        record = records[(label, "data/holdout.csv")]
        expected = {
            "accuracy": skm.accuracy_score(y, predicted),
            "precision": skm.precision_score(y, predicted),
            "recall": skm.recall_score(y, predicted),
            "f1": skm.f1_score(y, predicted),
            "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
            "log_loss": skm.log_loss(y, proba),
        }
        assert {k: record.metrics[k] for k in expected} == expected
        assert record.details["rows"] == 120 and record.evaluator_version.startswith("mvctl ")
        assert record.details["confusion"]["matrix"] == skm.confusion_matrix(y, predicted).tolist()
        assert record.details["pr"]["average_precision"] == round(
            skm.average_precision_score(y, proba[:, 1]), 6
        )
        assert sum(record.details["calibration"]["count"]) == 120
        assert (
            record.details["speed"]["repetitions"] == 6 and record.details["speed"]["warmup"] == 2
        )
        assert len(record.details["speed"]["latencies_ms"]) == 6
        assert record.metrics["qps"] > 0 and record.metrics["latency_p50_ms"] > 0


def test_applied_and_evaluated_plans_nothing(project: Project) -> None:
    planned = project.mvctl("plan", "--detailed-exitcode")
    assert planned.code == 0, planned.text
    assert aliases(project) == {"production": "1.0.0", "staging": "1.1.0"}
    history = project.mvctl("history").out
    assert "churn:production (gate): gates for 1.0.0 passed" in history
    assert "churn@1.0.0 (evaluation): evaluated on data/holdout.csv: accuracy" in history


def test_a_failing_gate_blocks_the_promotion(project: Project) -> None:
    project.edit_config('"accuracy >= 0.7"', '"accuracy >= 0.999"')
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    planned = project.mvctl("plan")
    assert "gate accuracy >= 0.999 on data/holdout.csv: fail" in planned.out, planned.text
    assert "evaluate" not in planned.out  # gates are not scoring settings: nothing to re-score
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 4, applied.text
    assert (
        "production stays at 1.0.0: gate 'accuracy >= 0.999' fail on data/holdout.csv"
        in applied.out
    )
    assert "off by" in applied.out
    assert aliases(project) == {"production": "1.0.0", "staging": "1.1.0"}
    assert "churn:production (gate): gates for 1.1.0 blocked" in project.mvctl("history").out


def test_changing_evaluation_settings_re_evaluates_and_never_retrains(project: Project) -> None:
    project.edit_config("repetitions: 6", "repetitions: 4")
    planned = json.loads(project.mvctl("plan", "--json").out)
    assert [a["kind"] for a in planned["actions"]] == ["evaluate_version", "evaluate_version"]
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 0, applied.text
    assert "running" not in applied.out
    with state(project) as db:
        latest = [r for r in db.evaluations_of("churn") if r.dataset == "split"][-1]
    assert latest.details["speed"]["repetitions"] == 4
    assert project.mvctl("plan", "--detailed-exitcode").code == 0


def test_a_dataset_missing_its_label_column_fails_clearly_and_promotes_nothing(
    project: Project,
) -> None:
    write_holdout(project.root / "data" / "holdout.csv", label="target")
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    applied = project.mvctl("apply", "--auto-approve")
    assert applied.code == 1, applied.text
    assert (
        "churn@1.1.0, dataset 'data/holdout.csv': there is no label column 'churned'" in applied.out
    )
    assert "'models.churn.evaluation.datasets[0].label'" in applied.out
    assert aliases(project) == {"production": "1.0.0", "staging": "1.1.0"}


def test_compare_uses_stored_results_or_scores_given_data(project: Project) -> None:
    shown = project.mvctl("compare", "churn@1.0.0", "churn@1.1.0")
    assert shown.code == 0, shown.text
    assert (
        "churn@1.1.0 against churn@1.0.0 on data/holdout.csv" in shown.out
        and "roc_auc" in shown.out
    )
    data = json.loads(project.mvctl("compare", "churn@1.0.0", "churn@1.1.0", "--json").out)
    holdout = data["datasets"][0]
    assert holdout["sources"] == {"a": "stored", "b": "stored"}
    with state(project) as db:
        stored = {
            r.label: r.metrics
            for r in db.evaluations_of("churn")
            if r.dataset == "data/holdout.csv"
        }
    for row in holdout["metrics"]:
        assert (row["a"], row["b"]) == (
            stored["1.0.0"][row["metric"]],
            stored["1.1.0"][row["metric"]],
        )
        assert row["delta"] == pytest.approx(row["b"] - row["a"])
    write_holdout(project.root / "fresh.csv", seed=7)
    fresh = json.loads(
        project.mvctl("compare", "churn@1.0.0", "churn@1.1.0", "--data", "fresh.csv", "--json").out
    )
    assert fresh["datasets"][0]["sources"] == {"a": "computed", "b": "computed"}
    assert {row["verdict"] for row in fresh["datasets"][0]["metrics"]} <= {
        "better",
        "worse",
        "same",
    }


def test_plan_markdown_carries_a_metrics_table_against_the_alias(project: Project) -> None:
    project.edit_config('production: "1.0.0"', 'production: "1.1.0"')
    markdown = project.mvctl("plan", "--markdown").out
    assert "#### Metrics" in markdown
    assert "**`churn@1.1.0`** on `data/holdout.csv` vs production (1.0.0)" in markdown
    assert "| metric | 1.1.0 | 1.0.0 | Δ | Δ % |" in markdown
    assert "  - gate accuracy >= 0.7 on split: pass" in markdown
