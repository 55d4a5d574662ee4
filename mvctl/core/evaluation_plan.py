"""Which versions a plan evaluates, and the gates each alias move will check.

Part of the pure planner (``planner.py`` asks it per model): a version trained in the plan is
evaluated on every dataset; a version already trained is evaluated where no result is stored
for the data and settings it has now (a new dataset, edited settings, or a failed attempt);
and the version a gate's ``baseline(ALIAS)`` holds is evaluated on the candidate's data when it
has no result there, so a gate never compares numbers from different data. Each alias move
gets one ``GateCheck`` per gate and dataset, decided where the numbers are already stored and
'pending' where apply has yet to evaluate.
"""

from __future__ import annotations

from collections.abc import Mapping

from mvctl.core.evaluation import ResolvedEvaluation, resolve_evaluation
from mvctl.core.gates import check_gate
from mvctl.core.plan import DatasetRef, EvaluateVersion, GateCheck
from mvctl.core.recorded import VERSION_FAILED, RecordedEvaluation, RecordedState
from mvctl.core.resolve import ResolvedVersion
from mvctl.spec.models import ModelSpec

PENDING = "known once apply evaluates it"


class EvaluationPlanner:
    """Evaluations and gate checks of one model, for one plan."""

    def __init__(
        self,
        model_name: str,
        model: ModelSpec,
        resolved: Mapping[str, ResolvedVersion],
        live: set[str],
        trained: set[str],
        recorded: RecordedState,
        digests: Mapping[str, str],
        env_digests: Mapping[str, str],
    ) -> None:
        self.model = model_name
        self.recorded = recorded
        self.evaluation: ResolvedEvaluation | None = resolve_evaluation(
            model_name, model, resolved, digests, env_digests
        )
        self._needed: dict[str, dict[str, DatasetRef]] = {}
        self._reasons: dict[str, str] = {}
        self._baseline_for: dict[str, set[str]] = {}
        if self.evaluation is None:
            return
        for label in sorted(live):
            for dataset in self.evaluation.datasets[label]:
                if label in trained:
                    self._need(label, dataset, "trained in this plan")
                    continue
                stored = self._stored(label, dataset)
                if stored is None:
                    self._need(
                        label, dataset, f"no stored result on {dataset.name} with these settings"
                    )
                elif stored.status != "ok":
                    self._need(
                        label,
                        dataset,
                        f"the last evaluation failed: {stored.message or stored.status}",
                    )

    def evaluate_actions(self) -> list[EvaluateVersion]:
        """EvaluateVersion actions, by label; they go before the model's alias moves."""
        if self.evaluation is None:
            return []
        return [
            EvaluateVersion(
                self.model,
                label,
                self.evaluation.evaluation_hash,
                tuple(self._needed[label].values()),
                self._reasons[label],
                tuple(sorted(self._baseline_for.get(label, ()))),
            )
            for label in sorted(self._needed)
        ]

    def gates_for(self, to_version: str) -> tuple[GateCheck, ...]:
        """The gates an alias move to ``to_version`` checks, decided where numbers are known."""
        evaluation = self.evaluation
        if evaluation is None or not evaluation.gates:
            return ()
        checks = []
        for dataset in evaluation.datasets.get(to_version, ()):
            for gate in evaluation.gates:
                baseline_version = None
                if gate.baseline is not None:
                    held = self.recorded.aliases.get((self.model, gate.baseline))
                    baseline_version = held.version if held else None
                    if baseline_version is not None:
                        self._need_baseline(baseline_version, dataset, to_version)
                check = GateCheck(
                    gate.text,
                    dataset.name,
                    dataset.digest,
                    evaluation.evaluation_hash,
                    "fail" if evaluation.when_no_baseline == "fail" else "pass",
                    baseline_version,
                    "pending",
                    reason=PENDING,
                )
                checks.append(self._decide(check, to_version, dataset))
        return tuple(checks)

    def _decide(self, check: GateCheck, to_version: str, dataset: DatasetRef) -> GateCheck:
        """The check decided on stored numbers, or left pending if apply evaluates first."""
        evaluation = self.evaluation
        assert evaluation is not None
        gate = next(g for g in evaluation.gates if g.text == check.gate)
        if self._pending(to_version, dataset):
            return check
        baseline_value = None
        if check.baseline_version is not None:
            if self._pending(check.baseline_version, dataset):
                return check
            stored_baseline = self._stored(check.baseline_version, dataset)
            baseline_value = stored_baseline.metric(gate.metric) if stored_baseline else None
        stored = self._stored(to_version, dataset)
        outcome = check_gate(
            gate,
            stored.metric(gate.metric) if stored else None,
            baseline_version=check.baseline_version,
            baseline_value=baseline_value,
            when_no_baseline=check.when_no_baseline,
        )
        return GateCheck(
            check.gate,
            check.dataset,
            check.dataset_digest,
            check.evaluation_hash,
            check.when_no_baseline,
            check.baseline_version,
            outcome.result,
            outcome.value,
            outcome.bound,
            outcome.reason,
        )

    def _pending(self, label: str, dataset: DatasetRef) -> bool:
        return dataset.digest in self._needed.get(label, {})

    def _stored(self, label: str, dataset: DatasetRef) -> RecordedEvaluation | None:
        assert self.evaluation is not None
        return self.recorded.evaluations.get(
            (self.model, label, dataset.digest, self.evaluation.evaluation_hash)
        )

    def _need(self, label: str, dataset: DatasetRef, reason: str) -> None:
        self._needed.setdefault(label, {})[dataset.digest] = dataset
        self._reasons.setdefault(label, reason)

    def _need_baseline(self, label: str, dataset: DatasetRef, candidate: str) -> None:
        """Make sure the baseline ``label`` has a result on the candidate's ``dataset``."""
        version = self.recorded.versions.get((self.model, label))
        if version is None or version.status == VERSION_FAILED:
            return  # no artifact to score: the gate will say the baseline has no number
        stored = self._stored(label, dataset)
        if label != candidate and (stored is None or stored.status != "ok"):
            self._need(label, dataset, f"baseline of the gates for {self.model}@{candidate}")
        if self._pending(label, dataset) and label != candidate:
            self._baseline_for.setdefault(label, set()).add(candidate)
