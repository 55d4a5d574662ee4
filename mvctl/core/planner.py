"""build_plan: the declared config against the recorded state, as a Plan value.

Pure: everything is passed in (config, recorded state, file and environment digests, options);
nothing is read, written, trained or timed here, so planning twice gives the same plan.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import TypeVar

from mvctl.core.bundle_source import BundleSource
from mvctl.core.diff import diff_values
from mvctl.core.drift import missing_artifact_drift, refresh_plan
from mvctl.core.evaluation_plan import EvaluationPlanner
from mvctl.core.lineage import InputChange, RecordComparison, kept_as_recorded
from mvctl.core.plan import (
    EVERYTHING,
    Action,
    ArchiveVersion,
    Conflict,
    CreateModel,
    Drift,
    LineageNote,
    MoveAlias,
    Plan,
    PlanOptions,
    RecordPolicy,
    RegisterArtifact,
    ReleasePin,
    RemoveAlias,
    ReplaceServedVersion,
    RestoreVersion,
    StepPlan,
    TrainVersion,
    UpdateMetadata,
)
from mvctl.core.policy import declared_policy, plan_denials, policy_changes
from mvctl.core.recorded import (
    DEP_FILES,
    VERSION_ARCHIVED,
    VERSION_FAILED,
    RecordedState,
    RecordedVersion,
)
from mvctl.core.resolve import ResolvedStep, ResolvedVersion, resolve_model
from mvctl.errors import NotFoundError, UsageError, did_you_mean, listing
from mvctl.spec.models import Config, ModelSpec

__all__ = ["PlanOptions", "build_plan", "restored_step_keys"]

TRAINING_ACTIONS = (TrainVersion, RegisterArtifact)
_Row = TypeVar("_Row")


def build_plan(
    config: Config,
    recorded: RecordedState,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str] | None = None,
    options: PlanOptions = EVERYTHING,
    missing_artifacts: Collection[str] = frozenset(),
    missing_step_outputs: Collection[str] = frozenset(),
    bundles: Mapping[tuple[str, str], BundleSource] | None = None,
    declared: Mapping[str, Mapping[str, ResolvedVersion]] | None = None,
) -> Plan:
    """What apply must do to make the recorded state match the config.

    ``bundles``: what the checks of each `bundle:` version found, by (model, label).
    ``declared``: each model's versions as ``resolve_model`` gives them from the same
    ``digests``, when the caller has them already (apply needs them too); else resolved here.
    ``missing_artifacts``: digests among ``drift.artifacts_to_check`` that the store lacks.
    ``missing_step_outputs``: cache keys among ``restored_step_keys`` of this plan whose
    recorded outputs are not all in the store; those steps run again (apply could not restore
    them), so the plan says so.
    A target naming no declared or recorded model or version raises (``check_targets``).
    Whatever the policy in force forbids ``options.actor`` is a ``not_allowed`` conflict.
    """
    check_targets(config, recorded, options.targets)
    if options.refresh_only:
        refresh = refresh_plan(config, recorded, missing_artifacts, options)
        return Plan(
            project=refresh.project,
            serial=refresh.serial,
            actions=refresh.actions,
            conflicts=tuple(plan_denials(refresh.actions, recorded, options.actor)),
            drift=refresh.drift,
            options=refresh.options,
        )
    planner = _Planner(recorded, digests, env_digests or {}, options, missing_step_outputs)
    planner.bundles = bundles or {}
    planner.declared = declared or {}
    planner.plan_policy(config)
    for name in sorted(config.models):
        planner.plan_model(name, config.models[name])
    for name in sorted(recorded.models - set(config.models)):
        planner.plan_removed_model(name)
    actions, conflicts = _apply_targets(planner.actions, planner.conflicts, options.targets)
    conflicts += plan_denials(actions, recorded, options.actor)
    return Plan(
        project=config.project,
        serial=recorded.serial,
        actions=tuple(actions),
        conflicts=tuple(conflicts),
        drift=(*planner.drift, *missing_artifact_drift(config, recorded, missing_artifacts)),
        options=options,
        lineage=_lineage_notes(planner.kept, options.targets),
    )


def restored_step_keys(plan: Plan, recorded: RecordedState) -> frozenset[str]:
    """Cache keys of the steps ``plan`` restores from recorded runs: the only step outputs
    whose presence in the store the plan depends on (what the I/O edge checks, no more)."""
    return frozenset(
        step.cache_key
        for action in plan.actions
        if isinstance(action, TrainVersion)
        for step in action.steps
        if step.status == "cached" and step.cache_key in recorded.step_keys
    )


class _Planner:
    def __init__(
        self,
        recorded: RecordedState,
        digests: Mapping[str, str],
        env_digests: Mapping[str, str],
        options: PlanOptions,
        missing_step_outputs: Collection[str],
    ) -> None:
        self.recorded = recorded
        self.digests = digests
        self.env_digests = env_digests
        self.options = options
        self.missing_step_outputs = missing_step_outputs
        self.bundles: Mapping[tuple[str, str], BundleSource] = {}
        self.declared: Mapping[str, Mapping[str, ResolvedVersion]] = {}
        self.actions: list[Action] = []
        self.conflicts: list[Conflict] = []
        self.drift: list[Drift] = []
        self.kept: dict[str, dict[str, tuple[InputChange, ...]]] = {}
        """Model -> label -> what changed in the inputs of a version kept as recorded."""
        self.produced_in_plan: dict[str, str] = {}
        """Step cache key -> the version in this plan that will produce it."""
        self.versions_by_model = _group_by_model(recorded.versions)
        self.aliases_by_model = _group_by_model(recorded.aliases)
        """Recorded rows per model, sorted once: a per-model scan of the whole state is quadratic."""

    def plan_policy(self, config: Config) -> None:
        """Record the config's policy when it differs from the one in force."""
        declared = declared_policy(config)
        recorded = self.recorded.policy
        changes = policy_changes(recorded.value if recorded else None, declared)
        if changes:
            self.actions.append(RecordPolicy(declared, tuple(changes)))

    def plan_model(self, name: str, model: ModelSpec) -> None:
        if name not in self.recorded.models:
            self.actions.append(CreateModel(name))
        known = self.declared.get(name)
        resolved = (
            dict(known)
            if known is not None
            else resolve_model(name, model, self.digests, self.env_digests)
        )
        first = len(self.actions)
        live = set()
        for label, version in resolved.items():
            planned = self._plan_version(
                version,
                self.recorded.versions.get((name, label)),
                model.versions[label].on_conflict,
            )
            if planned is not None:
                resolved[label] = planned
                live.add(label)
        trained = {
            a.label: a.spec_hash for a in self.actions[first:] if isinstance(a, TRAINING_ACTIONS)
        }
        self.evaluations = EvaluationPlanner(
            name, model, resolved, live, set(trained), self.recorded, self.digests, self.env_digests
        )
        aliases_at = len(self.actions)
        self._plan_replacements(name, trained)
        self._plan_aliases(name, model, live)
        # Evaluations go before the alias moves whose gates need their numbers.
        self.actions[aliases_at:aliases_at] = self.evaluations.evaluate_actions()
        self._archive_undeclared(name, set(model.versions))

    def plan_removed_model(self, name: str) -> None:
        for alias, recorded in self.aliases_by_model.get(name, ()):
            self._remove_alias(name, alias, recorded.version, "the model is gone from the config")
        self._archive_undeclared(name, set())

    def _plan_version(
        self, version: ResolvedVersion, recorded: RecordedVersion | None, on_conflict: str
    ) -> ResolvedVersion | None:
        """Plan one declared version; returns it as the plan leaves it (a trained version whose
        recipe is unchanged: as recorded), or None when it cannot be used (failed, in conflict).

        A failed version has no history to keep: any change, to its recipe or to a file it
        reads (the usual fix), trains it again."""
        target = f"{version.model}@{version.label}"
        if recorded is None:
            self._train(version, "new version")
            return version
        if recorded.status == VERSION_FAILED:
            if recorded.spec_hash != version.spec_hash:
                self._train(version, "retry: the spec changed since the failed attempt")
                return version
            if self.options.retry_failed:
                self._train(version, "retry of the failed attempt (--retry-failed)")
                return version
            self.drift.append(
                Drift(
                    "failed_not_retried",
                    target,
                    f"{target} failed in apply {recorded.apply_id} and its spec is unchanged, so it "
                    "is not retried; fix the cause and change the spec, or plan with --retry-failed",
                )
            )
            return None
        comparison = kept_as_recorded(version, recorded)
        if comparison is not None and comparison.as_recorded is None:
            if (self.options.on_conflict or on_conflict) == "overwrite":
                self._train(version, "overwrite: the recipe changed", replaces=recorded.spec_hash)
                return version
            self.conflicts.append(_version_changed(version, recorded, comparison))
            return None
        if comparison is not None and comparison.as_recorded is not None:
            version = comparison.as_recorded
            changed = comparison.input_changes
            self.kept.setdefault(version.model, {})[version.label] = changed
        if recorded.status == VERSION_ARCHIVED:
            self.actions.append(RestoreVersion(version.model, version.label))
        if recorded.metadata_hash != version.metadata_hash:
            before = json.loads(recorded.spec_json).get("metadata", {})
            self.actions.append(
                UpdateMetadata(
                    version.model,
                    version.label,
                    version.metadata_hash,
                    diff_values(before, version.metadata()),
                )
            )
        return version

    def _train(self, version: ResolvedVersion, reason: str, replaces: str | None = None) -> None:
        if version.bundle_path is not None and version.artifact_digest is not None:
            self.actions.append(
                RegisterArtifact(
                    version.model,
                    version.label,
                    version.bundle_path,
                    version.artifact_digest,
                    version.spec_hash,
                    version.metadata_hash,
                    replaces,
                    self.bundles[(version.model, version.label)],
                )
            )
            return
        if version.artifact_path is not None and version.artifact_digest is not None:
            self.actions.append(
                RegisterArtifact(
                    version.model,
                    version.label,
                    version.artifact_path,
                    version.artifact_digest,
                    version.spec_hash,
                    version.metadata_hash,
                    replaces,
                )
            )
            return
        steps = tuple(self._plan_step(version, step) for step in version.steps)
        self.actions.append(
            TrainVersion(
                version.model,
                version.label,
                version.spec_hash,
                version.metadata_hash,
                reason,
                steps,
                replaces,
            )
        )

    def _plan_step(self, version: ResolvedVersion, step: ResolvedStep) -> StepPlan:
        recorded = step.key in self.recorded.step_keys
        if recorded and step.key not in self.missing_step_outputs:
            return StepPlan(step.name, step.key, "cached", "outputs in the store")
        producer = self.produced_in_plan.get(step.key)
        if producer is not None:
            return StepPlan(
                step.name, step.key, "cached", f"trained earlier in this plan by {producer}"
            )
        self.produced_in_plan[step.key] = f"{version.model}@{version.label}"
        if recorded:
            return StepPlan(step.name, step.key, "run", "cached outputs missing from the store")
        return StepPlan(step.name, step.key, "run", self._why_run(version.model, step))

    def _why_run(self, model: str, step: ResolvedStep) -> str:
        last = self.recorded.last_step_inputs.get((model, step.name))
        if last is None:
            return "no earlier run of this step"
        before = {k: v for k, v in json.loads(last).items() if k != DEP_FILES}
        changes = diff_values(before, dict(step.definition))
        if not changes:
            return "outputs missing from the store"
        return "; ".join(_describe_input_change(change.path) for change in changes[:3]) + (
            f" (+{len(changes) - 3} more)" if len(changes) > 3 else ""
        )

    def _plan_replacements(self, model_name: str, trained: Mapping[str, str]) -> None:
        """A version retrained under its label while aliases point at it changes what they
        serve: a promotion, gated like a move, before the new record may serve."""
        serving: dict[str, list[str]] = {}
        for alias, recorded_alias in self.aliases_by_model.get(model_name, ()):
            if recorded_alias.version in trained:
                serving.setdefault(recorded_alias.version, []).append(alias)
        for label, aliases in sorted(serving.items()):
            recorded = self.recorded.versions.get((model_name, label))
            if recorded is None:
                continue
            self.actions.append(
                ReplaceServedVersion(
                    model_name,
                    label,
                    recorded.spec_hash,
                    trained[label],
                    tuple(aliases),
                    self.evaluations.gates_for(label),
                )
            )

    def _plan_aliases(self, model_name: str, model: ModelSpec, live: set[str]) -> None:
        for alias, label in sorted(model.aliases.items()):
            key = (model_name, alias)
            current = self.recorded.aliases.get(key)
            current_version = current.version if current is not None else None
            self._note_outside_change(model_name, alias, current_version, label)
            pin = self.recorded.pins.get(key)
            target = f"{model_name}:{alias}"
            if pin is not None and pin.version != label:
                self.conflicts.append(
                    Conflict(
                        "pinned",
                        target,
                        f"{alias} pinned to {pin.version} by revert {pin.revert_apply_id}; "
                        f"the config asks for {label}",
                        resolutions=(
                            f'make the config agree: set aliases.{alias} to "{pin.version}"',
                            "release the pin to let the config win: mvctl revert --release",
                        ),
                    )
                )
                continue
            if pin is not None:
                self.actions.append(ReleasePin(model_name, alias, pin.version))
            if label not in live:
                self._alias_to_unusable(model_name, model, alias, label)
                continue
            if current_version != label:
                gates = self.evaluations.gates_for(label)
                self.actions.append(MoveAlias(model_name, alias, current_version, label, gates))
        for alias, recorded in self.aliases_by_model.get(model_name, ()):
            if alias not in model.aliases:
                self._remove_alias(
                    model_name, alias, recorded.version, "it is gone from the config"
                )

    def _alias_to_unusable(self, model_name: str, model: ModelSpec, alias: str, label: str) -> None:
        """An alias whose version is undeclared or failed; one in conflict waits on its own conflict."""
        target = f"{model_name}:{alias}"
        if label not in model.versions:
            self.conflicts.append(
                Conflict(
                    "alias_unknown_version",
                    target,
                    f"{alias} names version {label}, which {model_name} does not declare",
                    resolutions=(f'declare version "{label}" or point {alias} at a declared one',),
                )
            )
            return
        recorded = self.recorded.versions.get((model_name, label))
        if recorded is not None and recorded.status == VERSION_FAILED:
            self.conflicts.append(
                Conflict(
                    "alias_failed_version",
                    target,
                    f"{alias} names {model_name}@{label}, which failed in apply {recorded.apply_id}",
                    resolutions=(
                        f"see why: mvctl show {model_name}@{label}",
                        "fix the cause and change the version's spec, or retry with --retry-failed",
                        f"or point {alias} at another version",
                    ),
                )
            )

    def _remove_alias(self, model: str, alias: str, current: str, why: str) -> None:
        pin = self.recorded.pins.get((model, alias))
        if pin is not None:
            self.conflicts.append(
                Conflict(
                    "pinned",
                    f"{model}:{alias}",
                    f"{alias} pinned to {pin.version} by revert {pin.revert_apply_id}; {why}",
                    resolutions=("release the pin: mvctl revert --release",),
                )
            )
            return
        self.actions.append(RemoveAlias(model, alias, current))

    def _archive_undeclared(self, model_name: str, declared: set[str]) -> None:
        for label, recorded in self.versions_by_model.get(model_name, ()):
            if label not in declared and recorded.status != VERSION_ARCHIVED:
                self.actions.append(ArchiveVersion(model_name, label))

    def _note_outside_change(
        self, model: str, alias: str, current: str | None, declared: str
    ) -> None:
        logged = self.recorded.logged_aliases.get((model, alias))
        if logged == current:
            return
        consequence = (
            "the config agrees" if current == declared else f"the plan moves it to {declared}"
        )
        self.drift.append(
            Drift(
                "alias_changed_outside",
                f"{model}:{alias}",
                f"{alias} points at {current or 'nothing'} but mvctl last set it to "
                f"{logged or 'nothing'}; it was changed outside mvctl ({consequence})",
            )
        )


