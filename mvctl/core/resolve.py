"""Resolve declared versions into exact training recipes and their hashes.

A version's steps get their final params (step params overridden by the version), the digests
of their file deps, their upstream steps' keys and the digests of the environment they read.
The planner compares the result with the recorded state; apply runs it, and checks that the
keys still match the reviewed plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mvctl.core.dag import topological_order
from mvctl.core.hashing import (
    artifact_spec_hash,
    bundle_spec_hash,
    canonical_json,
    metadata_hash,
    step_cache_key,
    version_spec_hash,
)
from mvctl.spec.models import ModelSpec, Step, VersionSpec, is_step_reference
from mvctl.spec.quantities import parse_duration, parse_size

UNSET_ENV = "unset"
"""What a step's definition holds for a declared environment variable that is not set."""
BUILTIN_OUTPUTS = {"sklearn": ("model.skops",), "torch": ("model.safetensors",)}
"""What a built-in trainer writes when the step declares no outputs."""


@dataclass(frozen=True, slots=True)
class StepExecution:
    """How a step runs, apart from what it computes: none of it enters the cache key, so
    changing a timeout or the cores a step holds never retrains a version."""

    cpus: float | None = 1.0
    """Cores one run holds; None: the whole machine (a sklearn step with n_jobs=-1)."""
    cpus_declared: bool = False
    """Whether `resources.cpus` says so (more than the machine has is then an error) or the
    trainer's default does (then capped at the machine)."""
    memory: int = 0
    """Bytes one run holds (0: not counted)."""
    gpus: int = 0
    timeout_s: float | None = None
    retries: int = 0
    ray_train_workers: int = 0
    """Ray Train workers the step's process starts (a torch step's `distributed.workers`):
    they hold its cores and GPUs on the Ray cluster, so its own Ray task holds none."""


@dataclass(frozen=True, slots=True)
class ResolvedStep:
    name: str
    key: str
    definition: Mapping[str, Any]
    """Everything the key covers: command or trainer, params, dep digests, upstream keys."""
    upstream: tuple[str, ...]
    outputs: tuple[str, ...]
    unkept: frozenset[str] = frozenset()
    """File deps written with `snapshot: false`: their files are not copied into the store."""
    execution: StepExecution = StepExecution()

    @property
    def params(self) -> Mapping[str, Any]:
        params: Mapping[str, Any] = self.definition["params"]
        return params


@dataclass(frozen=True, slots=True)
class ResolvedVersion:
    model: str
    label: str
    spec_hash: str
    metadata_hash: str
    steps: tuple[ResolvedStep, ...]
    artifact_path: str | None
    artifact_digest: str | None
    description: str | None
    tags: Mapping[str, str]
    bundle_path: str | None = None
    """A version imported from a bundle: the bundle (``artifact_digest`` is the bundle's)."""

    def spec(self) -> dict[str, Any]:
        """The resolved spec as recorded with the version: what a conflict diff compares."""
        if self.bundle_path is not None:
            return {"bundle": {"digest": self.artifact_digest}}
        if self.artifact_digest is not None:
            return {"artifact": {"path": self.artifact_path, "digest": self.artifact_digest}}
        return {"steps": {step.name: dict(step.definition) for step in self.steps}}

    def metadata(self) -> dict[str, Any]:
        return {"description": self.description, "tags": dict(self.tags)}

    def record_spec(self) -> dict[str, Any]:
        """The spec stored with the version: the resolved spec plus its metadata."""
        return {**self.spec(), "metadata": self.metadata()}

    def artifact_output(self) -> tuple[str, str] | None:
        """(step, file) of the trained model: the last step's first output."""
        if not self.steps or not self.steps[-1].outputs:
            return None
        return self.steps[-1].name, self.steps[-1].outputs[0]

    def params(self) -> dict[str, Any]:
        return {step.name: dict(step.params) for step in self.steps}


def step_order(model: ModelSpec) -> list[Step]:
    return pipeline_order(model.pipeline)


def pipeline_order(pipeline: list[Step]) -> list[Step]:
    """The steps in the order they run: after their upstream steps, else as declared."""
    names = [step.name for step in pipeline]
    known = set(names)
    upstream = {s.name: [d for d in s.dep_paths() if is_step_reference(d, known)] for s in pipeline}
    by_name = {step.name: step for step in pipeline}
    return [by_name[name] for name in topological_order(names, upstream)]


def torch_module(model: ModelSpec) -> str | None:
    """The `with.module` of the step whose output is the model, when it is a `uses: torch` step:
    the one torch module mvctl may import to load the model's files."""
    steps = step_order(model)
    if not steps or steps[-1].uses != "torch":
        return None
    module = steps[-1].with_.get("module")
    return module if isinstance(module, str) else None


def step_execution(step: Step, params: Mapping[str, Any]) -> StepExecution:
    """The step's declared resources, timeout and retries; what it leaves out, its trainer's
    default: one core, or a sklearn step's `n_jobs`, or a torch step's nproc x threads (its
    Ray Train workers x cpus_per_worker)."""
    declared = step.resources
    cpus = declared.cpus if declared.cpus is not None else _default_cpus(step, params)
    return StepExecution(
        cpus=cpus,
        cpus_declared=declared.cpus is not None,
        memory=parse_size(declared.memory) if declared.memory is not None else 0,
        gpus=declared.gpus or 0,
        timeout_s=parse_duration(step.timeout) if step.timeout is not None else None,
        retries=step.retries,
        ray_train_workers=_ray_train_workers(step),
    )


