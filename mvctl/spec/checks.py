"""Meaning checks: a configuration the schema accepts may still ask for the impossible.

Pure functions over a validated ``Config`` (or one ``ModelSpec``) and its ``Positions``,
each returning SpecErrors that name the place and the fix: steps that share a name or an
output, deps in a cycle, overrides of steps or params that do not exist, aliases naming
versions that are not declared, trainers missing their settings, paths that are absolute or
climb out of the project with '..'. They read no files; the one question about the disk ("is
this bare word a file?") comes in as a function so tests can answer it.

The planner trusts what passes here: a step graph without cycles, overrides that land.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mvctl.errors import SpecError
from mvctl.spec.evaluation_checks import check_evaluation, check_monitoring
from mvctl.spec.models import (
    Config,
    FileDep,
    ModelSpec,
    Step,
    dep_path,
    dep_place,
    is_step_reference,
)
from mvctl.spec.paths import output_name_problem, project_path_problem
from mvctl.spec.positions import NodePath, Positions, dotted
from mvctl.spec.trainer_checks import check_torch_step
from mvctl.spec.trigger_checks import check_triggers
from mvctl.spec.trusted_types import refused_type

PathExists = Callable[[str], bool]

_DOTTED_IMPORT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_BARE_WORD = re.compile(r"^[A-Za-z0-9_-]+$")


def check_config(
    config: Config, positions: Positions, path_exists: PathExists | None = None
) -> list[SpecError]:
    """Every meaning check over the whole configuration."""
    at = _Reporter(positions, ())
    for key, location in (("state", config.state), ("store", config.store)):
        if location is not None and "\0" in location:
            at.error((key,), f"the {key} location holds a NUL character", "Remove it.")
    errors: list[SpecError] = at.errors
    for name, model in config.models.items():
        errors += check_model(name, model, positions, path_exists)
    return errors


def check_model(
    name: str, model: ModelSpec, positions: Positions, path_exists: PathExists | None = None
) -> list[SpecError]:
    """Every meaning check of one model. ``path_exists`` answers for project-relative paths."""
    at = _Reporter(positions, ("models", name))
    for base, pipeline in _pipelines(model):
        _check_steps(pipeline, base, at, path_exists)
    _check_versions(name, model, at)
    _check_aliases(model, at)
    check_evaluation(model, at)
    check_triggers(model, at)
    check_monitoring(model, at)
    _check_paths(model, at)
    for index, dotted_name in enumerate(model.trusted_types):
        if not _DOTTED_IMPORT.match(dotted_name):
            at.error(
                ("trusted_types", index),
                f"'{dotted_name}' is not a dotted type path",
                "Write the module and the class, e.g. 'mypkg.models.Scaler'.",
            )
        elif (refusal := refused_type(dotted_name)) is not None:
            at.error(
                ("trusted_types", index),
                refusal,
                "Remove it: skops already trusts the builtins and numpy types a model needs.",
            )
    return at.errors


class _Reporter:
    """Collects errors for one model, placing them by their path under the model."""

    def __init__(self, positions: Positions, base: NodePath) -> None:
        self.positions = positions
        self.base = base
        self.errors: list[SpecError] = []

    def error(
        self, path: NodePath, what: str, fix: str | None = None, *, value: bool = False
    ) -> None:
        full = (*self.base, *path)
        place = self.positions.value_place(full) if value else self.positions.place(full)
        self.errors.append(SpecError(what, place=place, field=dotted(full), fix=fix))

    def line(self, path: NodePath) -> int:
        return self.positions.line((*self.base, *path))


def _did_you_mean(word: str, choices: Iterable[str], otherwise: str) -> str:
    """Suggest the choice meant. A choice that extends the word wins ('1.0' -> '1.0.0',
    not '1.1.0', which difflib rates the same); then the closest by difflib."""
    options = list(choices)
    extended = [option for option in options if option.startswith(word)]
    close = extended[:1] or difflib.get_close_matches(word, options, n=1)
    return f"Did you mean '{close[0]}'?" if close else otherwise


def _listing(items: Iterable[str], limit: int = 8) -> str:
    shown = [f"'{item}'" for item in items]
    if not shown:
        return "none"
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more} more" if more > 0 else "")


# Steps ----------------------------------------------------------------------------------


def _pipelines(model: ModelSpec) -> list[tuple[NodePath, list[Step]]]:
    """The model's pipeline and each version's own, with where each is written."""
    found: list[tuple[NodePath, list[Step]]] = [(("pipeline",), model.pipeline)]
    for label, version in model.versions.items():
        if version.pipeline is not None:
            found.append((("versions", label, "pipeline"), version.pipeline))
    return found


def _check_steps(
    pipeline: Sequence[Step], base: NodePath, at: _Reporter, path_exists: PathExists | None
) -> None:
    first_index: dict[str, int] = {}
    for index, step in enumerate(pipeline):
        if step.name in first_index:
            first = first_index[step.name]
            at.error(
                (*base, index, "name"),
                f"step name '{step.name}' is used twice in the pipeline "
                f"(lines {at.line((*base, first, 'name'))} and "
                f"{at.line((*base, index, 'name'))})",
                "Rename one of the steps.",
                value=True,
            )
        else:
            first_index[step.name] = index
    names = set(first_index)
    graph: dict[str, list[tuple[str, int, int]]] = {name: [] for name in first_index}
    for index, step in enumerate(pipeline):
        _check_trainer(step, (*base, index), at)
        _check_finite(step.params, (*base, index, "params"), at)
        _check_finite(step.with_, (*base, index, "with"), at)
        for dep_index, written in enumerate(step.deps):
            dep = dep_path(written)
            if isinstance(written, FileDep):
                if is_step_reference(dep, names):
                    at.error(
                        (*base, index, "deps", dep_index, "path"),
                        f"dep {{path: {dep}}} names step '{dep}'; the mapping form is for files",
                        f"Write the step as a plain name in the list: deps: [{dep}, ...].",
                        value=True,
                    )
            elif is_step_reference(dep, names):
                if first_index[step.name] == index:
                    graph[step.name].append((dep, index, dep_index))
            elif path_exists is not None and _BARE_WORD.match(dep) and not path_exists(dep):
                close = difflib.get_close_matches(dep, sorted(names), n=1)
                if close:
                    at.error(
                        (*base, index, "deps", dep_index),
                        f"dep '{dep}' is neither a step of this pipeline nor a file",
                        f"Did you mean step '{close[0]}'?",
                    )
    _check_cycles(graph, base, at)
    _check_outputs(pipeline, base, at)


def _check_trainer(step: Step, path: NodePath, at: _Reporter) -> None:
    if step.run is not None and step.with_:
        at.error(
            (*path, "with"),
            "'with' configures a built-in trainer, but this step runs a command",
            "Move these settings into 'params', or use 'uses:' instead of 'run:'.",
        )
    if step.uses == "sklearn":
        estimator = step.with_.get("estimator")
        example = "with: {estimator: sklearn.ensemble.RandomForestClassifier}"
        if estimator is None:
            at.error(
                path,
                "the sklearn trainer needs 'with.estimator', the estimator's import path",
                f"Add '{example}'.",
            )
        elif not isinstance(estimator, str) or not _DOTTED_IMPORT.match(estimator):
            at.error(
                (*path, "with", "estimator"),
                f"estimator {estimator!r} is not a dotted import path",
                f"Write the module and the class, as in '{example}'.",
                value=True,
            )
    if step.uses == "torch":
        check_torch_step(step, path, at)


def _check_finite(values: Mapping[Any, Any], path: NodePath, at: _Reporter) -> None:
    """NaN and infinity have no canonical JSON, so they cannot enter a cache key."""
    for key, value in values.items():
        kind = type(value)
        if kind is float and not math.isfinite(value):
            at.error(
                (*path, key),
                f"{value} cannot be hashed into a cache key",
                'Use a finite number, or a string such as "inf" that the step parses.',
                value=True,
            )
        elif kind is dict:
            _check_finite(value, (*path, key), at)
        elif kind is list:
            _check_finite(dict(enumerate(value)), (*path, key), at)


def _check_cycles(
    graph: Mapping[str, Sequence[tuple[str, int, int]]], base: NodePath, at: _Reporter
) -> None:
    """Report each cycle among step deps once, naming its steps in order."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    reported: set[frozenset[str]] = set()
    for start in graph:
        if start in state:
            continue
        path: list[str] = [start]
        state[start] = 1
        iterators = [iter(graph[start])]
        while iterators:
            edge = next(iterators[-1], None)
            if edge is None:
                iterators.pop()
                state[path.pop()] = 2
                continue
            dep, step_index, dep_index = edge
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    if len(cycle) == 1:
                        what = f"step '{dep}' depends on itself"
                    else:
                        what = "steps depend on each other in a cycle: " + " -> ".join(
                            [*cycle, dep]
                        )
                    at.error(
                        (*base, step_index, "deps", dep_index),
                        what,
                        "Remove one of these deps; steps must form a chain or a tree.",
                    )
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                iterators.append(iter(graph[dep]))


