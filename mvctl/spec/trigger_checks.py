"""Meaning checks of a model's ``triggers:``: what the schema accepts but could never fire well.

A cron expression that does not parse or names no date that ever comes (``0 0 31 2 *``), a
time zone this machine does not know, a ``when`` condition that is not a monitoring rule on
what samples measure, a ``from`` that is neither a declared version nor an
alias (or a version registered from a file, which has no recipe to copy), a ``promote`` alias
the model does not declare, a label template that could give a label already declared or an
invalid one, two triggers of one name, overrides of steps or params that do not exist, and a
watched path outside the project. `mvctl validate` and every command that loads the config
report them before anything fires.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Protocol

from mvctl.spec.evaluation_checks import check_rule
from mvctl.spec.label_templates import (
    label_problem,
    pattern,
    placeholders,
    render,
    template_problem,
)
from mvctl.spec.models import ModelSpec, Trigger
from mvctl.spec.paths import project_path_problem
from mvctl.spec.positions import NodePath
from mvctl.spec.schedules import CRON_EXAMPLE, fires_at_most_daily, schedule_problem, zone_problem

SAMPLE_DATE = "20260101"
SAMPLE_NUMBER = 999_999


class Reporter(Protocol):
    def error(
        self, path: NodePath, what: str, fix: str | None = None, *, value: bool = False
    ) -> None: ...


def resolve_from(model: ModelSpec, name: str) -> str | None:
    """The version label a trigger's ``from`` names: a declared version, else the version the
    config points that alias at; None when it is neither."""
    if name in model.versions:
        return name
    return model.aliases.get(name)


def check_triggers(model: ModelSpec, at: Reporter) -> None:
    first: dict[str, int] = {}
    for index, trigger in enumerate(model.triggers):
        path: NodePath = ("triggers", index)
        if trigger.name in first:
            at.error(
                (*path, "name"),
                f"trigger name '{trigger.name}' is used twice (triggers {first[trigger.name]} "
                f"and {index})",
                "Rename one of the triggers: the name keeps each one's firings apart.",
                value=True,
            )
        first.setdefault(trigger.name, index)
        _check_occasion(model, trigger, path, at)
        source = _check_from(model, trigger, path, at)
        if trigger.promote is not None and trigger.promote not in model.aliases:
            at.error(
                (*path, "promote"),
                f"trigger '{trigger.name}' promotes alias '{trigger.promote}', which the model "
                "does not declare",
                _close(
                    trigger.promote,
                    model.aliases,
                    f"Declare it under 'aliases:' first (aliases: {_names(model.aliases)}).",
                ),
                value=True,
            )
        _check_label(model, trigger, source, path, at)
        _check_overrides(model, trigger, path, at)


def _check_occasion(model: ModelSpec, trigger: Trigger, path: NodePath, at: Reporter) -> None:
    if trigger.timezone is not None and (problem := zone_problem(trigger.timezone)):
        at.error(
            (*path, "timezone"),
            problem,
            "Use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'.",
            value=True,
        )
    elif trigger.schedule is not None and (
        problem := schedule_problem(trigger.schedule, trigger.timezone)
    ):
        at.error(
            (*path, "schedule"),
            problem,
            "Write a cron expression that fires: minute hour day-of-month month "
            f"day-of-week, e.g. {CRON_EXAMPLE}.",
            value=True,
        )
    if trigger.when is not None:
        if model.evaluation is None or not model.evaluation.all_datasets():
            at.error(
                (*path, "when"),
                f"trigger '{trigger.name}' reads `mvctl monitor` samples, and the model has no "
                "evaluation data for monitor to compare batches with",
                "Add an `evaluation:` with data and metrics to the model.",
            )
        else:
            check_rule(model, trigger.when, (*path, "when"), at)
    for index, watched in enumerate(trigger.on_change or ()):
        problem = project_path_problem(watched)
        if problem is not None:
            at.error(
                (*path, "on_change", index),
                f"'{watched}' {problem}; watched paths must stay inside the project",
                "Write the path relative to the project root, without '..'.",
                value=True,
            )


def _check_from(model: ModelSpec, trigger: Trigger, path: NodePath, at: Reporter) -> str | None:
    """The label ``from`` resolves to when it names a version with a recipe to copy."""
    source = resolve_from(model, trigger.from_)
    if source is None:
        at.error(
            (*path, "from"),
            f"trigger '{trigger.name}' copies '{trigger.from_}', which is neither a declared "
            "version nor an alias of this model",
            _close(
                trigger.from_,
                [*model.versions, *model.aliases],
                f"Name a version ({_names(model.versions)}) or an alias ({_names(model.aliases)}).",
            ),
            value=True,
        )
        return None
    version = model.versions.get(source)
    if version is not None and version.artifact is not None:
        via = "" if source == trigger.from_ else f" (alias '{trigger.from_}' points at it)"
        at.error(
            (*path, "from"),
            f"trigger '{trigger.name}' copies version '{source}'{via}, which is registered "
            "from an artifact file and has no recipe to train again",
            "Name a version trained from the pipeline.",
            value=True,
        )
        return None
    return source


def _check_label(
    model: ModelSpec, trigger: Trigger, source: str | None, path: NodePath, at: Reporter
) -> None:
    where = (*path, "label")
    problem = template_problem(trigger.label)
    if problem is not None:
        at.error(where, problem, "Write e.g. '1.1.{n}' or '{from}-nightly.{n}'.", value=True)
        return
    used = placeholders(trigger.label)
    sample = render(
        trigger.label,
        {
            "from": source or trigger.from_,
            "n": SAMPLE_NUMBER,
            "date": SAMPLE_DATE,
            "trigger": trigger.name,
        },
    )
    problem = label_problem(sample)
    if problem is not None:
        at.error(
            where,
            f"label template '{trigger.label}' gives invalid labels: {problem}",
            "Keep to letters, digits and . _ + - around the placeholders.",
            value=True,
        )
        return
    if "n" in used:
        return
    with_n = f"'{trigger.label}.{{n}}'"
    if "date" not in used:
        at.error(
            where,
            f"label template '{trigger.label}' gives the same label at every firing",
            f"Add {{n}} (the next free number), e.g. {with_n}.",
            value=True,
        )
        return
    if trigger.schedule is None or not _at_most_daily(trigger.schedule):
        when = (
            "this schedule"
            if trigger.schedule is not None
            else "a data change"
            if trigger.on_change is not None
            else "its condition"
        )
        at.error(
            where,
            f"label template '{trigger.label}' can give one label twice: {when} may fire "
            "more than once a day",
            f"Add {{n}} (the next free number), e.g. {with_n}.",
            value=True,
        )
        return
    fixed = {"trigger": trigger.name}
    if source is not None and trigger.from_ in model.versions:
        fixed["from"] = source
    matches = pattern(trigger.label, fixed).match
    taken = [label for label in model.versions if matches(label)]
    if taken:
        at.error(
            where,
            f"label template '{trigger.label}' can give '{taken[0]}', which is declared already",
            f"Add {{n}} (the next free number), e.g. {with_n}, or change the template.",
            value=True,
        )


def _at_most_daily(schedule: str) -> bool:
    return schedule_problem(schedule) is None and fires_at_most_daily(schedule)


def _check_overrides(model: ModelSpec, trigger: Trigger, path: NodePath, at: Reporter) -> None:
    steps = {step.name: step for step in model.pipeline}
    for step_name, overrides in trigger.params.items():
        where: NodePath = (*path, "params", step_name)
        step = steps.get(step_name)
        if step is None:
            at.error(
                where,
                f"trigger '{trigger.name}' overrides params of step '{step_name}', which is "
                "not in the pipeline",
                _close(step_name, steps, f"Steps in the pipeline: {_names(steps)}."),
            )
            continue
        for param in overrides:
            if param not in step.params:
                at.error(
                    (*where, param),
                    f"step '{step_name}' declares no param '{param}' to override",
                    _close(
                        param,
                        step.params,
                        f"Declare '{param}' in the params of step '{step_name}' first.",
                    ),
                )


def _close(word: str, choices: Iterable[str], otherwise: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"Did you mean '{close[0]}'?" if close else otherwise


def _names(items: Iterable[str]) -> str:
    shown = [f"'{item}'" for item in items][:8]
    return ", ".join(shown) if shown else "none"
