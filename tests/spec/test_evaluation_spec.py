"""The `evaluation:` section at validation time: what cannot work is an error with its place
and fix before anything runs — bad gates, undeclared metrics and aliases, metrics that do not
fit the task or need scores a predict command does not write, datasets that do not exist."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.spec.support import errors_of, load_text

HEAD = """\
project: demo
models:
  churn:
    task: binary-classification
    pipeline:
      - {name: prepare, run: python prep.py, outputs: [train.npz]}
      - {name: train, uses: sklearn, with: {estimator: sklearn.linear_model.LogisticRegression}, deps: [prepare]}
    versions: {"1.0.0": {}}
    aliases: {production: "1.0.0"}
    evaluation:
"""


def config(evaluation: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(evaluation), "      ")


def messages(tmp_path: Path, evaluation: str) -> list[str]:
    return [error.message for error in errors_of(tmp_path, config(evaluation))]


def test_a_full_evaluation_loads(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        config("""\
        datasets:
          - {name: holdout, step: prepare, file: train.npz, x_array: X_test, y_array: y_test}
          - {path: data/holdout.csv, label: churned}
        metrics: [accuracy, f1, roc_auc, log_loss, latency_p95_ms, qps]
        average: binary
        speed: {batch_size: 16, repetitions: 5, warmup: 1}
        gates: ["f1 >= 0.80", "roc_auc >= baseline(production) - 0.01"]
        when_no_baseline: fail
    """),
    )
    evaluation = loaded.config.models["churn"].evaluation
    assert evaluation is not None and [d.shown_name() for d in evaluation.all_datasets()] == [
        "holdout",
        "data/holdout.csv",
    ]


def test_a_bad_gate_names_file_line_column_and_the_character(tmp_path: Path) -> None:
    (error,) = errors_of(
        tmp_path,
        config("""\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1, roc_auc]
        gates:
          - "f1 >= 0.8"
          - "roc_auc >= basline(production) - 0.01"
    """),
    )
    assert str(error.place).endswith("mvctl.yaml:16:11")  # where the gate's text starts
    assert error.field == "models.churn.evaluation.gates[1]"
    assert (
        "does not parse at character 12: expected a number or baseline(ALIAS), found 'basline'"
        in error.message
    )
    assert "Did you mean 'baseline'?" in error.message
    assert "roc_auc >= basline(production) - 0.01\n               ^" in error.message


def test_a_gate_on_a_metric_not_computed_is_refused(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1]
        gates: ["roc_auc >= 0.9", "acc >= 0.5"]
    """,
    )
    assert found[0].endswith(
        "gate 'roc_auc >= 0.9' names metric 'roc_auc', which the evaluation does not compute. "
        "Add 'roc_auc' to the evaluation's metrics."
    )
    assert "Did you mean 'accuracy'?" in found[1]


def test_a_gate_on_an_undeclared_alias_is_refused(tmp_path: Path) -> None:
    (found,) = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1]
        gates: ["f1 >= baseline(prod)"]
    """,
    )
    assert "baseline(prod), but the model has no alias 'prod'. Did you mean 'production'?" in found


def test_metrics_must_fit_the_task(tmp_path: Path) -> None:
    (found,) = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1, mse]
    """,
    )
    assert "metric 'mse' does not fit task 'binary-classification'" in found


def test_an_unknown_metric_is_a_schema_error_with_a_suggestion(tmp_path: Path) -> None:
    (found,) = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1, rocauc]
    """,
    )
    assert "'rocauc' is not allowed here" in found and "Did you mean 'roc_auc'?" in found


def test_scores_needed_from_a_predict_command_that_writes_none(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        predict: python predict.py
        metrics: [f1, roc_auc, latency_p50_ms]
    """,
    )
    assert any(
        "metric 'roc_auc' needs class scores, but the predict command is declared without "
        "'scores: true'" in m
        for m in found
    )
    assert any("metric 'latency_p50_ms' times in-process batch prediction" in m for m in found)


def test_datasets_must_name_real_steps_outputs_and_label_columns(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        datasets:
          - {step: prep, file: train.npz}
          - {step: prepare, file: tran.npz}
          - {path: data/holdout.csv}
          - {path: data/holdout.xlsx, label: y}
        metrics: [f1]
    """,
    )
    assert any(
        "dataset step 'prep' is not in the pipeline. Did you mean 'prepare'?" in m for m in found
    )
    assert any(
        "step 'prepare' declares no output 'tran.npz'. Did you mean 'train.npz'?" in m
        for m in found
    )
    assert any("the CSV data 'data/holdout.csv' needs 'label'" in m for m in found)
    assert any("'data/holdout.xlsx' is not a data format mvctl reads" in m for m in found)


def test_yaml_reads_y_as_true_so_the_labels_array_is_y_array(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        datasets: [{step: prepare, file: train.npz, x_array: X_test, y: y_test}]
        metrics: [f1]
    """,
    )
    assert any("read by YAML as a boolean" in m for m in found)


def test_an_evaluation_needs_data_and_metrics(tmp_path: Path) -> None:
    found = messages(tmp_path, "when_no_baseline: pass\n")
    assert any("names no data to score versions on" in m for m in found)
    assert any("declares no metrics" in m for m in found)


def test_pos_label_outside_a_binary_task_is_refused_at_its_line(tmp_path: Path) -> None:
    text = config("""\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1]
        pos_label: churn
    """).replace("binary-classification", "multiclass-classification")
    (error,) = errors_of(tmp_path, text)
    assert error.field == "models.churn.evaluation.pos_label"
    assert str(error.place).endswith("mvctl.yaml:14:7")  # the pos_label line
    assert "'pos_label' names the positive class of a binary task, and the task is " in (
        error.message
    )
    assert "Remove 'pos_label'." in error.message


def test_a_boolean_pos_label_is_refused(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        dataset: data/holdout.csv
        label: churned
        metrics: [f1]
        pos_label: yes
    """,
    )
    assert "models.churn.evaluation.pos_label" in found[0]
    assert "expected a string, got the boolean true" in found[0]


def test_an_average_that_changes_no_declared_metric_is_refused(tmp_path: Path) -> None:
    (error,) = errors_of(
        tmp_path,
        config("""\
        dataset: data/holdout.csv
        label: churned
        metrics: [accuracy, roc_auc, brier_score]
        average: weighted
    """),
    )
    assert error.field == "models.churn.evaluation.average"
    assert (
        "'average: weighted' changes none of the declared metrics: for a binary-classification "
        "task it applies to f1, precision, recall" in error.message
    )


def test_average_governs_the_multiclass_areas(tmp_path: Path) -> None:
    text = config("""\
        dataset: data/holdout.csv
        label: churned
        metrics: [roc_auc, average_precision]
        average: weighted
    """).replace("binary-classification", "multiclass-classification")
    loaded = load_text(tmp_path, text)
    assert loaded.config.models["churn"].evaluation is not None


def test_brier_score_is_binary_only(tmp_path: Path) -> None:
    text = config("""\
        dataset: data/holdout.csv
        label: churned
        metrics: [brier_score]
    """).replace("binary-classification", "multiclass-classification")
    (found,) = [error.message for error in errors_of(tmp_path, text)]
    assert "metric 'brier_score' does not fit task 'multiclass-classification'" in found