def _check_outputs(pipeline: Sequence[Step], base: NodePath, at: _Reporter) -> None:
    owner: dict[str, tuple[int, int]] = {}
    for index, step in enumerate(pipeline):
        for output_index, output in enumerate(step.outputs):
            if output not in owner:
                owner[output] = (index, output_index)
                continue
            first_step, first_output = owner[output]
            first_line = at.line((*base, first_step, "outputs", first_output))
            if first_step == index:
                what = f"output '{output}' is listed twice in step '{step.name}'"
                fix = "Remove one."
            else:
                what = (
                    f"output '{output}' is declared by steps '{pipeline[first_step].name}' "
                    f"(line {first_line}) and '{step.name}'"
                )
                fix = "Give each step's outputs distinct names."
            at.error((*base, index, "outputs", output_index), what, fix)


def _check_paths(model: ModelSpec, at: _Reporter) -> None:
    """Every path the model names stays inside the project; outputs inside their folder."""
    paths: list[tuple[NodePath, str]] = []
    for base, pipeline in _pipelines(model):
        names = {step.name for step in pipeline}
        for index, step in enumerate(pipeline):
            paths += [
                (dep_place((*base, index, "deps", dep_index), dep), dep_path(dep))
                for dep_index, dep in enumerate(step.deps)
                if not is_step_reference(dep_path(dep), names)
            ]
            for output_index, output in enumerate(step.outputs):
                problem = output_name_problem(output)
                if problem is not None:
                    at.error(
                        (*base, index, "outputs", output_index),
                        f"output '{output}' {problem}",
                        "Name a file inside the step's output folder, e.g. 'model.skops' or "
                        "'reports/metrics.json'.",
                        value=True,
                    )
    paths += [
        (("versions", label, key), path)
        for label, version in model.versions.items()
        for key, path in (
            ("artifact", version.artifact),
            ("bundle", version.bundle),
            ("verify_key", version.verify_key),
        )
        if path is not None
    ]
    evaluation = model.evaluation
    if evaluation is not None and evaluation.dataset is not None:
        paths.append((("evaluation", "dataset"), evaluation.dataset))
    for index, dataset in enumerate(evaluation.datasets if evaluation is not None else ()):
        if dataset.path is not None:
            paths.append((("evaluation", "datasets", index, "path"), dataset.path))
        problem = None if dataset.file is None else output_name_problem(dataset.file)
        if problem is not None:
            at.error(
                ("evaluation", "datasets", index, "file"),
                f"dataset file '{dataset.file}' {problem}",
                "Name one of the step's outputs.",
                value=True,
            )
    for place, path in paths:
        problem = project_path_problem(path)
        if problem is not None:
            at.error(
                place,
                f"'{path}' {problem}; paths must stay inside the project",
                "Write the path relative to the project root, without '..', and copy "
                "files from elsewhere into the project.",
                value=True,
            )


