"""What `mvctl freeze` writes: a trained version's recorded recipe, pinned in its own block.

When the pipeline changes in a way that changes a trained version's recipe (a param default
it does not override, a command, trainer settings, a step added or removed), the record and
the config disagree: a ``version_changed`` conflict. Freezing merges the two: history is kept,
and the config absorbs it. Each version gets the lightest pin that is complete:

- ``params``: only param values differ, so the recorded values become overrides in the
  version's ``params:``, one line a reviewer reads at a glance;
- ``pipeline``: anything else differs (commands, trainer settings, deps, outputs, variable
  names, steps or params added or removed), so the version gets its own ``pipeline:``, the
  steps as recorded; its overrides stay where they agree with the record.

Before anything is written, the pinned version is resolved against the recorded file digests:
it must come out with the record's very spec hash, else the version is not frozen. Pure: the
edits are values (paths under the version's block), written by ``ops.freeze``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mvctl.core.lineage import (
    kept_as_recorded,
    recorded_order,
    recorded_steps,
    step_recipe,
)
from mvctl.core.plan import FieldChange
from mvctl.core.recorded import RecordedVersion
from mvctl.core.resolve import ResolvedVersion, resolve_version
from mvctl.spec.models import ModelSpec, Step, VersionSpec, dep_path

PinPath = tuple[str | int, ...]
FreezeForm = Literal["params", "pipeline"]


@dataclass(frozen=True, slots=True)
class Pin:
    """Set ``value`` at ``path`` under the version's block, or remove what is there."""

    path: PinPath
    value: Any = None
    remove: bool = False


@dataclass(frozen=True, slots=True)
class VersionFreeze:
    """The pins that make one version's block declare its recorded recipe again."""

    model: str
    label: str
    form: FreezeForm
    pins: tuple[Pin, ...]
    changes: tuple[FieldChange, ...]
    """The recipe changes the pins undo for this version (what the conflict listed)."""


@dataclass(frozen=True, slots=True)
class FreezeRefusal:
    """A version in conflict that freeze cannot pin, and why."""

    model: str
    label: str
    reason: str


def freeze_version(
    model_name: str,
    model: ModelSpec,
    label: str,
    declared: ResolvedVersion,
    recorded: RecordedVersion | None,
) -> VersionFreeze | FreezeRefusal | None:
    """The pins for ``label``; None when its declared recipe is the recorded one already (or it
    has no record worth keeping: not trained, or failed)."""
    comparison = kept_as_recorded(declared, recorded)
    if comparison is None or comparison.as_recorded is not None or recorded is None:
        return None
    if not comparison.freezable:
        return FreezeRefusal(
            model_name,
            label,
            "it is a registered artifact file (or declared as one now): its content is the "
            "version itself, so there is no recipe to pin; restore the file, or declare the "
            "new one under a new label",
        )
    spec = json.loads(recorded.spec_json)
    before = recorded_steps(spec)
    order = (
        None
        if before is None
        else recorded_order(before, [s.name for s in declared.steps], recorded.spec_hash)
    )
    if before is None or order is None:
        return FreezeRefusal(
            model_name,
            label,
            "its record does not reproduce its own spec hash, so it is not one mvctl wrote; "
            "restore the recorded recipe by hand, or bump the version",
        )
    version = model.versions[label]
    if _only_param_values_differ(before, order, declared):
        form: FreezeForm = "params"
        pins = _param_pins(before, order, declared, version)
    else:
        form = "pipeline"
        pins = _pipeline_pins(before, order, version, version.steps(model))
    pinned = _pinned_spec(version, pins)
    if pinned is None or not _reproduces(model_name, model, label, pinned, before, recorded):
        return FreezeRefusal(
            model_name,
            label,
            "its recorded recipe cannot be written as a version block that trains the same "
            "steps; restore the recorded recipe by hand, or bump the version",
        )
    return VersionFreeze(model_name, label, form, pins, comparison.recipe_changes)


def _only_param_values_differ(
    before: Mapping[str, Mapping[str, Any]], order: Sequence[str], declared: ResolvedVersion
) -> bool:
    """Same steps in the same order, each with the same recipe but for its params' values."""
    if list(order) != [step.name for step in declared.steps]:
        return False
    for step in declared.steps:
        old, new = step_recipe(before[step.name]), step_recipe(step.definition)
        old_params, new_params = old.pop("params", {}), new.pop("params", {})
        if old != new or set(old_params) != set(new_params):
            return False
    return True


def _param_pins(
    before: Mapping[str, Mapping[str, Any]],
    order: Sequence[str],
    declared: ResolvedVersion,
    version: VersionSpec,
) -> tuple[Pin, ...]:
    """The recorded values the version now gets otherwise, as its overrides: one mapping
    where it overrides nothing yet, else one value at a time beside what it has."""
    current = {step.name: step.params for step in declared.steps}
    needed: dict[str, dict[str, Any]] = {}
    for name in order:
        for param, value in before[name]["params"].items():
            if current[name][param] != value:
                needed.setdefault(name, {})[param] = value
    if not version.params:
        return (Pin(("params",), needed),)
    pins = []
    for name, values in needed.items():
        if name not in version.params:
            pins.append(Pin(("params", name), values))
            continue
        pins += [Pin(("params", name, param), value) for param, value in values.items()]
    return tuple(pins)


