"""Meaning checks of a model's ``evaluation:``: what the schema accepts but cannot work.

Metrics that do not fit the model's task, an ``average`` that changes none of the declared
metrics, a ``pos_label`` outside a binary task, metrics that need scores from a ``predict:``
command that writes none, speed metrics of an out-of-process command, datasets naming steps
or outputs that do not exist, and gates that do not parse or name a metric or alias the model
does not declare. All of these are known before anything runs, so ``mvctl validate`` (and
every plan) reports them with the place and the fix instead of apply failing half-way.
"""

from __future__ import annotations

import difflib
from typing import Protocol

from mvctl.spec.gates import GateSyntaxError, parse_gate
from mvctl.spec.metrics import CLASSIFICATION, METRICS, averaged_metrics
from mvctl.spec.models import Dataset, Evaluation, ModelSpec
from mvctl.spec.positions import NodePath
from mvctl.spec.rules import DRIFT_STATISTICS, RuleSyntaxError, parse_rule


class Reporter(Protocol):
    def error(
        self, path: NodePath, what: str, fix: str | None = None, *, value: bool = False
    ) -> None: ...


def check_evaluation(model: ModelSpec, at: Reporter) -> None:
    evaluation = model.evaluation
    if evaluation is None:
        return
    base: NodePath = ("evaluation",)
    _check_metrics(model, evaluation, at)
    datasets = evaluation.all_datasets()
    if not datasets:
        at.error(
            base,
            "the evaluation names no data to score versions on",
            "Add 'dataset: FILE' with 'label: COLUMN', or 'datasets:' entries "
            "such as {step: prepare, file: train.npz, x_array: X_test, y_array: y_test}.",
        )
    if evaluation.dataset is not None:
        _check_dataset(model, datasets[0], base, ("dataset",), at)
    else:
        names: dict[str, int] = {}
        for index, dataset in enumerate(evaluation.datasets):
            _check_dataset(model, dataset, (*base, "datasets", index), (), at)
            name = dataset.shown_name()
            if name in names:
                at.error(
                    (*base, "datasets", index),
                    f"two datasets are both called '{name}' (entries {names[name]} and {index})",
                    "Give one of them a distinct 'name:'.",
                )
            names.setdefault(name, index)
    for index, text in enumerate(evaluation.gates):
        _check_gate(model, evaluation, text, (*base, "gates", index), at)


def _check_metrics(model: ModelSpec, evaluation: Evaluation, at: Reporter) -> None:
    base: NodePath = ("evaluation", "metrics")
    if not evaluation.metrics:
        at.error(
            ("evaluation",),
            "the evaluation declares no metrics",
            "List what to compute under 'metrics:', e.g. [accuracy, f1, roc_auc].",
        )
    seen: set[str] = set()
    for index, name in enumerate(evaluation.metrics):
        info = METRICS[name]
        if name in seen:
            at.error((*base, index), f"metric '{name}' is listed twice", "Remove one.", value=True)
        seen.add(name)
        if model.task not in info.tasks:
            fits = " or ".join(info.tasks)
            fix = f"Set the model's 'task:' to {fits}, or remove '{name}'."
            if model.task == "other":
                fix = f"Declare the model's 'task:' ({fits}) so mvctl knows how to score it."
            at.error(
                (*base, index), f"metric '{name}' does not fit task '{model.task}'", fix, value=True
            )
        if info.needs_scores and evaluation.predict is not None and not evaluation.scores:
            at.error(
                (*base, index),
                f"metric '{name}' needs class scores, but the predict command is declared "
                "without 'scores: true'",
                "Have the command write score_<class> columns and set 'scores: true', "
                f"or remove '{name}'.",
                value=True,
            )
        if info.speed and evaluation.predict is not None:
            at.error(
                (*base, index),
                f"metric '{name}' times in-process batch prediction, which a predict command "
                "(run as a separate process) cannot give",
                f"Remove '{name}', or save the model in a format mvctl loads (skops, safetensors).",
                value=True,
            )
    _check_average(model, evaluation, at)
    if evaluation.pos_label is not None and model.task != "binary-classification":
        at.error(
            ("evaluation", "pos_label"),
            f"'pos_label' names the positive class of a binary task, and the task is "
            f"'{model.task}'",
            "Remove 'pos_label'.",
        )


