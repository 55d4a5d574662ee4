"""Build recorded states for planner cases without a database: 'apply' a config on paper."""

from __future__ import annotations

from typing import Any

from mvctl.core.evaluation import resolve_evaluation
from mvctl.core.hashing import canonical_json
from mvctl.core.plan import Action, Conflict
from mvctl.core.policy import EMPTY_POLICY, declared_policy
from mvctl.core.recorded import (
    RecordedAlias,
    RecordedEvaluation,
    RecordedPin,
    RecordedPolicy,
    RecordedState,
    RecordedVersion,
)
from mvctl.core.resolve import resolve_model
from mvctl.spec.models import Config


def config_of(data: dict[str, Any]) -> Config:
    return Config.model_validate({"project": "cases", **data})


def recorded_from(
    config: Config,
    digests: dict[str, str],
    serial: int = 1,
    *,
    failed: tuple[str, ...] = (),
    pins: dict[str, str] | None = None,
    outside: dict[str, str] | None = None,
    archived: tuple[str, ...] = (),
    evaluations: list[dict[str, Any]] | None = None,
    policy: dict[str, Any] | None = None,
) -> RecordedState:
    """The state a successful apply of ``config`` would leave, with optional twists.

    The config's policy is recorded as that apply would record it (none while it is empty);
    ``policy`` records another one instead: {admins, protected_aliases, owners}, each optional.

    ``evaluations`` are stored results: {version: "m@1.0.0", metrics: {...}} on every dataset
    the config's evaluation gives that version, with optional ``status`` ('error') and
    ``settings: stale`` (made under other evaluation settings)."""
    versions: dict[tuple[str, str], RecordedVersion] = {}
    step_keys: set[str] = set()
    last_inputs: dict[tuple[str, str], str] = {}
    for name, model in config.models.items():
        for label, resolved in resolve_model(name, model, digests, {}).items():
            ref = f"{name}@{label}"
            status = "failed" if ref in failed else ("archived" if ref in archived else "trained")
            versions[(name, label)] = RecordedVersion(
                name,
                label,
                status,
                resolved.spec_hash,
                resolved.metadata_hash,
                None if status == "failed" else f"sha256:{'0' * 64}",
                canonical_json(resolved.record_spec()),
                1,
                "tester",
                "2026-01-01T00:00:00Z",
            )
            if status != "failed":
                for step in resolved.steps:
                    step_keys.add(step.key)
                    last_inputs[(name, step.name)] = canonical_json(dict(step.definition))
    aliases = {
        (name, alias): RecordedAlias(name, alias, label, 1)
        for name, model in config.models.items()
        for alias, label in model.aliases.items()
    }
    logged = {key: alias.version for key, alias in aliases.items()}
    for ref, label in (outside or {}).items():
        model, _, alias = ref.partition(":")
        aliases[(model, alias)] = RecordedAlias(model, alias, label, None)
    recorded_pins = {}
    for ref, label in (pins or {}).items():
        model, _, alias = ref.partition(":")
        recorded_pins[(model, alias)] = RecordedPin(model, alias, label, 7)
        aliases[(model, alias)] = RecordedAlias(model, alias, label, 7)
        logged[(model, alias)] = label
    value = declared_policy(config) if policy is None else {**EMPTY_POLICY, **policy}
    return RecordedState(
        policy=None if value == EMPTY_POLICY else RecordedPolicy(value, 1),
        evaluations=_evaluations(config, digests, evaluations or []),
        serial=serial,
        models=frozenset(config.models),
        versions=versions,
        aliases=aliases,
        pins=recorded_pins,
        step_keys=frozenset(step_keys),
        last_step_inputs=last_inputs,
        logged_aliases=logged,
    )


def describe_action(action: Action) -> str:
    """A one-line, human-checkable description used as the expected value in cases."""
    kind = action.kind
    if kind == "create_model":
        return f"create_model {action.model}"
    if kind == "train_version":
        steps = " ".join(f"{s.status}:{s.name}" for s in action.steps)  # type: ignore[union-attr]
        return f"train_version {action.model}@{action.label} {steps}"  # type: ignore[union-attr]
    if kind == "move_alias":
        return (
            f"move_alias {action.model}:{action.alias} {action.from_version}->{action.to_version}"  # type: ignore[union-attr]
        )
    if kind == "evaluate_version":
        names = ",".join(ref.name for ref in action.datasets)  # type: ignore[union-attr]
        return f"evaluate_version {action.model}@{action.label} {names}"  # type: ignore[union-attr]
    if kind == "replace_served_version":
        serving = ",".join(action.aliases)  # type: ignore[union-attr]
        return f"replace_served_version {action.model}@{action.label} serves {serving}"  # type: ignore[union-attr]
    if kind == "remove_alias":
        return f"remove_alias {action.model}:{action.alias}"  # type: ignore[union-attr]
    if kind == "release_pin":
        return f"release_pin {action.model}:{action.alias}"  # type: ignore[union-attr]
    if kind == "record_policy":
        return "record_policy " + " ".join(c.path for c in action.changes)  # type: ignore[union-attr]
    if kind == "refresh_alias":
        return f"refresh_alias {action.model}:{action.alias}"  # type: ignore[union-attr]
    return f"{kind} {action.model}@{action.label}"  # type: ignore[union-attr]


def describe_conflict(conflict: Conflict) -> str:
    fields = " ".join(f"{c.path}={c.before}->{c.after}" for c in conflict.changes)
    return f"{conflict.kind} {conflict.target}" + (f" {fields}" if fields else "")


def _evaluations(
    config: Config, digests: dict[str, str], stored: list[dict[str, Any]]
) -> dict[tuple[str, str, str, str], RecordedEvaluation]:
    found: dict[tuple[str, str, str, str], RecordedEvaluation] = {}
    for item in stored:
        model, _, label = item["version"].partition("@")
        spec = config.models[model]
        evaluation = resolve_evaluation(
            model, spec, resolve_model(model, spec, digests, {}), digests, {}
        )
        assert evaluation is not None, f"{model} declares no evaluation"
        hash_ = "stale" if item.get("settings") == "stale" else evaluation.evaluation_hash
        for dataset in evaluation.datasets[label]:
            metrics = item.get("metrics", {})
            found[(model, label, dataset.digest, hash_)] = RecordedEvaluation(
                model,
                label,
                dataset.digest,
                hash_,
                dataset.name,
                item.get("status", "ok"),
                canonical_json({k: v for k, v in metrics.items() if v == v}),
                canonical_json({k: "nan" for k, v in metrics.items() if v != v}),
                item.get("message"),
                "2026-01-01T00:00:00Z",
                1,
            )
    return found
