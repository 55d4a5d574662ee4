"""What `mvctl reproduce` re-runs and how it judges the outcome, as pure values.

A trained version's record holds, per step, the resolved definition it ran (its spec: the
command or trainer settings, params, dep digests, upstream keys) and its lineage (its cache key,
its outputs' digests, the dep files it kept in the store). ``recorded_steps`` reads those back
into ``RecordedStep`` values in run order, refusing a record that is malformed or that does not
hash to its own keys: reproduce executes what the record says, so it must say it coherently.
``compare_outputs`` and ``compare_metrics`` then tell what differs between the record and a
re-run, digest by digest and number by number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mvctl.core.dag import topological_order
from mvctl.core.hashing import step_cache_key
from mvctl.core.recorded import DEP_FILES
from mvctl.errors import StateError
from mvctl.spec.metrics import METRICS
from mvctl.spec.names import NAME_PATTERN
from mvctl.spec.paths import output_name_problem, project_path_problem

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DEP_DIGEST = re.compile(r"^(sha256|tree):[0-9a-f]{64}$")
_KEY = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class RecordedDep:
    """One file dep of a recorded step: its digest (in the step's key) and its files."""

    dep: str
    digest: str
    kept: bool
    """Whether its files were copied into the store (false: `snapshot: false`)."""
    files: Mapping[str, str] | None
    """Path relative to the project root -> digest; None for a run recorded before mvctl kept
    dep files, when only the dep's own digest is known."""


@dataclass(frozen=True, slots=True)
class RecordedStep:
    name: str
    key: str
    definition: Mapping[str, Any]
    """Exactly what the key hashes: what reproduce runs."""
    upstream: tuple[str, ...]
    outputs: Mapping[str, str]
    """Output name -> the digest the record holds."""
    deps: tuple[RecordedDep, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self.outputs)


@dataclass(frozen=True, slots=True)
class RecordedRun:
    """A trained version's steps in run order, and which output is its model."""

    steps: tuple[RecordedStep, ...]
    artifact_step: str
    artifact_file: str


def recorded_run(target: str, spec: Mapping[str, Any], lineage: Mapping[str, Any]) -> RecordedRun:
    """The steps of a version trained by its pipeline, from its record; StateError when the
    record is malformed or inconsistent."""
    definitions = spec.get("steps")
    runs = lineage.get("steps")
    artifact = lineage.get("artifact")
    if not isinstance(definitions, dict) or not isinstance(runs, dict):
        raise _malformed(target, "it records no steps")
    if set(definitions) != set(runs):
        raise _malformed(target, "its spec and its lineage name different steps")
    steps = {name: _step(target, name, definitions[name], runs[name]) for name in definitions}
    for step in steps.values():
        for upstream in step.upstream:
            recorded = steps.get(upstream)
            if recorded is None or recorded.key != step.definition["deps"]["steps"][upstream]:
                raise _malformed(
                    target,
                    f"step {step.name} names an upstream step {upstream!r} "
                    "that is not the one recorded",
                )
    try:
        order = topological_order(sorted(steps), {n: s.upstream for n, s in steps.items()})
    except ValueError as error:
        raise _malformed(target, str(error)) from error
    if (
        not isinstance(artifact, dict)
        or artifact.get("step") not in steps
        or artifact.get("file") not in steps[artifact["step"]].outputs
    ):
        raise _malformed(target, "it does not say which step output is its model")
    return RecordedRun(tuple(steps[name] for name in order), artifact["step"], artifact["file"])


def _step(target: str, name: Any, definition: Any, run: Any) -> RecordedStep:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _malformed(target, f"a step is named {name!r}")
    where = f"step {name}"
    if not isinstance(definition, dict) or not isinstance(run, dict):
        raise _malformed(target, f"{where} is not a mapping")
    key = run.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise _malformed(target, f"{where} has no cache key")
    try:
        hashed = step_cache_key(definition)
    except (TypeError, ValueError) as error:
        raise _malformed(target, f"{where}'s definition cannot be hashed") from error
    if hashed != key:
        raise _malformed(target, f"{where}'s definition does not hash to its cache key")
    _check_definition(target, where, definition)
    outputs = run.get("outputs")
    if not isinstance(outputs, dict):
        raise _malformed(target, f"{where} records no outputs")
    for output, digest in outputs.items():
        problem = output_name_problem(output) if isinstance(output, str) else "is not text"
        if problem is not None or not isinstance(digest, str) or not _DIGEST.match(digest):
            raise _malformed(
                target, f"{where} records an output {output!r} that {problem or 'has no digest'}"
            )
    upstream = tuple(definition["deps"]["steps"])
    return RecordedStep(
        name, key, definition, upstream, outputs, _deps(target, where, definition, run)
    )


def _check_definition(target: str, where: str, definition: Mapping[str, Any]) -> None:
    deps = definition.get("deps")
    runs_something = isinstance(definition.get("run"), str) or (
        definition.get("uses") in ("sklearn", "torch") and isinstance(definition.get("with"), dict)
    )
    if (
        not runs_something
        or not isinstance(definition.get("params"), dict)
        or not isinstance(definition.get("env", {}), dict)
        or not isinstance(definition.get("outputs"), list)
        or not isinstance(deps, dict)
        or not isinstance(deps.get("files"), dict)
        or not isinstance(deps.get("steps"), dict)
    ):
        raise _malformed(target, f"{where}'s definition is not one mvctl writes")
    for upstream in deps["steps"]:
        if not isinstance(upstream, str) or not _NAME.match(upstream):
            raise _malformed(target, f"{where} names an upstream step {upstream!r}")
    for dep, digest in deps["files"].items():
        problem = project_path_problem(dep)
        if problem is not None or not isinstance(digest, str) or not _DEP_DIGEST.match(digest):
            raise _malformed(
                target, f"{where} records a dep {dep!r} that {problem or 'has no digest'}"
            )


def _deps(
    target: str, where: str, definition: Mapping[str, Any], run: Mapping[str, Any]
) -> tuple[RecordedDep, ...]:
    planned: Mapping[str, str] = definition["deps"]["files"]
    taken = run.get(DEP_FILES)
    if taken is None:
        return tuple(RecordedDep(dep, digest, False, None) for dep, digest in planned.items())
    if not isinstance(taken, dict) or set(taken) != set(planned):
        raise _malformed(target, f"{where}'s dep files do not match its deps")
    deps = []
    for dep, digest in planned.items():
        entry = taken[dep]
        files = entry.get("files") if isinstance(entry, dict) else None
        kept = entry.get("kept") if isinstance(entry, dict) else None
        if not isinstance(files, dict) or not isinstance(kept, bool):
            raise _malformed(target, f"{where}'s dep files of {dep} are not what mvctl writes")
        for path, file_digest in files.items():
            problem = project_path_problem(path) if isinstance(path, str) else "is not text"
            if (
                problem is not None
                or not isinstance(file_digest, str)
                or not _DIGEST.match(file_digest)
            ):
                raise _malformed(
                    target, f"{where} records a dep file {path!r} that {problem or 'has no digest'}"
                )
        deps.append(RecordedDep(dep, digest, kept, files))
    return tuple(deps)


def _malformed(target: str, why: str) -> StateError:
    return StateError(
        f"the record of {target} cannot be reproduced: {why}",
        fix="It was changed by something other than mvctl; check the state with "
        "`mvctl state check` and restore it from a backup.",
    )


OutputStatus = Literal["match", "differs", "missing"]


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """One output of one step: its recorded digest against the re-run's."""

    name: str
    recorded: str | None
    reproduced: str | None

    @property
    def matches(self) -> bool:
        return self.recorded == self.reproduced


def compare_outputs(
    recorded: Mapping[str, str], reproduced: Mapping[str, str]
) -> tuple[OutputCheck, ...]:
    """Every output either side has, in the record's order, then any the re-run added."""
    names = [*recorded, *(name for name in reproduced if name not in recorded)]
    return tuple(OutputCheck(name, recorded.get(name), reproduced.get(name)) for name in names)


MetricStatus = Literal["match", "differs", "timing"]


@dataclass(frozen=True, slots=True)
class MetricCheck:
    """One metric on one dataset: the recorded value against the re-run's.

    A value that is not a finite number is compared by what it is (NaN matches NaN); latency
    and QPS are measurements of this machine now, shown but never compared (``timing``).
    """

    metric: str
    recorded: float | None
    reproduced: float | None
    recorded_status: str | None
    reproduced_status: str | None
    status: MetricStatus

    @property
    def delta(self) -> float | None:
        if self.recorded is None or self.reproduced is None:
            return None
        return self.reproduced - self.recorded


def compare_metrics(
    metrics: Sequence[str],
    recorded: Mapping[str, float | None],
    recorded_status: Mapping[str, str],
    reproduced: Mapping[str, float | None],
    reproduced_status: Mapping[str, str],
) -> tuple[MetricCheck, ...]:
    checks = []
    for name in metrics:
        was, now = recorded.get(name), reproduced.get(name)
        was_status, now_status = recorded_status.get(name), reproduced_status.get(name)
        if name in METRICS and METRICS[name].speed:
            status: MetricStatus = "timing"
        elif _same(was, now) and was_status == now_status:
            status = "match"
        else:
            status = "differs"
        checks.append(MetricCheck(name, was, now, was_status, now_status, status))
    return tuple(checks)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))