# Versions and aliases --------------------------------------------------------------------


def _check_versions(name: str, model: ModelSpec, at: _Reporter) -> None:
    if model.versions and not model.pipeline:
        untrained = [
            label
            for label, version in model.versions.items()
            if version.artifact is None and version.pipeline is None and version.bundle is None
        ]
        if untrained:
            at.error(
                ("versions",),
                f"model '{name}' has no pipeline to train version(s) {_listing(untrained)}",
                "Add a 'pipeline:', or give each version an 'artifact:' file made elsewhere "
                "or a 'bundle:' from `mvctl export`.",
            )
    model_steps = {step.name: step for step in reversed(model.pipeline)}
    for label, version in model.versions.items():
        _check_finite(version.params, ("versions", label, "params"), at)
        steps = (
            model_steps
            if version.pipeline is None
            else {step.name: step for step in reversed(version.pipeline)}
        )
        where = "the pipeline" if version.pipeline is None else "its pipeline"
        for step_name, overrides in version.params.items():
            path: NodePath = ("versions", label, "params", step_name)
            step = steps.get(step_name)
            if step is None:
                at.error(
                    path,
                    f"version {label} overrides params of step '{step_name}', "
                    f"which is not in {where}",
                    _did_you_mean(step_name, steps, f"Steps in the pipeline: {_listing(steps)}."),
                )
                continue
            for param in overrides:
                if param in step.params:
                    continue
                declare = f"declare '{param}' in the params of step '{step_name}' first"
                close = difflib.get_close_matches(param, list(step.params), n=1)
                fix = (
                    f"Did you mean '{close[0]}'? Or {declare}."
                    if close
                    else "D" + declare[1:] + "."
                )
                at.error(
                    (*path, param),
                    f"step '{step_name}' declares no param '{param}' to override",
                    fix,
                )


def _check_aliases(model: ModelSpec, at: _Reporter) -> None:
    for alias, label in model.aliases.items():
        if label not in model.versions:
            at.error(
                ("aliases", alias),
                f"alias '{alias}' names version '{label}', which is not declared in versions",
                _did_you_mean(
                    label, model.versions, f"Declared versions: {_listing(model.versions)}."
                ),
                value=True,
            )
