"""mvctl reproduce MODEL@VERSION: re-run a trained version from its record, then compare.

The record says what to run (each step's definition: command or trainer settings, params) and
on what (the dep files it kept in the store); the working tree is not read for either, except
a dep file the store did not keep, and only while it still has the recorded digest. The steps
run in a temporary folder that is removed afterwards (``apply/reproducing.py``); the state is
opened to read and the store only read, so nothing recorded changes.

The re-run's outputs and model are compared digest by digest with the record, and its model is
scored again on each dataset the record holds metrics for. How a version was scored is not in
its record, only the hash of it: the config's evaluation is used where its settings and data
hash to what the record names, and a dataset whose settings or data moved on is said to be
skipped, never compared against other numbers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mvctl.apply.artifacts import registered_file
from mvctl.apply.datasets import DataProblem, load_dataset
from mvctl.apply.evaluator import score
from mvctl.apply.predictors import Predictor
from mvctl.apply.reproducing import (
    Scratch,
    StepEvents,
    copy_working_file,
    env_notes,
    fetch_output,
    find_inputs,
    open_reproduced_model,
    rerun_steps,
)
from mvctl.core.evaluation import ScoringSettings, dataset_ref, scoring_settings
from mvctl.core.plan import DatasetRef
from mvctl.core.records import VERSION_FAILED, VersionRecord
from mvctl.core.reproduction import RecordedRun, compare_metrics, recorded_run
from mvctl.core.resolve import torch_module
from mvctl.errors import MvctlError, UsageError
from mvctl.ops.lookup import unrecorded_version, version_reference
from mvctl.results.records import EvaluationRecord
from mvctl.results.reproduce import DatasetRescore, ReproduceResult
from mvctl.spec.models import Evaluation, ModelSpec
from mvctl.spec.paths import is_inside
from mvctl.store.blobs import hash_file
from mvctl.workspace import Workspace


def reproduce(workspace: Workspace, reference: str, *, events: StepEvents) -> ReproduceResult:
    model, label = version_reference(workspace, reference)
    target = f"{model}@{label}"
    state = workspace.open_state(create=False)
    try:
        record = state.version_value(model, label)
        if record is None:
            raise unrecorded_version(state, workspace.models, model, label)
        evaluations = [
            result
            for result in state.evaluations_of(model)
            if result.label == label and result.spec_hash == record.spec_hash
        ]
    finally:
        state.close()
    recorded_artifact = _trained_artifact(target, record)
    run = recorded_run(target, record.spec, record.lineage)
    store = workspace.open_store()
    restored = find_inputs(target, run, workspace.root, store)
    with tempfile.TemporaryDirectory(prefix="mvctl-reproduce-", ignore_cleanup_errors=True) as tmp:
        scratch = Scratch(Path(tmp))
        steps, outputs = rerun_steps(
            target,
            run,
            restored,
            workspace.root,
            store,
            scratch,
            {"model": model, "version": label},
            events,
        )
        artifact = outputs.get(run.artifact_step, {}).get(run.artifact_file)
        spec = workspace.config.models.get(model)
        datasets = _Rescorer(workspace.root, target, spec, run, scratch, outputs, artifact).all(
            evaluations
        )
    matches = (
        artifact == recorded_artifact
        and all(step.status == "match" for step in steps)
        and not any(check.status == "differs" for d in datasets for check in d.metrics)
    )
    return ReproduceResult(
        model,
        label,
        "match" if matches else "differs",
        recorded_artifact,
        artifact,
        steps,
        restored,
        datasets,
        env_notes(run),
    )


def _trained_artifact(target: str, record: VersionRecord) -> str:
    """The version's model digest; a version not trained by its pipeline has nothing to re-run."""
    if record.status == VERSION_FAILED or not record.artifact_digest:
        raise UsageError(
            f"{target} failed to train, so there is nothing to reproduce",
            fix=f"See why with `mvctl show {target}`.",
        )
    if registered_file(record.lineage):
        source = record.lineage.get("artifact", {}).get("source")
        made = f" ({source})" if isinstance(source, str) else ""
        raise UsageError(
            f"{target} was registered from a model file made elsewhere{made}: it has no steps "
            "to reproduce",
            fix="Its file is checked against its recorded digest whenever it is loaded, and by "
            "`mvctl state check`.",
        )
    return record.artifact_digest


