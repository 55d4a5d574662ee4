"""The shapes of mvctl's `--json` output, as types: one TypedDict per document.

The functions that build each document (``status_json``, ``apply_json``, …) return these
types, so mypy checks them against the shape, and ``mvctl.render.schemas`` turns the same
types into the JSON Schemas in ``schemas/``; a test validates real command output against
those. A field's ``Annotated`` text is its description in the schema. Every document starts
with ``format_version``: it changes when a field is removed or changes meaning, never when
one is added.

This module does not use postponed annotations: TypedDict reads ``NotRequired`` from the
evaluated annotations.
"""

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from mvctl.core.comparison import Verdict
from mvctl.core.recorded import TargetKind
from mvctl.core.reproduction import MetricStatus
from mvctl.exit_codes import ExitCode
from mvctl.results.apply import ApplyStatus
from mvctl.results.check import FindingKind
from mvctl.results.reproduce import InputSource, StepStatus
from mvctl.results.revert import RevertStatus

FormatVersion = Literal[1]
"""``json_format.FORMAT_VERSION``, as a type."""


class ProblemJson(TypedDict):
    """One problem in the configuration, where it is and what to do about it."""

    message: Annotated[str, "What is wrong, where, and the fix."]
    file: str | None
    line: int | None
    column: int | None
    field: Annotated[str | None, "The key at fault, as a dotted path."]


class ErrorJson(TypedDict):
    """What any command prints on stdout under `--json` when it fails."""

    format_version: FormatVersion
    error: Annotated[str, "What went wrong and where."]
    fix: Annotated[str | None, "How to fix it, with the exact command where there is one."]
    exit_code: Annotated[ExitCode, "The exit code the command ends with (see the README)."]
    kind: Annotated[
        str,
        "The error's class: SpecError, ConflictError, UsageError, …; InternalError for a bug "
        "in mvctl, Interrupted for SIGINT or SIGTERM.",
    ]
    problems: NotRequired[Annotated[list[ProblemJson], "Each problem found in the configuration."]]
    log: NotRequired[Annotated[str, "InternalError: the file holding the traceback."]]


class ValidateJson(TypedDict):
    """`mvctl validate --json`: the config is valid (an invalid one is an error document)."""

    format_version: FormatVersion
    valid: Literal[True]
    models: int
    versions: int
    files: Annotated[list[str], "The files read: the config and what it includes."]


OutcomeStatus = Literal["done", "failed", "skipped", "rolled_back"]


class OutcomeJson(TypedDict):
    """What apply did with one action of the plan."""

    action: Annotated[
        dict[str, Any],
        {
            "description": "The action, as in plan.schema.json.",
            "required": ["kind"],
            "properties": {"kind": {"type": "string"}},
        },
    ]
    status: OutcomeStatus
    message: str
    refused: Annotated[
        bool,
        "A promotion a gate held back, or a health check or on_failure rollback put back.",
    ]
    steps: NotRequired[
        Annotated[dict[str, str], "A trained version's steps: run or cached, as done."]
    ]


class ApplyJson(TypedDict):
    """`mvctl apply --json`."""

    format_version: FormatVersion
    status: ApplyStatus
    apply_id: Annotated[int | None, "None when nothing was applied."]
    plan_hash: str
    outcomes: list[OutcomeJson]


class RestorationJson(TypedDict):
    target: Annotated[str, "What is restored: 'alias churn:production', 'version churn@1.1.0'."]
    kind: TargetKind
    current: Annotated[Any, "Its recorded value now (null: absent)."]
    restored: Annotated[Any, "The value revert puts back (null: removed)."]


class PinJson(TypedDict):
    model: str
    alias: str
    version: str


class RevertJson(TypedDict):
    """`mvctl revert --json`."""

    format_version: FormatVersion
    status: RevertStatus
    apply_id: Annotated[int | None, "The revert's own apply id, once done."]
    description: str
    restorations: list[RestorationJson]
    pins: Annotated[list[PinJson], "Aliases pinned where the config asks otherwise."]
    forced: Annotated[list[str], "What --force went past."]


