"""The configuration as frozen pydantic models: what `mvctl.yaml` may say.

The loader (``mvctl.spec.loader``) turns YAML into plain data with positions; these models
check its shape. Unknown keys are rejected and instances are frozen, so a loaded spec is a
value the planner can read without fear of it changing underneath.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from mvctl.spec.metrics import MetricName
from mvctl.spec.names import MAX_NAME_LENGTH, NAME_PATTERN, actor_name_problem
from mvctl.spec.quantities import parse_duration, parse_size

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=128)]
ParamValue = Any


def _actor_name(name: str) -> str:
    problem = actor_name_problem(name)
    if problem is not None:
        raise ValueError(f"{name!r} is not a valid actor name: {problem}")
    return name


ActorName = Annotated[str, AfterValidator(_actor_name)]
"""Who runs mvctl, as `--actor`, MVCTL_ACTOR or the CI names them; compared exactly."""


def _duration(value: int | float | str) -> int | float | str:
    parse_duration(value)
    return value


def _size(value: int | str) -> int | str:
    parse_size(value)
    return value


Duration = Annotated[int | float | str, AfterValidator(_duration)]
"""Seconds, or a number with a unit: '90s', '10m', '1h30m' (``spec.quantities``)."""
Size = Annotated[int | str, AfterValidator(_size)]
"""Bytes, or a number with a unit: '512MiB', '2GiB' (``spec.quantities``)."""


class SpecModel(BaseModel):
    """Base of every spec model: unknown keys rejected, instances frozen, strict scalars.

    Strict, because YAML hands over numbers and booleans where text was meant (``task: yes``,
    ``production: 1.10``); coercing them would hide exactly the mistakes we must report.
    ``populate_by_name`` lets Python code write ``with_=``; the loader validates YAML with
    ``by_name=False``, so a configuration must say ``with`` and ``from``. ``defer_build``: a
    model's validator is built when first used, so a command builds the one for ``Config``
    (which holds all the others) instead of one per model at import.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        strict=True,
        str_strip_whitespace=False,
        defer_build=True,
    )


class FileDep(SpecModel):
    """A file dep written as a mapping, to say how it is kept: `{path: data/big.csv, snapshot: false}`."""

    path: str = Field(
        description="A file, folder or glob inside the project (relative to its root)."
    )
    snapshot: bool = Field(
        True,
        description="Keep a copy of its files in the store when the step runs, so `mvctl "
        "reproduce` can restore them; false for data too big to keep: the lineage still records "
        "each file's digest, and reproduce uses the working tree's file only while it has that "
        "digest. Changing it neither retrains nor conflicts.",
    )


DEP_TAGS = ("dep-path", "dep-mapping")
"""How pydantic tells the two forms of a dep apart in an error's location; ``spec.messages``
leaves them out, so an error names the dep itself."""


def _dep_form(value: Any) -> str:
    return DEP_TAGS[1] if isinstance(value, dict | FileDep) else DEP_TAGS[0]


Dep = Annotated[
    Annotated[str, Tag(DEP_TAGS[0])] | Annotated[FileDep, Tag(DEP_TAGS[1])],
    Discriminator(_dep_form),
]
"""A dep as written: a path or step name, or a ``FileDep`` mapping."""


def dep_path(dep: str | FileDep) -> str:
    """The path (or step name) a dep names, in either form."""
    return dep if isinstance(dep, str) else dep.path


def dep_place(item: tuple[str | int, ...], dep: str | FileDep) -> tuple[str | int, ...]:
    """Where a dep's path is written, given its list item's place: the item, or its `path`."""
    return item if isinstance(dep, str) else (*item, "path")


