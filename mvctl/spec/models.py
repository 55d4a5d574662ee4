"""The configuration as frozen pydantic models: what `mvctl.yaml` may say.

The loader (``mvctl.spec.loader``) turns YAML into plain data with positions; these models
check its shape. Unknown keys are rejected and instances are frozen, so a loaded spec is a
value the planner can read without fear of it changing underneath.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=128)]
ParamValue = Any


class SpecModel(BaseModel):
    """Base of every spec model: unknown keys rejected, instances frozen, strict scalars.

    Strict, because YAML hands over numbers and booleans where text was meant (``task: yes``,
    ``production: 1.10``); coercing them would hide exactly the mistakes we must report.
    ``populate_by_name`` lets Python code write ``with_=``; the loader validates YAML with
    ``by_name=False``, so a configuration must say ``with`` and ``from``.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, strict=True, str_strip_whitespace=False
    )


class Step(SpecModel):
    """One training step: a command (`run:`) or a built-in trainer (`uses:`)."""

    name: Name = Field(description="Unique within the model's pipeline; other steps name it in `deps`.")
    run: str | None = Field(None, description="Shell command run in the project root.")
    uses: Literal["sklearn"] | None = Field(None, description="A built-in trainer.")
    with_: dict[str, ParamValue] = Field(
        default_factory=dict, alias="with", description="Settings of the built-in trainer."
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Parameters handed to the step; versions override them."
    )
    deps: list[str] = Field(
        default_factory=list, description="Files, folders, globs, or names of upstream steps."
    )
    outputs: list[str] = Field(
        default_factory=list, description="Files the step writes into its output folder."
    )
    env: list[str] = Field(
        default_factory=list,
        description="Names of environment variables the step reads; their values enter the cache key.",
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> Step:
        if (self.run is None) == (self.uses is None):
            raise ValueError("a step needs exactly one of 'run' (a command) or 'uses' (a built-in trainer)")
        return self


class Evaluation(SpecModel):
    """How versions are scored and which gates an alias move must pass."""

    dataset: str | None = Field(None, description="Held-out data file the versions are scored on.")
    label: str | None = Field(None, description="Name of the column holding the true labels.")
    metrics: list[str] = Field(
        default_factory=list, description="Metrics to compute, e.g. accuracy, f1, roc_auc."
    )
    gates: list[str] = Field(
        default_factory=list,
        description="Conditions an alias move must pass, e.g. 'f1 >= 0.80' or "
        "'roc_auc >= baseline(production) - 0.01'.",
    )
    when_no_baseline: Literal["pass", "fail"] = Field(
        "pass", description="How a gate on baseline(alias) counts when the alias points nowhere yet."
    )


class Retrain(SpecModel):
    """What a fired trigger trains and which alias it proposes to move."""

    from_: str = Field(alias="from", description="A version label or an alias to start from.")
    promote: Name | None = Field(None, description="The alias to move to the new version.")


class Trigger(SpecModel):
    """A rule that proposes a new version: a schedule, a metric rule or a data change."""

    name: Name = Field(description="Unique within the model.")
    schedule: str | None = Field(None, description="Cron expression, e.g. '0 3 * * *'.")
    when: str | None = Field(None, description="Metric rule, e.g. 'f1 < 0.75'.")
    data_changed: list[str] = Field(default_factory=list, description="Paths whose change fires it.")
    retrain: Retrain

    @model_validator(mode="after")
    def _one_condition(self) -> Trigger:
        conditions = [self.schedule is not None, self.when is not None, bool(self.data_changed)]
        if sum(conditions) != 1:
            raise ValueError("a trigger needs exactly one of 'schedule', 'when' or 'data_changed'")
        return self


class VersionSpec(SpecModel):
    """One declared version: parameter overrides per step, or a ready-made artifact file."""

    params: dict[Name, dict[str, ParamValue]] = Field(
        default_factory=dict, description="Per-step parameter overrides: {step: {param: value}}."
    )
    artifact: str | None = Field(
        None, description="A model file produced elsewhere (skops or safetensors) to register."
    )
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    on_conflict: Literal["abort", "overwrite"] = Field(
        "abort",
        description="When the trained version's spec changed: abort (bump the label instead) "
        "or overwrite (retrain under the same label).",
    )

    @model_validator(mode="after")
    def _artifact_or_params(self) -> VersionSpec:
        if self.artifact is not None and self.params:
            raise ValueError("a version with 'artifact' is not trained, so it takes no 'params'")
        return self


class ModelSpec(SpecModel):
    """A named line of work with its pipeline, versions and aliases."""

    description: str | None = None
    owners: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    task: Literal["binary-classification", "multiclass-classification", "regression", "other"] = (
        "other"
    )
    pipeline: list[Step] = Field(
        default_factory=list, description="The training steps, in order (deps make a DAG)."
    )
    evaluation: Evaluation | None = None
    versions: dict[Label, VersionSpec] = Field(
        default_factory=dict,
        description="Declared versions by label. Quote labels: YAML reads 1.10 as the number 1.1.",
    )
    aliases: dict[Name, Label] = Field(
        default_factory=dict, description="Movable names pointing at versions: {production: '1.0.0'}."
    )
    triggers: list[Trigger] = Field(default_factory=list)
    health_check: str | None = Field(
        None, description="Command run after a promotion; its failure rolls the promotion back."
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Extra types skops may load for this model, beyond scikit-learn's and numpy's.",
    )


class Notification(SpecModel):
    """Where events are sent: a webhook URL (JSON POST) or a command (event JSON on stdin)."""

    webhook: str | None = Field(None, description="URL that receives each event as a JSON POST.")
    command: str | None = Field(None, description="Command run with each event as JSON on stdin.")
    events: list[
        Literal[
            "apply_started",
            "apply_succeeded",
            "apply_failed",
            "gate_failed",
            "rollback",
            "conflict",
            "trigger_fired",
            "degraded",
        ]
    ] = Field(default_factory=list, description="Events to send.")

    @model_validator(mode="after")
    def _has_target(self) -> Notification:
        if self.webhook is None and self.command is None:
            raise ValueError("a notification needs a 'webhook' or a 'command' to send events to")
        return self


class ProtectedAlias(SpecModel):
    """Who may move a protected alias."""

    actors: list[str] = Field(default_factory=list, description="Actors allowed to move it.")


class Policy(SpecModel):
    """Rules an apply must respect."""

    protected_aliases: dict[Name, ProtectedAlias] = Field(
        default_factory=dict, description="Aliases only the listed actors may move."
    )


class Config(SpecModel):
    """The whole configuration after `include:` files are merged in."""

    project: Name
    state: str | None = Field(None, description="State database URL; env MVCTL_STATE overrides.")
    store: str | None = Field(None, description="Blob store folder or URL; env MVCTL_STORE overrides.")
    include: list[str] = Field(
        default_factory=list, description="Glob patterns of more files holding `models:`."
    )
    models: dict[Name, ModelSpec] = Field(default_factory=dict, description="Models by name.")
    notifications: list[Notification] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)


class IncludedFile(SpecModel):
    """An included file may only add models."""

    models: dict[Name, ModelSpec] = Field(default_factory=dict)


def is_step_reference(dep: str, step_names: set[str]) -> bool:
    """A dep names an upstream step when it equals a step's name and is not a path."""
    return dep in step_names and not re.search(r"[/*?\[]", dep)
