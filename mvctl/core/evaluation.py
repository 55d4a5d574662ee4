"""Resolve a model's ``evaluation:`` into exact, hashable values: what apply scores and on what.

The evaluation hash covers how versions are scored (task, metrics, averaging, positive class,
speed settings, predict command), apart from the version's spec hash: editing it re-evaluates and never
retrains. Each dataset resolves to a ``DatasetRef`` whose digest covers the data's content
and how it is read; results are stored per (version, dataset digest, evaluation hash), so a
stored number is never recomputed and numbers from different data are never compared.

A dataset taken from a pipeline step is the output of that version's own step (the hold-out
that matches its training split); a version registered from an artifact has no steps and
uses the step as declared, without any version's overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.plan import DatasetRef
from mvctl.core.resolve import ResolvedVersion, resolve_version
from mvctl.spec.gates import Gate, parse_gate
from mvctl.spec.metrics import METRICS, metric_label
from mvctl.spec.models import Config, Dataset, Evaluation, ModelSpec, VersionSpec


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """How a model's versions are scored: the part of the evaluation the hash covers."""

    task: str
    metrics: tuple[str, ...]
    average: str
    batch_size: int
    repetitions: int
    warmup: int
    predict: str | None
    scores: bool
    pos_label: str | int | None = None
    """The declared positive class of a binary task; None: the greater label."""

    @property
    def speed_metrics(self) -> tuple[str, ...]:
        return tuple(name for name in self.metrics if METRICS[name].speed)

    def metric_labels(self) -> dict[str, str]:
        """Each metric's name as shown, naming its averaging and declared positive class."""
        return {
            name: metric_label(name, self.task, self.average, self.pos_label)
            for name in self.metrics
        }

    def hash(self) -> str:
        body: dict[str, object] = {
            "task": self.task,
            "metrics": sorted(self.metrics),
            "average": self.average,
            "predict": self.predict,
            "scores": self.scores,
        }
        if self.speed_metrics:
            body["speed"] = [self.batch_size, self.repetitions, self.warmup]
        # Keys added later enter the hash only where they change a number, so results stored
        # under settings that still mean the same are not evaluated again.
        if self.pos_label is not None:
            body["pos_label"] = self.pos_label
        multiclass = self.task == "multiclass-classification"
        if multiclass and self.average != "macro" and "roc_auc" in self.metrics:
            body["roc_auc_average"] = self.average  # once always macro, now as declared
        return sha256_hex(canonical_json(body))


@dataclass(frozen=True)
class ResolvedEvaluation:
    model: str
    settings: ScoringSettings
    evaluation_hash: str
    gates: tuple[Gate, ...]
    when_no_baseline: str
    datasets: Mapping[str, tuple[DatasetRef, ...]]
    """Version label -> the datasets it is scored on."""


def scoring_settings(task: str, evaluation: Evaluation) -> ScoringSettings:
    return ScoringSettings(
        task=task,
        metrics=tuple(evaluation.metrics),
        average=evaluation.average_for(task),
        batch_size=evaluation.speed.batch_size,
        repetitions=evaluation.speed.repetitions,
        warmup=evaluation.speed.warmup,
        predict=evaluation.predict,
        scores=evaluation.scores,
        pos_label=evaluation.pos_label,
    )


def resolve_evaluation(
    model_name: str,
    model: ModelSpec,
    versions: Mapping[str, ResolvedVersion],
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> ResolvedEvaluation | None:
    """The model's evaluation for each of ``versions``; None when it declares none.

    ``digests`` must hold every dataset file (the workspace hashes them with the deps).
    """
    evaluation = model.evaluation
    if evaluation is None:
        return None
    settings = scoring_settings(model.task, evaluation)
    declared = evaluation.all_datasets()
    fields = (
        [f"models.{model_name}.evaluation.dataset"]
        if evaluation.dataset is not None
        else [f"models.{model_name}.evaluation.datasets[{i}]" for i in range(len(declared))]
    )
    default_keys: dict[str, str] | None = None

    def step_keys(version: ResolvedVersion) -> Mapping[str, str]:
        nonlocal default_keys
        if version.steps:
            return {step.name: step.key for step in version.steps}
        if default_keys is None:
            plain = resolve_version(model_name, model, "", VersionSpec(), digests, env_digests)
            default_keys = {step.name: step.key for step in plain.steps}
        return default_keys

    # Versions mostly share their data (one file, or a `prepare` step they do not override):
    # build each distinct reference once, and share it.
    made: dict[tuple[int, str], DatasetRef] = {}

    def ref(index: int, version: ResolvedVersion) -> DatasetRef:
        dataset = declared[index]
        keys = step_keys(version) if dataset.step else {}
        source = keys[dataset.step] if dataset.step else ""
        found = made.get((index, source))
        if found is None:
            found = made[(index, source)] = dataset_ref(dataset, fields[index], digests, keys)
        return found

    by_version = {
        label: tuple(ref(index, version) for index in range(len(declared)))
        for label, version in versions.items()
    }
    return ResolvedEvaluation(
        model=model_name,
        settings=settings,
        evaluation_hash=settings.hash(),
        gates=tuple(parse_gate(text) for text in evaluation.gates),
        when_no_baseline=evaluation.when_no_baseline,
        datasets=by_version,
    )


def dataset_ref(
    dataset: Dataset, field: str, digests: Mapping[str, str], step_keys: Mapping[str, str]
) -> DatasetRef:
    """The identity of ``dataset``: ``digests`` holds its file's digest, ``step_keys`` the cache
    key of each step of the version scored on it."""
    data_format = dataset.data_format() or "csv"  # the spec checks refuse other suffixes
    content = digests[dataset.path] if dataset.path is not None else step_keys[dataset.step or ""]
    reading = {
        "content": content,
        "format": data_format,
        "file": dataset.file,
        "label": dataset.label,
        "features": dataset.features,
        "x": dataset.x_array if data_format == "npz" else None,
        "y": dataset.y_array if data_format == "npz" else None,
    }
    return DatasetRef(
        name=dataset.shown_name(),
        digest="sha256:" + sha256_hex(canonical_json(reading)),
        format=data_format,
        content=content,
        path=dataset.path,
        step=dataset.step,
        file=dataset.file,
        label=dataset.label,
        features=tuple(dataset.features or ()),
        x=dataset.x_array,
        y=dataset.y_array,
        field=field,
    )


def resolve_evaluations(
    config: Config,
    resolved: Mapping[tuple[str, str], ResolvedVersion],
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> dict[str, ResolvedEvaluation]:
    """Every model's evaluation, from the versions ``resolve_model`` gave (by model and label)."""
    evaluations = {}
    for name, model in config.models.items():
        versions = {
            label: resolved[(name, label)] for label in model.versions if (name, label) in resolved
        }
        evaluation = resolve_evaluation(name, model, versions, digests, env_digests)
        if evaluation is not None:
            evaluations[name] = evaluation
    return evaluations