class Resources(SpecModel):
    """What one run of a step holds while it runs; apply starts a step only when it fits."""

    cpus: float | None = Field(
        None,
        gt=0,
        le=4096,
        description="Cores the step uses (default: 1; a sklearn step's n_jobs, a torch step's "
        "nproc x threads, or its Ray Train workers x cpus_per_worker). Its OMP/MKL/OpenBLAS "
        "thread counts are set to match.",
    )
    memory: Size | None = Field(
        None,
        description="Memory the step needs, e.g. '2GiB' (default: none reserved); steps run "
        "at once never ask for more than the machine has.",
    )
    gpus: int | None = Field(
        None,
        ge=0,
        le=1024,
        description="GPUs the step uses (default: 0); it sees only its own in CUDA_VISIBLE_DEVICES.",
    )


class Step(SpecModel):
    """One training step: a command (`run:`) or a built-in trainer (`uses:`)."""

    name: Name = Field(
        description="Unique within the model's pipeline; other steps name it in `deps`."
    )
    run: str | None = Field(None, description="Shell command run in the project root.")
    uses: Literal["sklearn", "torch"] | None = Field(
        None,
        description="A built-in trainer: sklearn (an estimator, saved with skops) or torch "
        "(a torch.nn.Module, weights saved with safetensors).",
    )
    with_: dict[str, ParamValue] = Field(
        default_factory=dict, alias="with", description="Settings of the built-in trainer."
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Parameters handed to the step; versions override them."
    )
    deps: list[Dep] = Field(
        default_factory=list,
        description="Files, folders or globs inside the project (relative to its root), or "
        "names of upstream steps; a file dep may be a mapping {path: ..., snapshot: false}.",
    )
    outputs: list[str] = Field(
        default_factory=list,
        description="Files the step writes into its output folder; a name may hold "
        "sub-folders ('reports/metrics.json'), never '..'.",
    )
    env: list[str] = Field(
        default_factory=list,
        description="Names of environment variables the step reads; their values enter the cache key.",
    )
    resources: Resources = Field(
        default_factory=Resources,
        description="Cores, memory and GPUs one run holds; not part of the cache key.",
    )
    timeout: Duration | None = Field(
        None,
        description="Longest a run may take ('90s', '10m', or seconds); its process group is "
        "killed then and the run fails. Not part of the cache key.",
    )
    retries: int = Field(
        0,
        ge=0,
        le=100,
        description="Further runs after a failed one (a timeout included), for transient "
        "failures; the log keeps every run. Not part of the cache key.",
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> Step:
        if (self.run is None) == (self.uses is None):
            raise ValueError(
                "a step needs exactly one of 'run' (a command) or 'uses' (a built-in trainer)"
            )
        return self

    def dep_paths(self) -> list[str]:
        """Each dep's path or step name, in the order written."""
        return [dep_path(dep) for dep in self.deps]

    def unkept_deps(self) -> frozenset[str]:
        """The file deps written with `snapshot: false`: not copied into the store."""
        return frozenset(
            dep.path for dep in self.deps if isinstance(dep, FileDep) and not dep.snapshot
        )


DATA_FORMATS: dict[str, Literal["csv", "parquet", "npz"]] = {
    "csv": "csv",
    "parquet": "parquet",
    "pq": "parquet",
    "npz": "npz",
}


class Dataset(SpecModel):
    """Labelled data a version is scored on: a file in the project, or a pipeline step's output.

    CSV and Parquet files hold one column per feature plus the ``label`` column; NPZ files
    (a file or a step output) hold a features array ``x_array`` and a labels array ``y_array``.
    """

    name: Name | None = Field(None, description="Shown in plans and reports; default: the file.")
    path: str | None = Field(
        None, description="A CSV, Parquet or NPZ file, relative to the project root."
    )
    step: Name | None = Field(None, description="A pipeline step whose output holds the data.")
    file: str | None = Field(None, description="The output file of `step` (an NPZ file).")
    label: str | None = Field(None, description="CSV/Parquet: the column holding the true labels.")
    features: list[str] | None = Field(
        None,
        description="CSV/Parquet: the feature columns, in the model's order (default: all but the label).",
    )
    x_array: str = Field("X", description="NPZ: the array of features.")
    y_array: str = Field(
        "y", description="NPZ: the array of true labels (not 'y:', which YAML 1.1 reads as true)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Dataset:
        if (self.path is None) == (self.step is None):
            raise ValueError(
                "a dataset needs exactly one of 'path' (a file) or 'step' (with 'file')"
            )
        if self.step is not None and self.file is None:
            raise ValueError("a dataset from a step needs 'file', the step output holding the data")
        if self.path is not None and self.file is not None:
            raise ValueError("'file' names a step output; a dataset with 'path' takes no 'file'")
        return self

    def shown_name(self) -> str:
        """How the dataset is shown: its ``name``, else its path, else ``step/file``."""
        if self.name is not None:
            return self.name
        return self.path if self.path is not None else f"{self.step}/{self.file}"

    def data_format(self) -> Literal["csv", "parquet", "npz"] | None:
        """The format its file's suffix says; None for a suffix mvctl does not read."""
        source = (self.path if self.path is not None else self.file) or ""
        suffix = source.rsplit(".", 1)[-1].lower() if "." in source else ""
        return DATA_FORMATS.get(suffix)


class Speed(SpecModel):
    """How serving speed is measured: batch prediction timed after a warm-up."""

    batch_size: int = Field(64, ge=1, description="Rows per timed prediction call.")
    repetitions: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Timed calls (latency percentiles and QPS come from these).",
    )
    warmup: int = Field(3, ge=0, le=100_000, description="Untimed calls made first.")


class Evaluation(SpecModel):
    """How versions are scored and which gates an alias move must pass.

    Changing any of this re-evaluates versions; it never retrains them.
    """

    dataset: str | None = Field(None, description="Shorthand for one data file (see `datasets`).")
    label: str | None = Field(None, description="The label column of `dataset`.")
    datasets: list[Dataset] = Field(
        default_factory=list,
        description="The data versions are scored on; gates hold on every one.",
    )
    metrics: list[MetricName] = Field(
        default_factory=list,
        description="Metrics to compute, e.g. accuracy, f1, roc_auc, latency_p95_ms.",
    )
    average: Literal["binary", "micro", "macro", "weighted"] | None = Field(
        None,
        description="Averaging of precision, recall and f1 (and, for multiclass tasks, of "
        "roc_auc and average_precision over the classes, one-vs-rest): 'binary' (the positive "
        "class only) for binary tasks, 'macro' (unweighted mean over classes) for multiclass "
        "ones unless set. MLflow's default is 'weighted'.",
    )
    pos_label: str | int | None = Field(
        None,
        description="The positive class of a binary task, as it appears in the data "
        "(e.g. churn or 1): what precision, recall, f1, average_precision, brier_score and "
        "the ROC curve score. Unless set, the greater of the two labels.",
    )
    speed: Speed = Field(
        default_factory=Speed, description="Settings of the latency and QPS metrics."
    )
    gates: list[str] = Field(
        default_factory=list,
        description="Conditions an alias move must pass, e.g. 'f1 >= 0.80' or "
        "'roc_auc >= baseline(production) - 0.01'.",
    )
    when_no_baseline: Literal["pass", "fail"] = Field(
        "pass",
        description="How a gate on baseline(alias) counts when the alias points nowhere yet.",
    )
    predict: str | None = Field(
        None,
        description="Command that predicts for models the built-in loaders cannot load: it reads "
        "MVCTL_PREDICT_INPUT (CSV of features) and writes MVCTL_PREDICT_OUTPUT (CSV with a "
        "'prediction' column, and 'score_<class>' columns when `scores` is true).",
    )
    scores: bool = Field(
        False,
        description="The `predict` command also writes class scores (needed by roc_auc, log_loss).",
    )

    @model_validator(mode="after")
    def _one_way_to_name_data(self) -> Evaluation:
        if self.dataset is not None and self.datasets:
            raise ValueError("use 'dataset' (one file) or 'datasets' (a list), not both")
        if self.label is not None and self.dataset is None:
            raise ValueError("'label' belongs with 'dataset'; in 'datasets' each entry has its own")
        return self

    def average_for(self, task: str) -> str:
        """The declared ``average``, else 'binary' for a binary task and 'macro' otherwise."""
        if self.average is not None:
            return self.average
        return "binary" if task == "binary-classification" else "macro"

    def all_datasets(self) -> list[Dataset]:
        """The declared datasets, the ``dataset``/``label`` shorthand included."""
        if self.dataset is not None:
            return [Dataset(path=self.dataset, label=self.label)]
        return list(self.datasets)


class VersionSpec(SpecModel):
    """One declared version: parameter overrides per step, or a ready-made artifact file.

    A version may carry its own ``pipeline``: `mvctl freeze` writes one to pin the recipe a
    trained version was made with while the model's pipeline moves on for new versions.
    """

    params: dict[Name, dict[str, ParamValue]] = Field(
        default_factory=dict, description="Per-step parameter overrides: {step: {param: value}}."
    )
    pipeline: list[Step] | None = Field(
        None,
        min_length=1,
        description="The steps this version is trained by, in place of the model's pipeline "
        "(its `params` still override them). `mvctl freeze` writes it to keep a trained "
        "version's recorded recipe when the model's pipeline changes.",
    )
    artifact: str | None = Field(
        None, description="A model file produced elsewhere (skops or safetensors) to register."
    )
    bundle: str | None = Field(
        None,
        description="A bundle made by `mvctl export` (written here by `mvctl import`): the "
        "version is checked and registered from it, with its metrics and lineage.",
    )
    verify_key: str | None = Field(
        None,
        description="An ed25519 public key (PEM) in the project: the `bundle` must be signed "
        "by it, or it is refused.",
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
        if self.artifact is not None and self.pipeline is not None:
            raise ValueError("a version with 'artifact' is not trained, so it takes no 'pipeline'")
        if self.bundle is not None and (
            self.params or self.artifact is not None or self.pipeline is not None
        ):
            raise ValueError(
                "a version with 'bundle' is imported, so it takes no 'params', 'artifact' "
                "or 'pipeline'"
            )
        if self.verify_key is not None and self.bundle is None:
            raise ValueError(
                "'verify_key' checks the signature of a 'bundle'; this version has none"
            )
        return self

    def steps(self, model: ModelSpec) -> list[Step]:
        """The pipeline this version is trained by: its own, else the model's."""
        return self.pipeline if self.pipeline is not None else model.pipeline


TRIGGER_LABEL_DEFAULT = "{trigger}-{n}"


class Trigger(SpecModel):
    """A rule that proposes a new version: `mvctl trigger` writes the version block (and the
    alias move) into the file that declares the model when it fires, for review like any
    other change. It never trains."""

    name: Name = Field(description="Unique within the model; names the trigger in the output.")
    schedule: str | None = Field(
        None,
        description="A standard 5-field cron expression (or @daily, @hourly, ...): fires at most "
        "once per period, the period starting at the schedule's latest time at or before now.",
    )
    timezone: str | None = Field(
        None, description="IANA time zone the schedule is read in, e.g. Europe/Paris (default UTC)."
    )
    on_change: list[str] | None = Field(
        None,
        min_length=1,
        description="Files, folders or globs inside the project: fires when their digests "
        "differ from the last firing.",
    )
    when: str | None = Field(
        None,
        description="A condition on `mvctl monitor` samples, in the monitoring rule grammar "
        "(e.g. 'f1 < 0.85', 'drift.psi.max >= 0.2'): fires when it holds in each of the model's "
        "`monitoring.over` last samples of the version `from` serves (the alias in `from`, "
        "or the version it names), once per such set of samples. Missing or NaN values never "
        "fire.",
    )
    from_: str = Field(
        alias="from",
        description="The version whose block the new one copies: a declared label, or an alias "
        "of this model (the version the config points it at).",
    )
    label: str = Field(
        TRIGGER_LABEL_DEFAULT,
        description="The new version's label: {from} (the from version), {n} (the next free "
        "number), {date} (YYYYMMDD of the firing), {trigger} (this trigger's name).",
    )
    params: dict[Name, dict[str, ParamValue]] = Field(
        default_factory=dict,
        description="Per-step parameter overrides written on top of the copied block.",
    )
    promote: Name | None = Field(
        None, description="An alias of this model to point at the new version."
    )
    always: bool = Field(
        False,
        description="Fire even when the new version would train exactly as an existing one "
        "does (same inputs): for training that is not deterministic.",
    )

    @model_validator(mode="after")
    def _one_occasion(self) -> Trigger:
        occasions = [self.schedule, self.on_change, self.when]
        if sum(occasion is not None for occasion in occasions) != 1:
            raise ValueError(
                "a trigger needs exactly one of 'schedule' (a cron expression), 'on_change' "
                "(files to watch) or 'when' (a condition on monitor samples)"
            )
        if self.timezone is not None and self.schedule is None:
            raise ValueError("'timezone' is the time zone of 'schedule'; this trigger has none")
        return self


ON_DEGRADED_PATTERN = r"^(alert|rollback|trigger [A-Za-z0-9][A-Za-z0-9_.-]*)$"


def _degraded_action(value: str) -> str:
    if not re.match(ON_DEGRADED_PATTERN, value):
        raise ValueError(
            f"on_degraded {value!r} is none of 'alert', 'rollback' or 'trigger NAME' (NAME: one "
            "of the model's triggers)"
        )
    return value


class Monitoring(SpecModel):
    """What `mvctl monitor` checks on each sample of a live alias, and what a broken rule does."""

    rules: list[str] = Field(
        min_length=1,
        description="Conditions every sample must meet: 'METRIC OP NUMBER', 'METRIC OP promoted "
        "- NUMBER' (promoted: the version's own evaluation result at promotion) or a drift "
        "statistic such as 'drift.psi.max < 0.2' (see `mvctl monitor --help`).",
    )
    over: int = Field(
        1,
        ge=1,
        le=1000,
        description="A rule breaks when it fails in each of the last `over` samples of the "
        "version the alias serves.",
    )
    on_degraded: Annotated[str, AfterValidator(_degraded_action)] = Field(
        "alert",
        description="What a broken rule does besides sending `degraded`: alert (nothing more), "
        "rollback (move the alias back to the version it served before, and pin it) or "
        "'trigger NAME' (fire this model's trigger NAME, as `mvctl trigger` would, once per set "
        "of broken samples).",
        json_schema_extra={"pattern": ON_DEGRADED_PATTERN},
    )

    @property
    def trigger(self) -> str | None:
        """The trigger `on_degraded: trigger NAME` names; None for alert and rollback."""
        action, _, name = self.on_degraded.partition(" ")
        return name if action == "trigger" else None


class ModelSpec(SpecModel):
    """A named line of work with its pipeline, versions and aliases."""

    description: str | None = None
    owners: list[ActorName] = Field(
        default_factory=list,
        description="Actors who may train, overwrite, archive or restore this model's versions "
        "and change its owners; empty: anyone. Enforced as recorded by the last apply that "
        "changed them, never as proposed.",
    )
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
        default_factory=dict,
        description="Movable names pointing at versions: {production: '1.0.0'}.",
    )
    health_check: str | None = Field(
        None, description="Command run after a promotion; its failure rolls the promotion back."
    )
    health_check_timeout: Duration = Field(
        "5m",
        description="Longest the health check may take ('30s', '5m', or seconds); past it, it "
        "is killed and counts as failed.",
    )
    on_failure: Literal["keep", "rollback"] = Field(
        "keep",
        description="When a change of this model fails in an apply: keep what succeeded, or roll "
        "back every alias the apply promoted.",
    )
    triggers: list[Trigger] = Field(
        default_factory=list,
        description="Rules that propose new versions (`mvctl trigger` writes them here).",
    )
    monitoring: Monitoring | None = Field(
        None, description="Rules over `mvctl monitor` samples of this model's aliases."
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Exact class names skops may also build for this model's files, beyond "
        "skops' defaults and scikit-learn's estimators; a registered file's tree or neighbour "
        "index types (sklearn.tree._tree.Tree, ...) must be listed. Never functions, nor names "
        "in builtins, numpy, os, subprocess, importlib, operator, functools or pickle.",
    )

    @model_validator(mode="after")
    def _timeout_needs_a_check(self) -> ModelSpec:
        if self.health_check is None and "health_check_timeout" in self.model_fields_set:
            raise ValueError(
                "'health_check_timeout' limits the health check, and the model has no "
                "'health_check'; add one or remove the timeout"
            )
        return self


class Notification(SpecModel):
    """Where events are sent: a webhook URL (JSON POST) or a command (event JSON on stdin).

    ``${NAME}`` in the URL or a header value is taken from the environment when the event is
    sent, so secrets stay out of the config, the state and every log.
    """

    webhook: str | None = Field(
        None, description="URL that receives each event as a JSON POST; may hold ${ENV_NAME}."
    )
    command: str | None = Field(None, description="Command run with each event as JSON on stdin.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers of a webhook, e.g. {Authorization: 'Bearer ${HOOK_TOKEN}'}.",
    )
    timeout: float = Field(
        5.0, gt=0, le=60, description="Seconds one delivery attempt may take before it is given up."
    )
    retries: int = Field(
        3, ge=0, le=10, description="Further attempts after a failure that surely did not deliver."
    )
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
    ] = Field(default_factory=list, description="Events to send; empty sends every event.")

    @model_validator(mode="after")
    def _has_target(self) -> Notification:
        if self.webhook is None and self.command is None:
            raise ValueError("a notification needs a 'webhook' or a 'command' to send events to")
        return self


