"""A trained version's record against the config: its recipe, and its lineage.

A version's **recipe** is what the config declares for it: each step's command or trainer
settings, params after overrides, outputs, the names of its deps (files and upstream steps)
and of the environment variables it reads, and the order of the steps. Its **lineage** is what
it was trained from: the digests of those files, the values of those variables, the upstream
steps' cache keys. The record keeps both (the resolved spec); the config says only the recipe.

So a recorded version is compared with the config on its recipe. A difference there is a
conflict; a difference in its lineage alone (a code or data file edited since) is history: the
version is kept as recorded, and new versions train with the new files. Step cache keys still
cover everything, so caching is unchanged. Pure: recorded specs come in as parsed JSON.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from mvctl.core.diff import diff_values
from mvctl.core.hashing import step_cache_key, version_spec_hash
from mvctl.core.plan import FieldChange
from mvctl.core.recorded import VERSION_FAILED, RecordedVersion
from mvctl.core.resolve import ResolvedVersion

ORDER_PATH = "steps.order"
"""Where a change in the order of otherwise equal steps shows in a conflict."""
MAX_ORDERS_TRIED = 5_000
"""Orders of a recorded DAG tried to find the one its spec hash was made with."""

StepDefinitions = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class InputChange:
    """A file dep or an environment variable whose digest differs from the recorded one."""

    step: str
    kind: Literal["file", "env"]
    name: str
    """The dep's path as declared, or the variable's name."""
    recorded: str
    current: str

    @property
    def shown(self) -> str:
        return self.name if self.kind == "file" else f"${self.name}"


@dataclass(frozen=True, slots=True)
class RecordComparison:
    """How a declared version differs from its record."""

    recipe_changes: tuple[FieldChange, ...]
    """Recipe fields the config declares otherwise: a conflict when there are any."""
    input_changes: tuple[InputChange, ...]
    """Lineage: files and variables changed since training (never a conflict)."""
    as_recorded: ResolvedVersion | None
    """The version as it was trained (its recorded definitions and keys) when its recipe is
    unchanged; None when the recipe changed."""
    freezable: bool = True
    """Both sides are trained by steps, so `mvctl freeze` can pin the recorded recipe."""


def compare_with_record(
    declared: ResolvedVersion, recorded_spec: Any, recorded_spec_hash: str
) -> RecordComparison:
    """``declared`` against the record whose spec (parsed JSON) and hash are given.

    A recorded spec of another shape than mvctl writes (a registered artifact, or a tampered
    record) is compared as a whole: every difference is a recipe change.
    """
    before = recorded_steps(recorded_spec)
    if declared.artifact_digest is not None or before is None:
        recorded = (
            {k: v for k, v in recorded_spec.items() if k != "metadata"}
            if isinstance(recorded_spec, dict)
            else recorded_spec
        )
        return RecordComparison(diff_values(recorded, declared.spec()), (), None, False)
    after = {step.name: step.definition for step in declared.steps}
    inputs: list[InputChange] = []
    for step in declared.steps:
        old = before.get(step.name)
        if old is None or old == step.definition:
            continue
        if step_recipe(old) != step_recipe(step.definition):
            break
        inputs += _input_changes(step.name, old, step.definition)
    else:
        if set(before) == set(after):
            as_recorded = _as_recorded(declared, before)
            if as_recorded.spec_hash == recorded_spec_hash:
                return RecordComparison((), tuple(inputs), as_recorded)
            order = recorded_order(before, [s.name for s in declared.steps], recorded_spec_hash)
            change = FieldChange(ORDER_PATH, order, [s.name for s in declared.steps])
            return RecordComparison((change,), tuple(inputs), None)
    changes = diff_values(recipe_view(before), recipe_view(after))
    return RecordComparison(changes, tuple(inputs), None)


def kept_as_recorded(
    declared: ResolvedVersion, recorded: RecordedVersion | None
) -> RecordComparison | None:
    """The comparison of a trained (or archived) version whose spec hash differs from its
    record's; None when there is nothing to compare (not recorded, failed, or the same)."""
    if (
        recorded is None
        or recorded.status == VERSION_FAILED
        or recorded.spec_hash == declared.spec_hash
    ):
        return None
    return compare_with_record(declared, json.loads(recorded.spec_json), recorded.spec_hash)


def as_trained(
    declared: ResolvedVersion, status: str, spec_hash: str, spec: Mapping[str, Any]
) -> ResolvedVersion:
    """A recorded version as it was trained when the config still declares its recipe (its
    own data, its cached steps), else as declared."""
    if status == VERSION_FAILED or spec_hash == declared.spec_hash:
        return declared
    kept = compare_with_record(declared, dict(spec), spec_hash).as_recorded
    return kept if kept is not None else declared