class _Rescorer:
    """Scores the re-run's model on the datasets the record holds metrics for."""

    def __init__(
        self,
        root: Path,
        target: str,
        spec: ModelSpec | None,
        run: RecordedRun,
        scratch: Scratch,
        outputs: Mapping[str, Mapping[str, str]],
        artifact: str | None,
    ) -> None:
        self.root = root
        self.target = target
        self.spec = spec
        self.run = run
        self.scratch = scratch
        self.outputs = outputs
        self.artifact = artifact
        self._predictor: Predictor | None = None

    def all(self, evaluations: Sequence[EvaluationRecord]) -> tuple[DatasetRescore, ...]:
        latest = {(r.dataset_digest, r.evaluation_hash): r for r in evaluations}
        evaluation = self.spec.evaluation if self.spec is not None else None
        if evaluation is None or self.spec is None:
            why = "the config declares no evaluation for the model now, so how it was scored is unknown"
            return tuple(
                DatasetRescore(r.dataset, r.dataset_digest, (), why) for r in latest.values()
            )
        settings = scoring_settings(self.spec.task, evaluation)
        refs = self._declared(evaluation)
        return tuple(self._one(record, settings, refs) for record in latest.values())

    def _declared(self, evaluation: Evaluation) -> dict[str, DatasetRef]:
        """The config's datasets as this version's record reads them, by digest."""
        keys = {step.name: step.key for step in self.run.steps}
        refs = {}
        for index, dataset in enumerate(evaluation.all_datasets()):
            if dataset.step is not None and dataset.step not in keys:
                continue
            digests = {}
            if dataset.path is not None:
                source = (self.root / dataset.path).resolve()
                if not is_inside(source, self.root.resolve()) or not source.is_file():
                    continue
                digests[dataset.path] = hash_file(source)
            field = f"models.{self.target.split('@')[0]}.evaluation.datasets[{index}]"
            ref = dataset_ref(dataset, field, digests, keys)
            refs[ref.digest] = ref
        return refs

    def _one(
        self, record: EvaluationRecord, settings: ScoringSettings, refs: Mapping[str, DatasetRef]
    ) -> DatasetRescore:
        def skipped(why: str) -> DatasetRescore:
            return DatasetRescore(record.dataset, record.dataset_digest, (), why)

        if record.status != "ok":
            return skipped(f"its recorded evaluation failed: {record.message or 'no message'}")
        if record.evaluation_hash != settings.hash():
            return skipped("it was scored under evaluation settings the config no longer declares")
        ref = refs.get(record.dataset_digest)
        if ref is None:
            return skipped(
                "the config no longer declares its data as it was read (the file changed, or "
                "how it is read)"
            )
        if self.artifact is None:
            return skipped("the re-run made no model")
        if ref.step is not None:
            path = fetch_output(self.scratch, self.outputs, ref.step, ref.file or "")
            missing = f"the re-run of step {ref.step} did not make {ref.file}"
        else:
            path = copy_working_file(self.scratch, self.root, ref.path or "", ref.content)
            missing = f"{ref.path} changed while it was copied"
        if path is None:
            return skipped(missing)
        try:
            predictor = self._model(settings)
            data = load_dataset(ref, path, self.target)
            outcome = score(
                predictor,
                data,
                settings,
                DataProblem(ref, self.target),
                f"the re-run model of {self.target}",
            )
        except MvctlError as error:
            return skipped(f"the re-run model could not be scored: {error.message}")
        checks = compare_metrics(
            settings.metrics,
            record.metrics,
            record.metric_status,
            outcome.metrics,
            outcome.metric_status,
        )
        return DatasetRescore(record.dataset, record.dataset_digest, checks)

    def _model(self, settings: ScoringSettings) -> Predictor:
        if self._predictor is None:
            assert self.artifact is not None and self.spec is not None
            self._predictor = open_reproduced_model(
                self.scratch,
                self.artifact,
                target=self.target,
                trusted_types=tuple(self.spec.trusted_types),
                torch_module=torch_module(self.spec),
                predict=settings.predict,
                scores=settings.scores,
                root=self.root,
            )
        return self._predictor