class ProtectedAlias(SpecModel):
    """Who may move a protected alias."""

    actors: list[ActorName] = Field(
        default_factory=list,
        description="Actors allowed to move it (apply, revert, refresh-only, overwriting the "
        "version it points at); empty: nobody.",
    )


class Policy(SpecModel):
    """Who may do what; the one in force is the recorded one, never the config being planned."""

    admins: list[ActorName] = Field(
        default_factory=list,
        description="Actors who may change the policy (admins, protected aliases) and any "
        "model's owners; empty: anyone.",
    )
    protected_aliases: dict[Name, ProtectedAlias] = Field(
        default_factory=dict,
        description="Aliases (of every model) only the listed actors may move.",
    )
    automatic_rollback: bool = Field(
        False,
        description="Whether a broken monitoring rule (`on_degraded: rollback`) may move a "
        "protected alias back; the rollback is recorded as done by the actor 'monitor'.",
    )


class Executor(SpecModel):
    """Where apply runs the steps' processes; `apply --executor` overrides it."""

    type: Literal["local", "ray"] = Field(
        "local",
        description="local: processes on this machine; ray: each step a Ray task holding its "
        "resources (needs `pip install 'mvctl[ray]'`).",
    )
    address: str = Field(
        "auto",
        description="The Ray to use: auto (the one running on this machine), local (a Ray "
        "started for the apply), HOST:PORT or ray://HOST:PORT (Ray Client). A Ray beyond this "
        "machine (several nodes, ray://) needs an S3 store, through which its workers fetch "
        "inputs and put outputs; with a local store it is refused.",
    )


class Config(SpecModel):
    """The whole configuration after `include:` files are merged in."""

    project: Name
    state: str | None = Field(None, description="State database URL; env MVCTL_STATE overrides.")
    store: str | None = Field(
        None, description="Blob store folder or URL; env MVCTL_STORE overrides."
    )
    include: list[str] = Field(
        default_factory=list, description="Glob patterns of more files holding `models:`."
    )
    models: dict[Name, ModelSpec] = Field(default_factory=dict, description="Models by name.")
    notifications: list[Notification] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    executor: Executor = Field(default_factory=Executor)


class IncludedFile(SpecModel):
    """An included file may only add models."""

    models: dict[Name, ModelSpec] = Field(default_factory=dict)


def is_step_reference(dep: str, step_names: set[str]) -> bool:
    """A dep names an upstream step when it equals a step's name and is not a path."""
    return dep in step_names and not re.search(r"[/*?\[]", dep)