def _pipeline_pins(
    before: Mapping[str, Mapping[str, Any]],
    order: Sequence[str],
    version: VersionSpec,
    current: Sequence[Step],
) -> tuple[Pin, ...]:
    """The recorded steps as the version's own pipeline, and its overrides made to agree."""
    declared = {step.name: step for step in current}
    pipeline = [_step_block(name, before[name], declared.get(name)) for name in order]
    return (Pin(("pipeline",), pipeline), *_override_pins(before, version))


def _override_pins(
    before: Mapping[str, Mapping[str, Any]], version: VersionSpec
) -> tuple[Pin, ...]:
    """The version's overrides made to agree with the record: a value it overrides otherwise
    is set back, one the recorded step does not have is removed (and what that empties)."""
    pins: list[Pin] = []
    emptied = 0
    for step_name, overrides in version.params.items():
        recorded = before[step_name]["params"] if step_name in before else {}
        if not set(overrides) & set(recorded):
            pins.append(Pin(("params", step_name), remove=True))
            emptied += 1
            continue
        for param, value in overrides.items():
            if param not in recorded:
                pins.append(Pin(("params", step_name, param), remove=True))
            elif recorded[param] != value:
                pins.append(Pin(("params", step_name, param), recorded[param]))
    if version.params and emptied == len(version.params):
        return (Pin(("params",), remove=True),)
    return tuple(pins)


def _step_block(name: str, definition: Mapping[str, Any], declared: Step | None) -> dict[str, Any]:
    """One recorded step as a pipeline entry, keys in the order people write them."""
    block: dict[str, Any] = {"name": name}
    if "run" in definition:
        block["run"] = definition["run"]
    else:
        block["uses"] = definition["uses"]
        if definition.get("with"):
            block["with"] = dict(definition["with"])
    if definition["params"]:
        block["params"] = _in_declared_order(definition["params"], declared)
    deps = _deps_list(definition, declared)
    if deps:
        block["deps"] = deps
    if definition["outputs"]:
        block["outputs"] = list(definition["outputs"])
    if definition["env"]:
        block["env"] = sorted(definition["env"])
    return block


def _in_declared_order(params: Mapping[str, Any], declared: Step | None) -> dict[str, Any]:
    """The recorded params, those the step still declares first and in its order."""
    first = [name for name in (declared.params if declared else ()) if name in params]
    return {name: params[name] for name in first + sorted(set(params) - set(first))}


def _deps_list(definition: Mapping[str, Any], declared: Step | None) -> list[Any]:
    """The recorded deps, in the order the step declares them now where it still has them,
    each in the form it is written there (a mapping keeps its `snapshot:`, which is no part
    of the recipe)."""
    upstream = sorted(definition["deps"]["steps"])
    files = sorted(definition["deps"]["files"])
    recorded = set(upstream) | set(files)
    kept = [dep for dep in (declared.deps if declared else ()) if dep_path(dep) in recorded]
    kept_paths = {dep_path(dep) for dep in kept}
    written = [dep if isinstance(dep, str) else dep.model_dump(exclude_unset=True) for dep in kept]
    return written + [dep for dep in upstream + files if dep not in kept_paths]


def _pinned_spec(version: VersionSpec, pins: Sequence[Pin]) -> VersionSpec | None:
    """The version block with ``pins`` applied, as a spec; None when it does not validate."""
    data: dict[str, Any] = version.model_dump(by_alias=True, exclude_defaults=True)
    for pin in pins:
        node = data
        for part in pin.path[:-1]:
            node = node.setdefault(str(part), {})
        if pin.remove:
            node.pop(str(pin.path[-1]), None)
        else:
            node[str(pin.path[-1])] = pin.value
    try:
        return VersionSpec.model_validate(data, by_name=False)
    except ValueError:
        return None


def _reproduces(
    model_name: str,
    model: ModelSpec,
    label: str,
    pinned: VersionSpec,
    before: Mapping[str, Mapping[str, Any]],
    recorded: RecordedVersion,
) -> bool:
    """``pinned``, resolved against the files and variables the version was trained with,
    gives the record's spec hash: the pins say exactly what history holds."""
    digests: dict[str, str] = {}
    env: dict[str, str] = {}
    for definition in before.values():
        digests.update(definition["deps"]["files"])
        env.update(definition["env"])
    try:
        again = resolve_version(model_name, model, label, pinned, digests, env)
    except (KeyError, ValueError):
        return False
    return again.spec_hash == recorded.spec_hash