class LockJson(TypedDict):
    lock_id: str
    actor: str
    operation: str
    pid: int
    host: str
    acquired_at: str
    process: str | None
    heartbeat_at: str | None
    lease_s: float | None
    session: int | None
    dead: Annotated[str | None, "Why its holder is provably dead; null while it may be alive."]


class AliasStatusJson(TypedDict):
    alias: str
    version: str
    pinned: Annotated[str | None, "The revert that pinned it, in words."]


class VersionStatusJson(TypedDict):
    label: str
    status: str
    created_at: str


class ModelStatusJson(TypedDict):
    name: str
    declared: Annotated[bool, "Whether the config still declares it."]
    aliases: list[AliasStatusJson]
    versions: list[VersionStatusJson]


class StatusJson(TypedDict):
    """`mvctl status --json`."""

    format_version: FormatVersion
    project: str
    state: Annotated[str, "The state URL, password hidden."]
    serial: int
    lock: LockJson | None
    models: list[ModelStatusJson]


class ChangeJson(TypedDict):
    seq: int
    target: str
    kind: TargetKind
    before: Any
    after: Any
    actor: str | None


class HistoryApplyJson(TypedDict):
    id: int
    kind: Annotated[
        Literal["apply", "revert", "rollback"],
        "rollback: an automatic rollback by a broken monitoring rule (actor 'monitor').",
    ]
    actor: str
    started_at: str
    finished_at: str | None
    plan_hash: str
    status: str
    message: str | None
    serial_before: int
    serial_after: int | None
    reverts_apply_id: int | None
    change_count: int
    changes: Annotated[list[ChangeJson], "Its changes (with MODEL given: that model's only)."]


class HistoryJson(TypedDict):
    """`mvctl history --json`: a page of applies and reverts, newest first (`--limit`, 20 by
    default)."""

    format_version: FormatVersion
    applies: list[HistoryApplyJson]
    next_before: Annotated[
        int | None,
        "The apply id to pass as `--before` for the next, older page; null when no older "
        "apply matches.",
    ]


class EvaluationJson(TypedDict):
    id: int
    model: str
    label: str
    spec_hash: str
    dataset_digest: str
    evaluation_hash: str
    dataset: str
    status: str
    metrics: Annotated[dict[str, Any], "Metric -> value; null where not a finite number."]
    metric_status: dict[str, str]
    details: Annotated[
        dict[str, Any],
        "rows, roc, speed, warnings, and scoring: {average, positive} the metrics were "
        "computed with (positive is null outside binary tasks).",
    ]
    message: str | None
    evaluator_version: str
    created_at: str
    apply_id: int | None


class InputDigestJson(TypedDict):
    step: str
    kind: Literal["file", "env"]
    name: Annotated[str, "The dep's path as declared, or the variable's name."]
    recorded: Annotated[str, "Its digest when the version was trained ('unset': no value)."]
    current: Annotated[str | None, "Its digest now; null: the file is gone."]


class ShowJson(TypedDict):
    """`mvctl show --json`: one version's record."""

    format_version: FormatVersion
    model: str
    label: str
    status: str
    spec_hash: str
    metadata_hash: str
    artifact_digest: str | None
    spec: dict[str, Any]
    params: dict[str, Any]
    lineage: dict[str, Any]
    failure: dict[str, Any] | None
    description: str | None
    tags: dict[str, Any]
    created_by: str
    created_at: str
    apply_id: int | None
    aliases: list[str]
    evaluations: Annotated[list[EvaluationJson], "The latest result per dataset."]
    inputs: Annotated[
        list[InputDigestJson],
        "Each file and environment variable its steps read: the digest it was trained with "
        "beside the current one.",
    ]


class PairJson(TypedDict):
    a: str
    b: str


class StatusPairJson(TypedDict):
    a: dict[str, str]
    b: dict[str, str]


class MetricRowJson(TypedDict):
    metric: str
    label: Annotated[
        str, "The metric as shown, with its averaging or positive class: 'f1 (macro)'."
    ]
    a: float | None
    b: float | None
    delta: Annotated[float | None, "B minus A."]
    relative_delta: Annotated[float | None, "The delta over A's value."]
    verdict: Annotated[Verdict, "Whether B is better, by the metric's direction."]