def resolve_as_recorded(
    model: str,
    declared: Mapping[str, ResolvedVersion],
    recorded: Mapping[tuple[str, str], RecordedVersion],
) -> dict[str, ResolvedVersion]:
    """``declared`` with each trained version whose recipe is unchanged taken as it was
    trained: what its evaluation data and its cached steps are (what the planner uses)."""
    effective = dict(declared)
    for label, version in declared.items():
        comparison = kept_as_recorded(version, recorded.get((model, label)))
        if comparison is not None and comparison.as_recorded is not None:
            effective[label] = comparison.as_recorded
    return effective


def recorded_steps(spec: Any) -> dict[str, Mapping[str, Any]] | None:
    """The step definitions of a recorded spec; None when it has none, or when they are not
    in the shape mvctl writes (then nothing in them is trusted)."""
    steps = spec.get("steps") if isinstance(spec, dict) else None
    if not isinstance(steps, dict) or not steps:
        return None
    for definition in steps.values():
        if not _is_definition(definition):
            return None
    return steps


def step_recipe(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A step's resolved definition without its lineage: dep and variable names, no digests.
    Empty fields are left out, so a conflict over an added step lists only what it says."""
    recipe = {key: value for key, value in definition.items() if key not in ("deps", "env")}
    deps = {
        "files": sorted(definition["deps"]["files"]),
        "steps": sorted(definition["deps"]["steps"]),
    }
    recipe["deps"] = {key: names for key, names in deps.items() if names}
    recipe["env"] = sorted(definition["env"])
    return {key: value for key, value in recipe.items() if value not in ({}, [])}


def recipe_view(steps: StepDefinitions) -> dict[str, Any]:
    """Every step's recipe, by name: what a conflict lists field by field."""
    return {"steps": {name: step_recipe(definition) for name, definition in steps.items()}}


def recorded_order(
    steps: StepDefinitions, declared: Sequence[str], spec_hash: str
) -> list[str] | None:
    """The order the recorded ``steps`` ran in: the one whose spec hash is ``spec_hash``.

    The record keeps the steps by name, so the order is found again: the orders their deps
    allow are tried, those closest to ``declared`` first (a chain has one). None when no order
    gives the hash (a record mvctl did not write)."""
    keys = {name: step_cache_key(definition) for name, definition in steps.items()}
    rank = {name: index for index, name in enumerate(declared)}
    names = sorted(steps, key=lambda n: (rank.get(n, len(rank)), n))
    upstream = {name: set(steps[name]["deps"]["steps"]) & set(steps) for name in names}
    for order in itertools.islice(_orders(names, upstream), MAX_ORDERS_TRIED):
        if version_spec_hash([{"name": n, "key": keys[n]} for n in order]) == spec_hash:
            return order
    return None


def _orders(names: list[str], upstream: Mapping[str, set[str]]) -> Iterator[list[str]]:
    """Every order of ``names`` that puts each after its upstream steps, earliest names first."""
    placed: list[str] = []
    done: set[str] = set()

    def extend() -> Iterator[list[str]]:
        if len(placed) == len(names):
            yield list(placed)
            return
        for name in names:
            if name not in done and upstream[name] <= done:
                placed.append(name)
                done.add(name)
                yield from extend()
                placed.pop()
                done.discard(name)

    return extend()


def _as_recorded(declared: ResolvedVersion, before: StepDefinitions) -> ResolvedVersion:
    """``declared`` with its steps' recorded definitions and keys, in the declared order."""
    steps = []
    for step in declared.steps:
        old = before[step.name]
        if old == step.definition:
            steps.append(step)
        else:
            steps.append(replace(step, key=step_cache_key(old), definition=old))
    spec_hash = version_spec_hash([{"name": s.name, "key": s.key} for s in steps])
    return replace(declared, spec_hash=spec_hash, steps=tuple(steps))


def _input_changes(
    step: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> Iterator[InputChange]:
    files_before = old["deps"]["files"]
    for path, digest in new["deps"]["files"].items():
        if files_before[path] != digest:
            yield InputChange(step, "file", path, str(files_before[path]), digest)
    env_before = old["env"]
    for name, digest in new["env"].items():
        if env_before[name] != digest:
            yield InputChange(step, "env", name, str(env_before[name]), digest)


def _is_definition(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    deps = value.get("deps")
    return (
        isinstance(value.get("params"), dict)
        and isinstance(deps, dict)
        and isinstance(deps.get("files"), dict)
        and isinstance(deps.get("steps"), dict)
        and isinstance(value.get("outputs"), list)
        and isinstance(value.get("env"), dict)
    )