def _default_cpus(step: Step, params: Mapping[str, Any]) -> float | None:
    if step.uses == "sklearn":
        jobs = params.get("n_jobs")
        if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs != 0:
            return float(jobs) if jobs > 0 else None
    if step.uses == "torch":
        distributed = step.with_.get("distributed")
        workers = _ray_train_workers(step)
        per_worker = distributed.get("cpus_per_worker", 1) if isinstance(distributed, dict) else 1
        if workers and isinstance(per_worker, int | float) and per_worker > 0:
            return float(workers * per_worker)
        nproc = distributed.get("nproc", 1) if isinstance(distributed, dict) else 1
        threads = step.with_.get("threads", 1)
        if isinstance(nproc, int) and isinstance(threads, int) and nproc > 0 and threads > 0:
            return float(nproc * threads)
    return 1.0


def _ray_train_workers(step: Step) -> int:
    distributed = step.with_.get("distributed") if step.uses == "torch" else None
    workers = distributed.get("workers", 0) if isinstance(distributed, dict) else 0
    return workers if type(workers) is int and workers > 0 else 0


def resolve_version(
    model_name: str,
    model: ModelSpec,
    label: str,
    version: VersionSpec,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
    ordered_steps: list[Step] | None = None,
    memo: dict[tuple[str, str, tuple[str, ...]], ResolvedStep] | None = None,
) -> ResolvedVersion:
    """The exact recipe of one version. ``digests`` must hold every file dep and artifact.

    ``memo`` shares resolved steps between versions of one model: a step with the same
    overrides and the same upstream keys resolves the same, so it is hashed once.
    """
    meta = metadata_hash(version.description, version.tags)
    if version.bundle is not None:
        digest = digests[version.bundle]
        return ResolvedVersion(
            model_name,
            label,
            bundle_spec_hash(digest),
            meta,
            (),
            None,
            digest,
            version.description,
            version.tags,
            version.bundle,
        )
    if version.artifact is not None:
        digest = digests[version.artifact]
        return ResolvedVersion(
            model_name,
            label,
            artifact_spec_hash(digest),
            meta,
            (),
            version.artifact,
            digest,
            version.description,
            version.tags,
        )
    steps = ordered_steps if ordered_steps is not None else pipeline_order(version.steps(model))
    known = {step.name for step in steps}
    keys: dict[str, str] = {}
    resolved: list[ResolvedStep] = []
    memo = {} if memo is None else memo
    for step in steps:
        deps = step.dep_paths()
        upstream = tuple(dep for dep in deps if is_step_reference(dep, known))
        override = version.params.get(step.name)
        memo_key = (
            step.name,
            canonical_json(override) if override else "",
            tuple(keys[n] for n in upstream),
        )
        known_step = memo.get(memo_key)
        if known_step is not None:
            keys[step.name] = known_step.key
            resolved.append(known_step)
            continue
        files = {dep: digests[dep] for dep in deps if dep not in upstream}
        definition: dict[str, Any] = {
            "params": {**step.params, **version.params.get(step.name, {})},
            "deps": {"files": files, "steps": {name: keys[name] for name in upstream}},
            "outputs": list(step.outputs),
            "env": {name: env_digests.get(name, UNSET_ENV) for name in sorted(step.env)},
        }
        if step.run is not None:
            definition["run"] = step.run
        else:
            definition["uses"] = step.uses
            definition["with"] = dict(step.with_)
        key = step_cache_key(definition)
        keys[step.name] = key
        outputs = tuple(step.outputs) or BUILTIN_OUTPUTS.get(step.uses or "", ())
        execution = step_execution(step, definition["params"])
        resolved_step = ResolvedStep(
            step.name, key, definition, upstream, outputs, step.unkept_deps(), execution
        )
        memo[memo_key] = resolved_step
        resolved.append(resolved_step)
    spec_hash = version_spec_hash([{"name": s.name, "key": s.key} for s in resolved])
    return ResolvedVersion(
        model_name,
        label,
        spec_hash,
        meta,
        tuple(resolved),
        None,
        None,
        version.description,
        version.tags,
    )


def resolve_model(
    model_name: str,
    model: ModelSpec,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> dict[str, ResolvedVersion]:
    ordered = step_order(model) if model.pipeline else []
    memo: dict[tuple[str, str, tuple[str, ...]], ResolvedStep] = {}
    return {
        label: resolve_version(
            model_name, model, label, version, digests, env_digests, ordered, memo
        )
        if version.pipeline is None
        else resolve_version(model_name, model, label, version, digests, env_digests)
        for label, version in model.versions.items()
    }


def env_names(model: ModelSpec) -> set[str]:
    """The environment variables the model's steps read, its versions' own pipelines included."""
    names = {name for step in model.pipeline for name in step.env}
    for version in model.versions.values():
        names.update(name for step in version.pipeline or () for name in step.env)
    return names