def _version_changed(
    version: ResolvedVersion, recorded: RecordedVersion, comparison: RecordComparison
) -> Conflict:
    """A trained version whose declared recipe changed. The ways out are the three answers
    to a conflict — merge (freeze), overwrite, abort — plus bumping the label; freeze first,
    as it fits the common intent: change the pipeline for future versions."""
    target = f"{version.model}@{version.label}"
    freeze = (
        f"keep history, change the pipeline for new versions: mvctl freeze {target} writes "
        "the recorded recipe into its block",
    )
    return Conflict(
        "version_changed",
        target,
        f"{target} is already trained (apply {recorded.apply_id}) and its declared recipe changed",
        changes=comparison.recipe_changes,
        resolutions=(
            *(freeze if comparison.freezable else ()),
            "bump the version: declare the change under a new label and point aliases at it",
            "retrain under the same label: set `on_conflict: overwrite` on the version or run with "
            "--on-conflict overwrite (the old record stays in the change log)",
            "abort: restore the recorded recipe in the config",
        ),
    )


def _lineage_notes(
    kept: Mapping[str, Mapping[str, tuple[InputChange, ...]]], targets: tuple[str, ...]
) -> tuple[LineageNote, ...]:
    """One note per model: its versions kept as recorded although their inputs changed."""
    wanted = [t.partition("@") for t in targets]
    notes = []
    for model in sorted(kept):
        labels = [
            label
            for label, changes in kept[model].items()
            if changes
            and (not wanted or any(m == model and v in ("", label) for m, _, v in wanted))
        ]
        if labels:
            inputs = sorted({c.shown for label in labels for c in kept[model][label]})
            notes.append(LineageNote(model, tuple(labels), tuple(inputs)))
    return tuple(notes)