def _check_average(model: ModelSpec, evaluation: Evaluation, at: Reporter) -> None:
    average = evaluation.average
    if average is None:
        return
    if model.task not in CLASSIFICATION:
        at.error(
            ("evaluation", "average"),
            f"'average' applies to classification metrics, and the task is '{model.task}'",
            "Remove 'average'.",
        )
        return
    if average == "binary" and model.task != "binary-classification":
        at.error(
            ("evaluation", "average"),
            "average 'binary' needs a binary-classification task",
            "Use micro, macro or weighted averaging for multiclass metrics.",
            value=True,
        )
        return
    governed = averaged_metrics(model.task)
    if not governed & set(evaluation.metrics):
        at.error(
            ("evaluation", "average"),
            f"'average: {average}' changes none of the declared metrics: for a {model.task} "
            f"task it applies to {', '.join(sorted(governed))}",
            "Remove 'average', or add a metric it applies to.",
            value=True,
        )


def _check_dataset(
    model: ModelSpec, dataset: Dataset, base: NodePath, shorthand: NodePath, at: Reporter
) -> None:
    """``shorthand`` is the node to point at for the ``dataset:`` form (it has no entry of its own)."""
    where = (*base, *shorthand)
    source = dataset.path if dataset.path is not None else dataset.file or ""
    kind = dataset.data_format()
    if kind is None:
        at.error(
            where if shorthand else (*base, "path" if dataset.path else "file"),
            f"'{source}' is not a data format mvctl reads (CSV, Parquet or NPZ, by its suffix)",
            "Write the data as .csv, .parquet or .npz.",
            value=True,
        )
    elif kind == "npz" and dataset.label is not None:
        at.error(
            where if shorthand else (*base, "label"),
            "NPZ data names its arrays with 'x_array' and 'y_array', not a label column",
            "Replace 'label' with 'y_array: ARRAY' (and 'x_array: ARRAY' for the features).",
        )
    elif kind != "npz" and dataset.label is None:
        at.error(
            where,
            f"the {kind.upper()} data '{source}' needs 'label', the column of true labels",
            "Add 'label: COLUMN'.",
        )
    if dataset.step is None:
        return
    steps = {step.name: step for step in model.pipeline}
    step = steps.get(dataset.step)
    if step is None:
        close = difflib.get_close_matches(dataset.step, list(steps), n=1)
        at.error(
            (*base, "step"),
            f"dataset step '{dataset.step}' is not in the pipeline",
            f"Did you mean '{close[0]}'?" if close else "Name a step of this model's pipeline.",
            value=True,
        )
    elif step.outputs and dataset.file not in step.outputs:
        close = difflib.get_close_matches(dataset.file or "", step.outputs, n=1)
        at.error(
            (*base, "file"),
            f"step '{step.name}' declares no output '{dataset.file}'",
            f"Did you mean '{close[0]}'?"
            if close
            else f"Its outputs are: {', '.join(step.outputs)}.",
            value=True,
        )
    for label, version in model.versions.items():
        if step is None or version.pipeline is None:
            continue
        own = next((s for s in version.pipeline if s.name == dataset.step), None)
        if own is None or (own.outputs and dataset.file not in own.outputs):
            at.error(
                ("versions", label, "pipeline"),
                f"version {label}'s own pipeline has no step '{dataset.step}' writing "
                f"'{dataset.file}', which the evaluation scores it on",
                "Give its pipeline that step and output, or take the dataset from a step "
                "every version's pipeline has.",
            )


