"""Whether a trigger fires, and what it proposes: pure, like the planner.

`mvctl trigger` gathers the facts — the schedule's period at ``--now`` or the watched files'
digests, the trigger's recorded firings, the labels taken, the final cache key of every
version the model has — and ``evaluate_trigger`` decides: a ``Proposal`` (the new version's
label, the version its block copies, the alias to move) or a ``Skip`` that says why not.

A trigger fires at most once per occasion: a schedule's period, one change of its watched
files since its last firing, or one set of monitor samples on which its ``when`` condition
held (or, for the trigger `on_degraded: trigger NAME` names, a monitoring rule broke). ``Occasion.key`` names it; the state keeps one firing per key
(a unique constraint), so two runs at once cannot both fire it. A firing that would train
exactly what a version of the model already is (the candidate's final step has that
version's cache key) is skipped unless the trigger says ``always: true``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.recorded import Firing, TriggerKind
from mvctl.core.resolve import resolve_version
from mvctl.spec.label_templates import label_problem, next_number, placeholders, render
from mvctl.spec.models import ModelSpec, Trigger, VersionSpec
from mvctl.spec.trigger_checks import resolve_from


@dataclass(frozen=True, slots=True)
class Occasion:
    """What a trigger would fire on now."""

    key: str
    """Unique per firing of the trigger: the state refuses a second firing with this key."""
    period: str | None = None
    digests: Mapping[str, str] = field(default_factory=dict)
    date: str = ""
    """``{date}`` of the label: YYYYMMDD (the period's, in the schedule's time zone)."""
    samples: tuple[int, ...] = ()
    """The monitor samples a broken rule or a ``when`` condition fired on."""
    reason: str = ""
    """Why a firing on samples fires (schedules and changes say it from the trigger)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A firing: the version block to add, copied from ``source``, and the alias to move."""

    model: str
    trigger: str
    label: str
    source: str
    promote: str | None
    occasion: Occasion
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    """A trigger that does not fire now, and why."""

    model: str
    trigger: str
    reason: str
    occasion: Occasion | None = None


def schedule_occasion(period: str, date: str) -> Occasion:
    return Occasion(f"period {period}", period=period, date=date)


def change_occasion(digests: Mapping[str, str], last: Firing | None, date: str) -> Occasion:
    """The watched files as they are now, as a change since ``last``: two runs that see the
    same change after the same firing name the same occasion."""
    after = f"#{last.id}" if last is not None else "none"
    digest = sha256_hex(canonical_json(dict(digests)))[:16]
    return Occasion(f"change {digest} after {after}", digests=dict(digests), date=date)


def samples_occasion(samples: Collection[int], reason: str, date: str) -> Occasion:
    """A set of monitor samples on which a rule broke (or a ``when`` condition held): the same
    set fires a trigger once, whether `mvctl monitor` or `mvctl trigger` saw it first."""
    ids = tuple(sorted(samples))
    key = "samples " + ",".join(f"#{i}" for i in ids)
    return Occasion(key, samples=ids, reason=reason, date=date)


def trigger_kind(trigger: Trigger) -> TriggerKind:
    if trigger.schedule is not None:
        return "schedule"
    return "on_change" if trigger.on_change is not None else "when"


def last_firing(firings: Collection[Firing], model: str, trigger: str) -> Firing | None:
    own = [f for f in firings if f.model == model and f.trigger == trigger]
    return max(own, key=lambda firing: firing.id, default=None)


def candidate_version(model: ModelSpec, trigger: Trigger) -> tuple[str, VersionSpec]:
    """The version ``from`` names (its label) and the one the trigger would add: that block,
    with the trigger's params written on top."""
    source = resolve_from(model, trigger.from_)
    if source is None:  # pragma: no cover - the spec checks refuse an unknown `from`
        raise ValueError(f"trigger {trigger.name} copies an unknown version {trigger.from_}")
    base = model.versions[source]
    params: dict[str, dict[str, Any]] = {step: dict(values) for step, values in base.params.items()}
    for step, values in trigger.params.items():
        params.setdefault(step, {}).update(values)
    return source, base.model_copy(update={"params": params})


def final_key(
    model_name: str,
    model: ModelSpec,
    label: str,
    version: VersionSpec,
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> str | None:
    """The cache key of the step that makes the model, with the files as they are now; None
    for a version registered from a file."""
    resolved = resolve_version(model_name, model, label, version, digests, env_digests)
    return resolved.steps[-1].key if resolved.steps else None


def evaluate_trigger(
    model_name: str,
    model: ModelSpec,
    trigger: Trigger,
    occasion: Occasion,
    firings: Collection[Firing],
    taken_labels: Collection[str],
    final_keys: Mapping[str, str],
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
) -> Proposal | Skip:
    """Whether ``trigger`` fires on ``occasion``, and what it proposes.

    ``taken_labels``: every label declared, recorded or proposed earlier in this run.
    ``final_keys``: label -> final cache key of each version of the model (as recorded for a
    trained one, as it would train now for one not trained yet).
    """
    name = trigger.name
    done = [f for f in firings if f.model == model_name and f.trigger == name]
    same = next((f for f in done if f.occasion == occasion.key), None)
    if same is not None:
        what = (
            f"the period that began {same.period}"
            if same.period
            else "these samples"
            if occasion.samples
            else "this change"
        )
        return Skip(
            model_name,
            name,
            f"already fired for {what}: wrote {same.label} at {same.fired_at}",
            occasion,
        )
    last = max(done, key=lambda firing: firing.id, default=None)
    if (
        trigger.on_change is not None
        and not occasion.samples
        and last is not None
        and last.digests == occasion.digests
    ):
        return Skip(
            model_name,
            name,
            f"{_paths(occasion.digests)} unchanged since its last firing "
            f"({last.label} at {last.fired_at})",
            occasion,
        )
    source, version = candidate_version(model, trigger)
    if not trigger.always:
        key = final_key(model_name, model, source, version, digests, env_digests)
        twin = next((label for label, known in final_keys.items() if known == key), None)
        if twin is not None:
            return Skip(
                model_name,
                name,
                f"it would train the same model as {twin}: a copy of {source} with the "
                f"files as they are now has the same final cache key ({(key or '')[:12]}); "
                "set `always: true` to fire anyway",
                occasion,
            )
    fixed = {"from": source, "date": occasion.date, "trigger": name}
    number = (
        next_number(trigger.label, fixed, taken_labels) if "n" in placeholders(trigger.label) else 0
    )
    label = render(trigger.label, {**fixed, "n": number})
    problem = label_problem(label)
    if problem is not None:
        return Skip(model_name, name, f"its label template gives {problem}", occasion)
    if label in taken_labels:
        return Skip(
            model_name,
            name,
            f"its label {label} is taken already; add {{n}} to the label template",
            occasion,
        )
    if occasion.reason:
        reason = occasion.reason
    elif trigger.schedule is not None:
        reason = f"period {occasion.period} of '{trigger.schedule}'"
        reason += f" ({trigger.timezone})" if trigger.timezone else " (UTC)"
    elif last is None:
        reason = f"{_paths(occasion.digests)} first watched"
    else:
        reason = f"{_paths(_changed(last.digests, occasion.digests))} changed since {last.label}"
    return Proposal(model_name, name, label, source, trigger.promote, occasion, reason)


def _changed(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    return {path: digest for path, digest in after.items() if before.get(path) != digest} or dict(
        after
    )


def _paths(digests: Mapping[str, str]) -> str:
    return ", ".join(sorted(digests))
