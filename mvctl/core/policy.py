"""Who may do what: the policy a config declares, the one in force, and what it denies.

The policy in force is the recorded one — what the last apply that changed it recorded —
never the config being planned, so a pull request cannot grant its author rights by editing
the policy in the same change. Its rules:

* a protected alias (``policy.protected_aliases``) moves only for its listed actors: by an
  apply, a removal, ``--refresh-only``, a revert, or an overwrite of the version it points at;
* a model's versions are trained, overwritten, archived or restored only by its ``owners``
  (none recorded: anyone);
* a broken monitoring rule rolls a protected alias back only when the policy in force says
  ``automatic_rollback: true`` (``monitor_rollback_denial``);
* the policy changes only by an admin (``policy.admins``; none recorded: anyone), and a
  model's owners also by those owners (or by anyone while it has none).

Nothing is enforced until a policy is first recorded, so the first one is recorded as it is.
A denial is a ``not_allowed`` conflict naming the actor, the rule and who is allowed. Pure:
the recorded policy, the actor and the changes come in as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mvctl.core.plan import (
    Action,
    ArchiveVersion,
    Conflict,
    FieldChange,
    MoveAlias,
    RecordPolicy,
    RefreshAlias,
    RegisterArtifact,
    RemoveAlias,
    RestoreVersion,
    TrainVersion,
)
from mvctl.core.recorded import RecordedPolicy, RecordedState
from mvctl.core.records import (
    AUTOMATIC_ROLLBACK,
    AliasRecord,
    PolicyRecord,
    VersionRecord,
)
from mvctl.core.revert import Restoration, VersionRestoration

if TYPE_CHECKING:
    from mvctl.spec.models import Config

EMPTY_POLICY: Mapping[str, Any] = {"admins": [], "protected_aliases": {}, "owners": {}}
"""What no recorded policy means: no admins, nothing protected, no owners — anyone may do
anything."""


def declared_policy(config: Config) -> dict[str, Any]:
    """The policy ``config`` declares, in the shape the state records: names sorted and
    deduplicated (order means nothing), models without owners left out, ``automatic_rollback``
    only when true."""
    rollback = {AUTOMATIC_ROLLBACK: True} if config.policy.automatic_rollback else {}
    return rollback | {
        "admins": sorted(set(config.policy.admins)),
        "protected_aliases": {
            alias: {"actors": sorted(set(rule.actors))}
            for alias, rule in sorted(config.policy.protected_aliases.items())
        },
        "owners": {
            name: sorted(set(model.owners))
            for name, model in sorted(config.models.items())
            if model.owners
        },
    }


def policy_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[FieldChange]:
    """Rule by rule, what recording ``after`` changes in the policy ``before`` (None: none),
    each under the config path that declares it (None: the rule is absent)."""
    old, new = _rules_by_path(before or EMPTY_POLICY), _rules_by_path(after)
    return [
        FieldChange(path, old.get(path), new.get(path))
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]


def _rules_by_path(value: Mapping[str, Any]) -> dict[str, Any]:
    rules: dict[str, Any] = {"policy.admins": list(value["admins"])}
    if value.get(AUTOMATIC_ROLLBACK):
        rules[f"policy.{AUTOMATIC_ROLLBACK}"] = True
    for alias, rule in value["protected_aliases"].items():
        rules[f"policy.protected_aliases.{alias}.actors"] = list(rule["actors"])
    for model, names in value["owners"].items():
        rules[f"models.{model}.owners"] = list(names)
    return rules


class Rules:
    """The policy in force, read for the checks below."""

    def __init__(self, recorded: RecordedPolicy | None) -> None:
        value = recorded.value if recorded is not None else EMPTY_POLICY
        self.value = value
        self.admins: tuple[str, ...] = tuple(value["admins"])
        self.protected: dict[str, tuple[str, ...]] = {
            alias: tuple(rule["actors"]) for alias, rule in value["protected_aliases"].items()
        }
        self.owners: dict[str, tuple[str, ...]] = {
            model: tuple(names) for model, names in value["owners"].items()
        }
        self.automatic_rollback: bool = value.get(AUTOMATIC_ROLLBACK, False) is True
        self.source = (
            "no policy recorded yet"
            if recorded is None
            else f"recorded by apply {recorded.apply_id}"
            if recorded.apply_id is not None
            else "recorded"
        )

    def may_administer(self, actor: str | None) -> bool:
        return not self.admins or actor in self.admins


class _Checker:
    """Turns each thing the actor would do into a denial when the rules in force forbid it."""

    def __init__(self, rules: Rules, actor: str | None) -> None:
        self.rules = rules
        self.actor = actor
        self._serving: tuple[RecordedState, dict[tuple[str, str], list[str]]] | None = None

    def alias(self, model: str, alias: str, doing: str) -> list[Conflict]:
        allowed = self.rules.protected.get(alias)
        if allowed is None or self.actor in allowed:
            return []
        rule = f"policy.protected_aliases.{alias}.actors"
        return [self._deny(f"{model}:{alias}", doing, rule, allowed)]

    def serving(
        self, recorded: RecordedState, model: str, label: str, doing: str
    ) -> list[Conflict]:
        """Denials of replacing what ``model@label`` is, for each protected alias serving it."""
        return [
            denial
            for alias in self._aliases_serving(recorded).get((model, label), ())
            for denial in self.alias(model, alias, f"{doing}, which {model}:{alias} points at")
        ]

    def _aliases_serving(self, recorded: RecordedState) -> dict[tuple[str, str], list[str]]:
        """(model, version) -> the recorded aliases pointing at it, in name order. Built once
        per state: a plan that overwrites every version would otherwise sort them all each time."""
        if self._serving is None or self._serving[0] is not recorded:
            serving: dict[tuple[str, str], list[str]] = {}
            for (model, alias), row in sorted(recorded.aliases.items()):
                serving.setdefault((model, row.version), []).append(alias)
            self._serving = (recorded, serving)
        return self._serving[1]

    def owners(self, model: str, label: str, doing: str) -> list[Conflict]:
        allowed = self.rules.owners.get(model)
        if not allowed or self.actor in allowed:
            return []
        return [self._deny(f"{model}@{label}", doing, f"models.{model}.owners", allowed)]

    def policy(self, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Conflict]:
        """Denials of replacing the policy ``before`` (None: none) with ``after``."""
        old = before or EMPTY_POLICY
        denials = []
        governed = ("admins", "protected_aliases", AUTOMATIC_ROLLBACK)
        differ = [key for key in governed if old.get(key) != after.get(key)]
        if differ and not self.rules.may_administer(self.actor):
            changed = " and ".join(f"policy.{key}" for key in differ)
            denials.append(self._deny("policy", f"change {changed}", "policy.admins", self.admins))
        old_owners, new_owners = old["owners"], after["owners"]
        for model in sorted(set(old_owners) | set(new_owners)):
            if old_owners.get(model, []) == new_owners.get(model, []):
                continue
            current = self.rules.owners.get(model, ())
            if not current or self.actor in current or self.rules.may_administer(self.actor):
                continue
            denials.append(
                self._deny(
                    model,
                    f"change the owners of {model}",
                    f"models.{model}.owners or policy.admins",
                    tuple(sorted({*current, *self.admins})),
                )
            )
        return denials

    @property
    def admins(self) -> tuple[str, ...]:
        return self.rules.admins

    def _deny(self, target: str, doing: str, rule: str, allowed: Sequence[str]) -> Conflict:
        who = "an unnamed actor" if self.actor is None else repr(self.actor)
        names = ", ".join(allowed) if allowed else "nobody"
        admins = ", ".join(self.admins) if self.admins else "anyone, as no admins are recorded"
        return Conflict(
            "not_allowed",
            target,
            f"{who} may not {doing}: {rule} allows {names} (the policy in force, "
            f"{self.rules.source})",
            resolutions=(
                f"apply as an allowed actor ({names}); the actor is --actor, else MVCTL_ACTOR, "
                "else the CI's user",
                f"or have an admin ({admins}) apply a policy change that allows it first: a "
                "policy change in this same plan is not in force yet",
                "or leave this change out of the config",
            ),
        )


def plan_denials(
    actions: Iterable[Action], recorded: RecordedState, actor: str | None
) -> list[Conflict]:
    """What the policy in force forbids ``actor`` among ``actions``, one conflict each."""
    if recorded.policy is None:
        return []
    rules = Rules(recorded.policy)
    check = _Checker(rules, actor)
    denials: list[Conflict] = []
    for action in actions:
        if isinstance(action, TrainVersion | RegisterArtifact):
            target = f"{action.model}@{action.label}"
            if action.replaces is None:
                denials += check.owners(action.model, action.label, f"train {target}")
                continue
            denials += check.owners(action.model, action.label, f"overwrite {target}")
            denials += check.serving(recorded, action.model, action.label, f"overwrite {target}")
        elif isinstance(action, ArchiveVersion):
            target = f"{action.model}@{action.label}"
            denials += check.owners(action.model, action.label, f"archive {target}")
        elif isinstance(action, RestoreVersion):
            target = f"{action.model}@{action.label}"
            denials += check.owners(action.model, action.label, f"restore {target}")
        elif isinstance(action, MoveAlias):
            denials += check.alias(
                action.model,
                action.alias,
                f"move {action.model}:{action.alias} from {action.from_version or 'nothing'} "
                f"to {action.to_version}",
            )
        elif isinstance(action, RemoveAlias):
            denials += check.alias(
                action.model, action.alias, f"remove {action.model}:{action.alias}"
            )
        elif isinstance(action, RefreshAlias):
            denials += check.alias(
                action.model,
                action.alias,
                f"record {action.model}:{action.alias} at {action.current or 'nothing'} as "
                "changed outside mvctl (--refresh-only)",
            )
        elif isinstance(action, RecordPolicy):
            denials += check.policy(rules.value, action.policy)
    return denials


def revert_denials(
    restorations: Iterable[Restoration | VersionRestoration],
    recorded: RecordedState,
    actor: str | None,
) -> list[Conflict]:
    """What the policy in force forbids ``actor`` among a revert's restorations.

    Pins follow the aliases they hold, so they need no rule of their own.
    """
    if recorded.policy is None:
        return []
    check = _Checker(Rules(recorded.policy), actor)
    denials: list[Conflict] = []
    for restoration in restorations:
        target = restoration.target
        restored = restoration.restored
        if target.kind == "alias":
            back_to = restored.version if isinstance(restored, AliasRecord) else "nothing"
            denials += check.alias(
                target.model, target.name, f"move {target} back to {back_to} by revert"
            )
        elif isinstance(restoration, VersionRestoration):
            denials += check.owners(
                target.model, target.name, f"revert {target} to its earlier record"
            )
            if isinstance(restored, VersionRecord):
                # A whole earlier record (an overwrite undone) changes what its aliases serve.
                denials += check.serving(recorded, target.model, target.name, f"revert {target}")
        elif target.kind == "policy":
            denials += check.policy(
                recorded.policy.value,
                restored.to_json() if isinstance(restored, PolicyRecord) else EMPTY_POLICY,
            )
    return denials


MONITOR_ACTOR = "monitor"
"""Who an automatic rollback by a broken monitoring rule is recorded as done by."""


def monitor_rollback_denial(recorded: RecordedState, model: str, alias: str) -> str | None:
    """Why the policy in force forbids a broken monitoring rule to move ``model:alias`` back,
    or None when it may: an unprotected alias always, a protected one only under
    ``policy.automatic_rollback: true``."""
    rules = Rules(recorded.policy)
    if alias not in rules.protected or rules.automatic_rollback:
        return None
    return (
        f"{model}:{alias} is protected and the policy in force ({rules.source}) does not allow "
        f"automatic rollback; set policy.{AUTOMATIC_ROLLBACK}: true and apply it to allow it"
    )
