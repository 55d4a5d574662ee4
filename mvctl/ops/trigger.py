"""mvctl trigger: evaluate the triggers at a moment; write what fires into the config.

Each trigger that fires adds a version block (a copy of its ``from`` version's, with its
params on top) and, if asked, an alias move, to the file that declares the model: a round-trip
edit, every other byte kept. The firing is recorded in the state in the same transaction as
that write, under a unique (model, trigger, occasion), so a trigger fires at most once per
cron period, per change of its watched files or per set of monitor samples its ``when``
condition held on, however many runs race. Nothing is trained: the edit is a proposal,
reviewed like any config change; with ``apply`` it is applied right after through the normal
apply path (gates, health checks, on_failure, the policy in force).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from mvctl import clock
from mvctl.actor import current_actor
from mvctl.apply.session import ApplyEvents
from mvctl.core.monitoring import decide_condition
from mvctl.core.planner import PlanOptions
from mvctl.core.recorded import VERSION_FAILED, Firing
from mvctl.core.triggers import (
    Occasion,
    Proposal,
    Skip,
    change_occasion,
    evaluate_trigger,
    final_key,
    last_firing,
    samples_occasion,
    schedule_occasion,
    trigger_kind,
)
from mvctl.errors import NotFoundError, UsageError, did_you_mean, listing
from mvctl.ops.alerts import Alerts
from mvctl.ops.apply import ApplyOptions, apply
from mvctl.ops.baselines import promoted_baseline
from mvctl.results.trigger import FileEdit, TriggerOutcome, TriggerResult
from mvctl.spec.models import ModelSpec, Trigger
from mvctl.spec.positions import FILE
from mvctl.spec.schedules import local_date, period_start
from mvctl.spec.writeback import CopyValue, Edit, SetValue, edit_text, quoted, replace_file
from mvctl.spec.writeback import unified_diff as diff_of
from mvctl.state import StateReader, StateWriter
from mvctl.workspace import Workspace, load_workspace


@dataclass(frozen=True)
class TriggerOptions:
    now: datetime | None = None
    """The moment to evaluate at (default: the clock)."""
    dry_run: bool = False
    apply: bool = False
    actor: str | None = None
    selected: tuple[str, ...] = ()
    """MODEL or MODEL:TRIGGER; empty: every trigger."""
    lock_timeout_s: float = 0.0
    """--apply: how long to wait for the state lock."""


class _FileChanged(Exception):
    """The config file is not what this run read: another run edited it meanwhile."""


@dataclass
class _ConfigFile:
    """One file that declares models: its text as read, then with this run's edits."""

    path: Path
    shown: str
    original: str
    text: str


def run_triggers(
    workspace: Workspace, options: TriggerOptions, *, events: ApplyEvents
) -> TriggerResult:
    if options.dry_run and options.apply:
        raise UsageError(
            "--dry-run writes nothing, so there is nothing for --apply to apply",
            fix="Use one of them.",
        )
    actor = current_actor(options.actor)
    now = (options.now or clock.now()).astimezone(UTC)
    chosen = _selected(workspace, options.selected)
    if not chosen:
        return TriggerResult(clock.stamp(now), options.dry_run, (), ())
    digests, env_digests, _ = workspace.digests()
    if options.dry_run:
        reader = workspace.open_state(create=False)
        try:
            decisions, files = _propose(workspace, reader, chosen, now, digests, env_digests)
        finally:
            reader.close()
        outcomes = [_outcome(workspace, chosen, decision) for decision in decisions]
        return TriggerResult(clock.stamp(now), True, tuple(outcomes), _diffs(files))
    writer = workspace.open_state(create=True)
    try:
        decisions, files = _propose(workspace, writer, chosen, now, digests, env_digests)
        outcomes = _record(workspace, writer, chosen, decisions, files, now, actor)
    finally:
        writer.close()
    result = TriggerResult(clock.stamp(now), False, tuple(outcomes), _diffs(files))
    if not options.apply or not result.fired:
        return result
    applied = apply(
        load_workspace(workspace.loaded.files[0]),
        ApplyOptions(
            auto_approve=True,
            plan_options=PlanOptions(actor=actor),
            lock_timeout_s=options.lock_timeout_s,
        ),
        confirm=lambda plan: True,
        events=events,
    )
    return replace(result, applied=applied)


Chosen = Mapping[tuple[str, str], Trigger]