def _group_by_model(rows: Mapping[tuple[str, str], _Row]) -> dict[str, list[tuple[str, _Row]]]:
    """{model: [(name, row), ...]} in name order, from a mapping keyed by (model, name)."""
    grouped: dict[str, list[tuple[str, _Row]]] = {}
    for (model, name), row in sorted(rows.items()):
        grouped.setdefault(model, []).append((name, row))
    return grouped


def _describe_input_change(path: str) -> str:
    parts = path.split(".", 2)
    if parts[0] == "params":
        return f"param {'.'.join(parts[1:])} changed"
    if parts[:2] == ["deps", "files"]:
        return f"dep {parts[2]} changed" if len(parts) > 2 else "file deps changed"
    if parts[:2] == ["deps", "steps"]:
        return f"upstream step {parts[2]} changed" if len(parts) > 2 else "upstream steps changed"
    if parts[0] in ("run", "uses", "with"):
        return "command changed" if parts[0] == "run" else "trainer settings changed"
    return f"{path} changed"


def check_targets(config: Config, recorded: RecordedState, targets: tuple[str, ...]) -> None:
    """Every target names a model, and version, that is declared or recorded: a mistyped
    target would otherwise plan nothing and pass CI as "No changes"."""
    models = set(config.models) | recorded.models
    for target in targets:
        model, at, label = target.partition("@")
        if not model or (at and not label):
            raise UsageError(
                f"--target '{target}' is not MODEL or MODEL@VERSION",
                fix="For example: --target churn or --target churn@1.0.0.",
            )
        if model not in models:
            raise NotFoundError(
                f"--target '{target}': model '{model}' is neither declared nor recorded",
                fix=did_you_mean(model, sorted(models), f"Models: {listing(sorted(models))}."),
            )
        if not at:
            continue
        spec = config.models.get(model)
        labels = set(spec.versions if spec is not None else ())
        labels.update(version for name, version in recorded.versions if name == model)
        if label not in labels:
            raise NotFoundError(
                f"--target '{target}': version '{label}' of {model} is neither declared "
                "nor recorded",
                fix=did_you_mean(
                    label, sorted(labels), f"Versions of {model}: {listing(sorted(labels))}."
                ),
            )


def _apply_targets(
    actions: list[Action], conflicts: list[Conflict], targets: tuple[str, ...]
) -> tuple[list[Action], list[Conflict]]:
    if not targets:
        return actions, conflicts
    wanted = [t.partition("@") for t in targets]

    def selected(model: str, label: str | None) -> bool:
        return any(m == model and (not v or label is None or v == label) for m, _, v in wanted)

    kept_actions = [
        a
        for a in actions
        if selected(a.model, _action_label(a))
        or any(selected(a.model, label) for label in getattr(a, "baseline_for", ()))
    ]
    kept_conflicts = [c for c in conflicts if selected(*_split_target(c.target))]
    return kept_actions, kept_conflicts


def _action_label(action: Action) -> str | None:
    if isinstance(action, MoveAlias):
        return action.to_version
    if isinstance(action, RemoveAlias):
        return action.from_version
    if isinstance(action, ReleasePin):
        return action.version
    label: str | None = getattr(action, "label", None)
    return label


def _split_target(target: str) -> tuple[str, str | None]:
    if "@" in target:
        model, _, label = target.partition("@")
        return model, label
    return target.partition(":")[0], None