class DatasetComparisonJson(TypedDict):
    dataset: str
    digest: str
    sources: Annotated[PairJson, "'stored' or 'computed' (computed results are not stored)."]
    metric_status: StatusPairJson
    metrics: list[MetricRowJson]


class CompareJson(TypedDict):
    """`mvctl compare --json`."""

    format_version: FormatVersion
    a: str
    b: str
    datasets: list[DatasetComparisonJson]


class StepLogJson(TypedDict):
    step: str
    how: Annotated[str, "ran, cached (the log of the run that made its outputs), failed, …"]
    digest: Annotated[str | None, "The log's blob in the store; null: no log."]


class LogsJson(TypedDict):
    """`mvctl logs --json`: where each step's log is; `mvctl logs` without it prints them."""

    format_version: FormatVersion
    reference: str
    model: str
    label: str
    steps: list[StepLogJson]


class FindingJson(TypedDict):
    severity: Annotated[Literal["error", "warning"], "Errors make the command exit 1."]
    kind: FindingKind
    obj: Annotated[str, "What the finding is about: a blob, an alias, an apply, the lock."]
    message: str
    fix: Annotated[str, "What to do about it, with the exact command."]


class CheckJson(TypedDict):
    """`mvctl state check --json`."""

    format_version: FormatVersion
    ok: Annotated[bool, "No finding is an error."]
    state: Annotated[str, "The state URL, password hidden."]
    serial: int
    counts: Annotated[dict[str, int], "What was looked at: rows, changes, applies, blobs."]
    findings: list[FindingJson]


class GcJson(TypedDict):
    """`mvctl store gc --json`."""

    format_version: FormatVersion
    store: str
    unreferenced: Annotated[list[str], "Digests nothing recorded names, sorted."]
    referenced: Annotated[int, "Blobs kept."]
    deleted: Annotated[bool, "Whether the unreferenced blobs were removed (--delete)."]


class InitJson(TypedDict):
    """`mvctl init --json`."""

    format_version: FormatVersion
    folder: Annotated[str, "As given on the command line."]
    project: str
    created: Annotated[list[str], "Files written, relative to the folder."]


TriggerOutcomeJson = TypedDict(
    "TriggerOutcomeJson",
    {
        "model": str,
        "trigger": str,
        "kind": Literal["schedule", "on_change", "when"],
        "fired": bool,
        "reason": Annotated[str, "Why it fired (the period, the files changed), or why not."],
        "label": Annotated[str | None, "The version it wrote; null when it did not fire."],
        "from": Annotated[str | None, "The version whose block the new one copies."],
        "promote": Annotated[str | None, "The alias it points at the new version."],
        "file": Annotated[str | None, "The file it wrote (or, with --dry-run, would write)."],
        "period": Annotated[str | None, "A schedule's period start (UTC)."],
        "samples": Annotated[
            list[int], "The monitor samples it fired (or would fire) on; [] for other occasions."
        ],
        "digests": Annotated[dict[str, str], "on_change: the watched files' digests now."],
    },
)
TriggerOutcomeJson.__doc__ = "One trigger: whether it fired, and why or why not."


class FileEditJson(TypedDict):
    file: str
    diff: Annotated[str, "The edit as a unified diff."]


class TriggerJson(TypedDict):
    """`mvctl trigger --json`: what fired, what did not and why, the config edits."""

    format_version: FormatVersion
    now: Annotated[str, "The moment the triggers were evaluated at (UTC)."]
    dry_run: Annotated[bool, "Nothing was written or recorded."]
    triggers: list[TriggerOutcomeJson]
    edits: Annotated[list[FileEditJson], "The files written (with --dry-run: to write)."]
    apply: Annotated[ApplyJson | None, "--apply, once something fired: the apply after."]


class ReportJson(TypedDict):
    """`mvctl report --json`: the page written, and what it covers."""

    format_version: FormatVersion
    output: Annotated[str, "The page's path, as given on the command line."]
    bytes: int
    project: str
    serial: int
    models: list[str]
    applies: Annotated[int, "Applies listed in its history."]