def _propose(
    workspace: Workspace,
    state: StateReader,
    chosen: Chosen,
    now: datetime,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> tuple[list[Proposal | Skip], dict[Path, _ConfigFile]]:
    """Each trigger's decision, and the files with every proposal's edit made in memory (a
    file mvctl cannot edit faithfully fails here, before anything is recorded)."""
    firings = state.trigger_firings()
    decisions = _decide(workspace, state, chosen, firings, now, digests, env_digests)
    files = _files(workspace, decisions)
    for decision in decisions:
        if isinstance(decision, Proposal):
            config = files[_declaring(workspace, decision.model)]
            config.text = edit_text(config.text, _edits(workspace, decision), file=config.shown)
    return decisions, files


def _selected(workspace: Workspace, selected: Sequence[str]) -> dict[tuple[str, str], Trigger]:
    """The triggers to evaluate, in config order: every one, or those MODEL[:TRIGGER] names."""
    models = workspace.config.models
    every = {
        (name, trigger.name): trigger
        for name in sorted(models)
        for trigger in models[name].triggers
    }
    if not selected:
        return every
    wanted: set[tuple[str, str]] = set()
    for item in selected:
        model, _, name = item.partition(":")
        if model not in models:
            raise NotFoundError(
                f"no model '{model}' in the config",
                fix=did_you_mean(model, models, f"Models: {listing(sorted(models))}."),
            )
        names = [trigger.name for trigger in models[model].triggers]
        if name and name not in names:
            raise NotFoundError(
                f"model '{model}' has no trigger '{name}'",
                fix=did_you_mean(name, names, f"Its triggers: {listing(names)}."),
            )
        wanted |= {(model, each) for each in names if not name or each == name}
    return {key: trigger for key, trigger in every.items() if key in wanted}


def _decide(
    workspace: Workspace,
    state: StateReader,
    chosen: Chosen,
    firings: Sequence[Firing],
    now: datetime,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
    forced: Occasion | None = None,
) -> list[Proposal | Skip]:
    """Each chosen trigger's decision; a label one trigger takes is taken for the next.
    ``forced``: the occasion to fire on, whatever the trigger's own (a broken rule's)."""
    recorded = state.snapshot()
    decisions: list[Proposal | Skip] = []
    by_model: dict[str, list[Trigger]] = {}
    for (model_name, _), trigger in chosen.items():
        by_model.setdefault(model_name, []).append(trigger)
    for model_name, triggers in by_model.items():
        model = workspace.config.models[model_name]
        taken = set(model.versions) | {
            label for (name, label) in recorded.versions if name == model_name
        }
        keys = _final_keys(state, model_name, model, digests, env_digests)
        for trigger in triggers:
            occasion: Occasion | Skip = (
                forced
                if forced is not None
                else _occasion(state, model_name, model, trigger, firings, now, digests)
            )
            decision = (
                occasion
                if isinstance(occasion, Skip)
                else evaluate_trigger(
                    model_name, model, trigger, occasion, firings, taken, keys, digests, env_digests
                )
            )
            if isinstance(decision, Proposal):
                taken.add(decision.label)
            decisions.append(decision)
    return decisions


def _occasion(
    state: StateReader,
    model: str,
    spec: ModelSpec,
    trigger: Trigger,
    firings: Sequence[Firing],
    now: datetime,
    digests: Mapping[str, str],
) -> Occasion | Skip:
    if trigger.when is not None:
        return _condition_occasion(state, model, spec, trigger, local_date(now, None))
    if trigger.schedule is not None:
        start = period_start(trigger.schedule, trigger.timezone, now)
        return schedule_occasion(clock.stamp(start), local_date(start, trigger.timezone))
    watched = {path: digests[path] for path in trigger.on_change or ()}
    return change_occasion(
        watched, last_firing(firings, model, trigger.name), local_date(now, None)
    )


def _condition_occasion(
    state: StateReader, model: str, spec: ModelSpec, trigger: Trigger, date: str
) -> Occasion | Skip:
    """The samples a ``when`` condition held on in each of the last ``monitoring.over``, or
    why it does not fire: the samples are those of the version ``from`` serves, through the
    alias ``from`` names (or through any alias, for a version label)."""
    condition = trigger.when or ""
    over = spec.monitoring.over if spec.monitoring is not None else 1
    if trigger.from_ in spec.versions:
        version: str | None = trigger.from_
        samples = [s for s in state.monitor_samples(model) if s.version == version]
        where = f"{model}@{version}"
    else:
        pointed = state.snapshot().aliases.get((model, trigger.from_))
        version = pointed.version if pointed is not None else None
        samples = state.monitor_samples(model, trigger.from_)
        where = f"{model}:{trigger.from_} serving {version}"
    if version is None:
        return Skip(model, trigger.name, f"{model}:{trigger.from_} serves no version yet")
    promoted = promoted_baseline(state, samples[-1])[0] if samples else {}
    verdict = decide_condition(condition, over, samples, version, promoted)
    values = ", ".join("n/a" if v is None else f"{v:.4g}" for v in verdict.values)
    ids = ", ".join(f"#{i}" for i in verdict.samples)
    if verdict.status == "broken":
        return samples_occasion(
            verdict.samples,
            f"'{condition}' held in each of the last {over} sample(s) of {where} ({ids}: {values})",
            date,
        )
    why = {
        "unmeasured": f"no sample of {where} measures it yet"
        if not verdict.samples
        else f"the latest sample of {where} does not measure it",
        "inconclusive": f"it cannot be decided on the latest sample of {where} ({verdict.reason})",
        "failing": f"it held in {sum(1 for v in verdict.values if v is not None)} of the last "
        f"{len(verdict.values)} sample(s) of {where}, not yet in each of {over}",
        "pass": f"it does not hold in the latest sample of {where} ({values})",
    }[verdict.status]
    return Skip(model, trigger.name, f"'{condition}' not met: {why}")


def fire_on_degraded(
    workspace: Workspace,
    state: StateWriter,
    model: str,
    trigger_name: str,
    samples: Sequence[int],
    reason: str,
    actor: str,
) -> TriggerOutcome:
    """Fire ``trigger_name`` of ``model`` because a monitoring rule broke on ``samples``:
    the same decision, edit, record and event as `mvctl trigger`, on those samples as the
    occasion, so one set of broken samples fires the trigger once."""
    now = clock.now().astimezone(UTC)
    trigger = next(t for t in workspace.config.models[model].triggers if t.name == trigger_name)
    chosen = {(model, trigger_name): trigger}
    digests, env_digests, _ = workspace.digests()
    occasion = samples_occasion(samples, reason, local_date(now, None))
    decisions = _decide(
        workspace, state, chosen, state.trigger_firings(), now, digests, env_digests, occasion
    )
    files = _files(workspace, decisions)
    (outcome,) = _record(workspace, state, chosen, decisions, files, now, actor)
    return outcome


def _final_keys(
    state: StateReader,
    model_name: str,
    model: ModelSpec,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> dict[str, str]:
    """label -> the cache key of the step that makes the model: as recorded for a version
    trained (or archived), as it would train now for a declared one not trained yet."""
    keys: dict[str, str] = {}
    recorded = set()
    for detail in state.versions_of(model_name):
        if detail.status == VERSION_FAILED:
            continue
        recorded.add(detail.label)
        key = _recorded_final_key(detail.lineage)
        if key is not None:
            keys[detail.label] = key
    for label, version in model.versions.items():
        if label not in recorded and version.artifact is None:
            key = final_key(model_name, model, label, version, digests, env_digests)
            if key is not None:
                keys[label] = key
    return keys


def _recorded_final_key(lineage: Mapping[str, Any]) -> str | None:
    step = (lineage.get("artifact") or {}).get("step")
    info = (lineage.get("steps") or {}).get(step) if isinstance(step, str) else None
    key = info.get("key") if isinstance(info, dict) else None
    return key if isinstance(key, str) else None


def _declaring(workspace: Workspace, model: str) -> Path:
    """The file that declares ``model``: the main config or an included file."""
    return workspace.loaded.files[workspace.loaded.positions.find(("models", model))[FILE]]


def _files(workspace: Workspace, decisions: Sequence[Proposal | Skip]) -> dict[Path, _ConfigFile]:
    files: dict[Path, _ConfigFile] = {}
    for decision in decisions:
        if not isinstance(decision, Proposal):
            continue
        path = _declaring(workspace, decision.model)
        if path not in files:
            index = workspace.loaded.files.index(path)
            text = _read(path)
            files[path] = _ConfigFile(path, workspace.loaded.positions.files[index], text, text)
    return files


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"cannot read {path}: {error}", fix="Check that the file is readable UTF-8."
        ) from error


def _edits(workspace: Workspace, proposal: Proposal) -> list[Edit]:
    trigger = workspace.config.models[proposal.model]
    spec = next(t for t in trigger.triggers if t.name == proposal.trigger)
    base = ("models", proposal.model)
    overrides = tuple(
        SetValue(("params", step, param), value)
        for step, values in spec.params.items()
        for param, value in values.items()
    )
    edits: list[Edit] = [
        CopyValue(
            (*base, "versions", proposal.source),
            (*base, "versions", quoted(proposal.label)),
            overrides,
        )
    ]
    if proposal.promote is not None:
        edits.append(SetValue((*base, "aliases", proposal.promote), quoted(proposal.label)))
    return edits


def _record(
    workspace: Workspace,
    state: StateWriter,
    chosen: Chosen,
    decisions: Sequence[Proposal | Skip],
    files: Mapping[Path, _ConfigFile],
    now: datetime,
    actor: str,
) -> list[TriggerOutcome]:
    """Record each firing and write its edit, one transaction each; a firing another run
    recorded first (or whose file another run edited meanwhile) does not fire here."""
    for config in files.values():
        config.text = config.original
    outcomes = []
    alerts = Alerts(workspace.config.notifications, workspace, "trigger", actor, state.serial)
    try:
        for decision in decisions:
            if isinstance(decision, Skip):
                outcomes.append(_outcome(workspace, chosen, decision))
                continue
            config = files[_declaring(workspace, decision.model)]
            edited = edit_text(config.text, _edits(workspace, decision), file=config.shown)
            trigger = chosen[(decision.model, decision.trigger)]
            firing = Firing(
                0,
                decision.model,
                decision.trigger,
                trigger_kind(trigger),
                decision.occasion.key,
                decision.occasion.period,
                decision.occasion.digests,
                decision.label,
                decision.source,
                config.shown,
                clock.stamp(now),
                actor,
            )
            try:
                recorded = state.record_firing(firing, partial(_write, config, edited))
            except _FileChanged:
                outcome = _outcome(
                    workspace,
                    chosen,
                    Skip(
                        decision.model,
                        decision.trigger,
                        f"{config.shown} changed while mvctl trigger ran; run it again",
                    ),
                )
                outcomes.append(outcome)
                continue
            if not recorded:
                skip = Skip(
                    decision.model,
                    decision.trigger,
                    "another run fired it for this occasion meanwhile",
                    decision.occasion,
                )
                outcomes.append(_outcome(workspace, chosen, skip))
                continue
            config.text = edited
            outcome = _outcome(workspace, chosen, decision)
            outcomes.append(outcome)
            alerts.trigger_fired(_event(outcome))
    finally:
        alerts.close()
    return outcomes


def _write(config: _ConfigFile, edited: str) -> None:
    """Write ``edited`` over the file, provided it is still what this run expects."""
    if _read(config.path) != config.text:
        raise _FileChanged(config.shown)
    if edited != config.text:
        replace_file(config.path, edited)


def _outcome(workspace: Workspace, chosen: Chosen, decision: Proposal | Skip) -> TriggerOutcome:
    trigger = chosen[(decision.model, decision.trigger)]
    occasion = decision.occasion
    outcome = TriggerOutcome(
        decision.model,
        decision.trigger,
        trigger_kind(trigger),
        fired=False,
        reason=decision.reason,
        period=occasion.period if occasion else None,
        digests=dict(occasion.digests) if occasion else {},
        samples=occasion.samples if occasion else (),
    )
    if isinstance(decision, Skip):
        return outcome
    path = _declaring(workspace, decision.model)
    return replace(
        outcome,
        fired=True,
        label=decision.label,
        source=decision.source,
        promote=decision.promote,
        file=workspace.loaded.positions.files[workspace.loaded.files.index(path)],
    )


def _event(outcome: TriggerOutcome) -> dict[str, Any]:
    return {
        "model": outcome.model,
        "trigger": outcome.trigger,
        "label": outcome.label,
        "from": outcome.source,
        "promote": outcome.promote,
        "file": outcome.file,
        "reason": outcome.reason,
        "period": outcome.period,
        "digests": dict(outcome.digests),
        "samples": list(outcome.samples),
    }


def _diffs(files: Mapping[Path, _ConfigFile]) -> tuple[FileEdit, ...]:
    return tuple(
        FileEdit(config.shown, diff_of(config.original, config.text, config.shown))
        for config in files.values()
        if config.text != config.original
    )