def _check_gate(
    model: ModelSpec, evaluation: Evaluation, text: str, path: NodePath, at: Reporter
) -> None:
    try:
        gate = parse_gate(text)
    except GateSyntaxError as error:
        pointer = f"{text}\n{' ' * error.position}^"
        at.error(
            path,
            f"gate '{text}' does not parse at character {error.position + 1}: expected "
            f"{error.expected}, found {error.found}",
            (error.fix + " " if error.fix else "")
            + f"The gate reads:\n    {pointer.replace(chr(10), chr(10) + '    ')}",
            value=True,
        )
        return
    if gate.metric not in evaluation.metrics:
        if gate.metric in METRICS:
            fix = f"Add '{gate.metric}' to the evaluation's metrics."
        else:
            close = _closest(gate.metric, [*evaluation.metrics, *METRICS])
            fix = f"Did you mean '{close}'?" if close else f"Known metrics: {', '.join(METRICS)}."
        at.error(
            path,
            f"gate '{text}' names metric '{gate.metric}', which the evaluation does not compute",
            fix,
            value=True,
        )
    if gate.baseline is not None and gate.baseline not in model.aliases:
        close = _closest(gate.baseline, list(model.aliases))
        at.error(
            path,
            f"gate '{text}' compares with baseline({gate.baseline}), but the model has no "
            f"alias '{gate.baseline}'",
            f"Did you mean '{close}'?" if close else "Declare the alias under 'aliases:' first.",
            value=True,
        )


def check_monitoring(model: ModelSpec, at: Reporter) -> None:
    """Monitoring rules parse, and name a metric the evaluation computes or a drift statistic;
    `on_degraded: trigger NAME` names a trigger of the model."""
    if model.monitoring is None:
        return
    if model.evaluation is None or not model.evaluation.all_datasets():
        at.error(
            ("monitoring",),
            "monitoring compares live batches with the evaluation data, and the model has none",
            "Add an `evaluation:` with data and metrics to the model.",
        )
    for index, text in enumerate(model.monitoring.rules):
        check_rule(model, text, ("monitoring", "rules", index), at)
    fired = model.monitoring.trigger
    names = [trigger.name for trigger in model.triggers]
    if fired is not None and fired not in names:
        close = difflib.get_close_matches(fired, names, n=1)
        at.error(
            ("monitoring", "on_degraded"),
            f"on_degraded fires trigger '{fired}', which the model does not declare",
            f"Did you mean 'trigger {close[0]}'?"
            if close
            else f"Declare it under 'triggers:' (triggers: {', '.join(names) or 'none'}).",
            value=True,
        )


def check_rule(model: ModelSpec, text: str, path: NodePath, at: Reporter) -> None:
    """A monitoring rule (or a trigger's `when:`) parses and bounds something samples measure:
    a metric the evaluation computes, or a drift statistic."""
    computed = list(model.evaluation.metrics) if model.evaluation is not None else []
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as error:
        at.error(path, str(error), "For example: 'f1 >= promoted - 0.05'.", value=True)
        return
    if rule.on_drift or rule.subject in computed:
        if rule.on_drift and rule.threshold is None:
            at.error(
                path,
                f"rule '{text}' bounds a drift statistic by 'promoted', which bounds metrics",
                "Bound it by a number, e.g. 'drift.psi.max < 0.2'.",
                value=True,
            )
        return
    close = _closest(rule.subject, [*computed, *DRIFT_STATISTICS])
    known = ", ".join([*computed, *DRIFT_STATISTICS])
    at.error(
        path,
        f"rule '{text}' names '{rule.subject}', which is neither a metric the evaluation "
        "computes nor a drift statistic",
        f"Did you mean '{close}'?" if close else f"Known: {known}.",
        value=True,
    )


def _closest(word: str, choices: list[str]) -> str | None:
    """The choice meant: one the word abbreviates ('acc' -> 'accuracy'), else the closest."""
    extended = [choice for choice in choices if choice.startswith(word)]
    close = extended[:1] or difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None