class FieldChangeJson(TypedDict):
    path: Annotated[str, "The recipe field, as a dotted path (steps.STEP.params.NAME, ...)."]
    before: Annotated[Any, "Its recorded value (null: absent)."]
    after: Annotated[Any, "What the config declared before freeze (null: absent)."]


class FrozenVersionJson(TypedDict):
    model: str
    label: str
    file: Annotated[str, "The config file that declares the model (and was edited)."]
    pinned: Annotated[
        Literal["params", "pipeline"],
        "params: recorded values written as the version's overrides; pipeline: the recorded "
        "steps written as the version's own pipeline.",
    ]
    changes: Annotated[list[FieldChangeJson], "The recipe changes the pins undo."]


class FreezeSkipJson(TypedDict):
    target: Annotated[str, "MODEL@VERSION"]
    reason: str


class FreezeEditJson(TypedDict):
    file: str
    diff: Annotated[str, "The edit as a unified diff."]


class FreezeJson(TypedDict):
    """`mvctl freeze --json`: the versions pinned to their recorded recipe, and the edits."""

    format_version: FormatVersion
    check: Annotated[bool, "--check: nothing was written (exit 1 when something would be)."]
    written: Annotated[bool, "Whether the config files were edited."]
    versions: list[FrozenVersionJson]
    skipped: Annotated[list[FreezeSkipJson], "Versions in conflict that freeze cannot pin."]
    edits: list[FreezeEditJson]


class ExportJson(TypedDict):
    """`mvctl export --json`: the version packed, and where."""

    format_version: FormatVersion
    model: str
    label: str
    format: Annotated[
        Literal["bundle", "mlflow"],
        "bundle: an mvctl bundle file; mlflow: an MLflow model directory (--format mlflow).",
    ]
    output: Annotated[str, "The bundle file or MLflow folder written, as given."]
    files: Annotated[int, "Files written beside the manifest (bundle) or in the folder (mlflow)."]
    signer: Annotated[
        str | None,
        "The signing key's fingerprint (ed25519: and the start of the sha256 of its raw "
        "public key); null: unsigned.",
    ]


class ImportJson(TypedDict):
    """`mvctl import --json`: the bundle verified, and the version block declared for it."""

    format_version: FormatVersion
    model: str
    label: Annotated[str, "The label it is declared under (--as, else the exported one)."]
    origin: Annotated[str, "PROJECT/MODEL@LABEL the bundle was exported from."]
    bundle: Annotated[str, "The bundle's path in the project, as the version block names it."]
    signer: Annotated[str | None, "The verified signer's fingerprint; null: unsigned."]
    config_file: Annotated[str, "The config file that declares the version."]
    changed: Annotated[bool, "False when the config already declared this bundle."]
    model_added: Annotated[bool, "Whether the model itself was added to the config."]
    diff: Annotated[str, "The edit as a unified diff; empty when nothing changed."]


class ReproducedDigestJson(TypedDict):
    recorded: Annotated[str | None, "The digest the record holds."]
    reproduced: Annotated[str | None, "The re-run's digest; null: the re-run did not make it."]
    matches: bool


class ReproducedOutputJson(ReproducedDigestJson):
    name: str


class ReproducedStepJson(TypedDict):
    step: str
    key: Annotated[str, "The step's cache key, as recorded."]
    status: Annotated[
        StepStatus,
        "match: every output has its recorded digest; differs; failed: it exited non-zero or "
        "left out an output; not_run: a step it depends on did not run to the end.",
    ]
    message: Annotated[str, "Why it failed or did not run; empty otherwise."]
    log_tail: Annotated[str, "The end of a failed re-run's log."]
    outputs: list[ReproducedOutputJson]


class ReproducedMetricJson(TypedDict):
    metric: str
    recorded: float | None
    reproduced: float | None
    recorded_status: Annotated[str | None, "'nan', 'inf' or '-inf' where the value is null."]
    reproduced_status: Annotated[str | None, "'nan', 'inf' or '-inf' where the value is null."]
    delta: Annotated[float | None, "Re-run minus recorded."]
    status: Annotated[
        MetricStatus, "timing: latency and QPS are measured on this machine now, never compared."
    ]


class ReproducedDatasetJson(TypedDict):
    dataset: str
    digest: Annotated[str, "The dataset digest the recorded metrics were computed on."]
    skipped: Annotated[
        str | None,
        "Why the re-run's model was not scored on it (its settings or data are not in the config "
        "any more, the re-run did not make it); null when it was.",
    ]
    metrics: list[ReproducedMetricJson]


class RestoredFileJson(TypedDict):
    step: str
    path: Annotated[str, "Relative to the project root, as in the scratch project."]
    digest: str
    source: Annotated[
        InputSource,
        "store: kept when the step ran; working_tree: not kept (snapshot: false, or recorded "
        "before mvctl kept dep files), and the working tree's file has the recorded digest.",
    ]
    why: str


class ReproduceJson(TypedDict):
    """`mvctl reproduce --json`: a version re-run from its record, compared with it."""

    format_version: FormatVersion
    model: str
    label: str
    status: Annotated[
        Literal["match", "differs"],
        "match: the model, every step's outputs and every metric compared equal the record "
        "(exit 0); differs: something does not (exit 6).",
    ]
    first_difference: Annotated[
        str | None, "The first step, in run order, whose outputs differ or that failed."
    ]
    artifact: ReproducedDigestJson
    steps: Annotated[list[ReproducedStepJson], "In run order."]
    datasets: Annotated[list[ReproducedDatasetJson], "Each dataset the record holds metrics for."]
    restored: Annotated[list[RestoredFileJson], "Each dep file put into the scratch project."]
    notes: Annotated[list[str], "What the record cannot restore: a changed env variable."]


class RuleVerdictJson(TypedDict):
    rule: str
    status: Annotated[
        Literal["pass", "failing", "broken", "inconclusive", "unmeasured"],
        "broken: failed in each of the last `over` samples; failing: failed in the latest, not "
        "yet `over` times; inconclusive: NaN or missing (never a pass); unmeasured: the latest "
        "batch does not measure it (a metric rule on a batch without labels).",
    ]
    bound: Annotated[float | None, "The value compared with; null: `promoted` has none."]
    values: Annotated[list[float | None], "The value in each sample of the window, oldest first."]
    samples: Annotated[list[int], "The ids of those samples."]
    reason: str


class SampleJson(TypedDict):
    id: int
    model: str
    alias: str
    version: str
    spec_hash: str
    taken_at: str
    recorded_at: str
    actor: str
    dataset: str
    dataset_digest: str
    rows: int
    labelled: bool
    metrics: Annotated[dict[str, float | None], "Metric -> value; null where not finite."]
    metric_status: dict[str, str]
    drift: Annotated[
        dict[str, Any],
        "reference (dataset name), reference_rows, features and prediction (name, kind, test, "
        "statistic, p_value, psi, drifted) and statistics (what drift rules read).",
    ]


class MonitorRollbackJson(TypedDict):
    status: Literal["done", "refused", "impossible"]
    from_version: str
    to_version: str | None
    apply_id: int | None
    message: str


class MonitorJson(TypedDict):
    """`mvctl monitor --json`: the sample recorded and how the monitoring rules stand."""

    format_version: FormatVersion
    status: Literal["ok", "inconclusive", "degraded"]
    sample: SampleJson
    rules: list[RuleVerdictJson]
    on_degraded: str | None
    rollback: MonitorRollbackJson | None
    trigger: Annotated[
        TriggerOutcomeJson | None,
        "`on_degraded: trigger NAME`, once a rule broke: whether the trigger fired, and why.",
    ]


class SampleVerdictsJson(TypedDict):
    sample: SampleJson
    status: Literal["ok", "inconclusive", "degraded"]
    rules: list[RuleVerdictJson]


class MonitorHistoryJson(TypedDict):
    """`mvctl history MODEL:ALIAS --monitor --json`: the alias's samples, oldest first, each
    with the current rules decided on it and the samples before it."""

    format_version: FormatVersion
    model: str
    alias: str
    rules: list[str]
    samples: list[SampleVerdictsJson]
