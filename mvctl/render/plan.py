"""A Plan as terminal text (rich markup, stripped to plain by the Console) and as Markdown.

Both read the same actions; neither prints. Plain text is stable for CI logs: no colours,
no widths that depend on the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mvctl.core.comparison import MetricTable
from mvctl.core.plan import (
    Action,
    ArchiveVersion,
    Conflict,
    CreateModel,
    EvaluateVersion,
    FieldChange,
    LineageNote,
    MoveAlias,
    Plan,
    RecordPolicy,
    RefreshAlias,
    RegisterArtifact,
    ReleasePin,
    RemoveAlias,
    ReplaceServedVersion,
    RestoreVersion,
    TrainVersion,
    UpdateMetadata,
)
from mvctl.render import markdown
from mvctl.render.evaluation import evaluate_lines, gate_line, gate_lines, metric_tables_markdown
from mvctl.render.markup import escape, strip
from mvctl.results.plan import PlanResult


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _change_line(change: FieldChange) -> str:
    before = "(absent)" if change.before is None else _value(change.before)
    after = "(absent)" if change.after is None else _value(change.after)
    return f"{change.path}: {before} -> {after}"


def _create_model(action: CreateModel) -> list[str]:
    return [f"[green]+ model[/] [bold]{escape(action.model)}[/]"]


def _train_version(action: TrainVersion) -> list[str]:
    lines = [
        f"[green]+ train[/] [bold]{escape(action.model)}@{escape(action.label)}[/]  ({escape(action.reason)})"
    ]
    width = max(len(step.name) for step in action.steps)
    for step in action.steps:
        colour = "yellow" if step.status == "run" else "dim"
        lines.append(
            f"    [{colour}]{step.status:<6}[/] {escape(step.name):<{width}}  {escape(step.reason)}"
        )
    return lines


def _register_artifact(action: RegisterArtifact) -> list[str]:
    source = action.bundle
    if source is not None:
        signed = (
            f"signed by {source.signer}"
            + (f", checked against {escape(source.verify_key)}" if source.verify_key else "")
            if source.signer
            else "unsigned"
        )
        carries = f"{source.metrics} metric results, {source.step_outputs} step outputs"
        return [
            f"[green]+ import[/] [bold]{escape(action.model)}@{escape(action.label)}[/]  "
            f"from {escape(action.path)} ({action.digest[:19]})",
            f"    verified; {signed}; exported from {escape(source.origin)}; {carries}",
        ]
    return [
        f"[green]+ register[/] [bold]{escape(action.model)}@{escape(action.label)}[/]  "
        f"from {escape(action.path)} ({action.digest[:19]})"
    ]


def _update_metadata(action: UpdateMetadata) -> list[str]:
    return [
        f"[cyan]~ update[/] {escape(action.model)}@{escape(action.label)}  (metadata only, no retraining)"
    ] + [f"      {escape(_change_line(change))}" for change in action.changes]


def _restore_version(action: RestoreVersion) -> list[str]:
    return [
        f"[green]+ restore[/] {escape(action.model)}@{escape(action.label)}  (archived, declared again)"
    ]


def _move_alias(action: MoveAlias) -> list[str]:
    before = action.from_version or "(none)"
    return [
        f"[cyan]~ alias[/] [bold]{escape(action.model)}:{escape(action.alias)}[/]  "
        f"{escape(before)} -> [bold]{escape(action.to_version)}[/]",
        *gate_lines(action.gates),
    ]


def _replace_served_version(action: ReplaceServedVersion) -> list[str]:
    return [
        f"[cyan]~ replace[/] [bold]{escape(action.model)}@{escape(action.label)}[/]  "
        f"spec {action.replaces[:12]} -> {action.spec_hash[:12]}; the old record serves "
        "until the new one passes",
        *(f"    {line}" for line in served_gate_lines(action)),
    ]


def _remove_alias(action: RemoveAlias) -> list[str]:
    return [
        f"[red]- alias[/] {escape(action.model)}:{escape(action.alias)}  (was {escape(action.from_version)})"
    ]


def _archive_version(action: ArchiveVersion) -> list[str]:
    return [
        f"[red]- archive[/] {escape(action.model)}@{escape(action.label)}  (removed from the config; artifacts kept)"
    ]


def _release_pin(action: ReleasePin) -> list[str]:
    return [
        f"[cyan]~ release pin[/] {escape(action.model)}:{escape(action.alias)}  "
        f"(the config agrees with {escape(action.version)})"
    ]


def _refresh_alias(action: RefreshAlias) -> list[str]:
    return [
        f"[cyan]~ refresh[/] {escape(action.model)}:{escape(action.alias)}  record it at "
        f"{escape(action.current or '(none)')} as it is (mvctl last set "
        f"{escape(action.logged or '(none)')}); nothing moves"
    ]


def _record_policy(action: RecordPolicy) -> list[str]:
    return [
        "[magenta bold]~ policy[/]  record the config's policy (in force from the next apply)"
    ] + [f"      {escape(_change_line(change))}" for change in action.changes]


ActionFormatter = Callable[[Any], list[str]]

ACTION_LINES: dict[type, ActionFormatter] = {
    CreateModel: _create_model,
    TrainVersion: _train_version,
    RegisterArtifact: _register_artifact,
    UpdateMetadata: _update_metadata,
    RestoreVersion: _restore_version,
    EvaluateVersion: evaluate_lines,
    MoveAlias: _move_alias,
    ReplaceServedVersion: _replace_served_version,
    RemoveAlias: _remove_alias,
    ArchiveVersion: _archive_version,
    ReleasePin: _release_pin,
    RefreshAlias: _refresh_alias,
    RecordPolicy: _record_policy,
}
"""Each action type's terminal lines: a headline, then details indented. A test keeps one
entry per type of ``core.plan.ACTION_TYPES``."""


def action_lines(action: Action) -> list[str]:
    """One action as markup lines: a headline, then details indented."""
    return ACTION_LINES[type(action)](action)


def served_gate_lines(action: ReplaceServedVersion) -> list[str]:
    """What a replacement must pass before the aliases serve it, one gate per line."""
    serves = "serves " + ", ".join(
        f"{escape(action.model)}:{escape(alias)}" for alias in action.aliases
    )
    if not action.gates:
        return [f"{serves} — no gates"]
    return [f"{serves} — {gate_line(check)}" for check in action.gates]


def conflict_lines(conflict: Conflict) -> list[str]:
    lines = [
        f"[red bold]! {conflict.kind}[/] [bold]{escape(conflict.target)}[/]: {escape(conflict.message)}"
    ]
    lines += [f"      {escape(_change_line(change))}" for change in conflict.changes]
    if conflict.resolutions:
        lines.append("    ways out:")
        lines += [f"      - {escape(way)}" for way in conflict.resolutions]
    return lines


LINEAGE_LABELS_SHOWN = 6
"""Labels a lineage note names before it says how many more."""


def lineage_sentence(note: LineageNote) -> str:
    """One model's versions kept as recorded, in one sentence (plain text)."""
    shown = list(note.versions[:LINEAGE_LABELS_SHOWN])
    more = len(note.versions) - len(shown)
    labels = ", ".join(shown) + (f" and {more} more" if more else "")
    verb = "was" if len(note.versions) == 1 else "were"
    return f"{labels} {verb} trained with an earlier {', '.join(note.inputs)} — kept as recorded"


def lineage_lines(plan: Plan) -> list[str]:
    if not plan.lineage:
        return []
    return [
        "",
        f"[cyan]Lineage ({len(plan.lineage)})[/] — trained versions are kept as recorded; "
        "new versions train with the current files:",
        *(
            f"[cyan]= {escape(note.model)}[/]: {escape(lineage_sentence(note))}"
            for note in plan.lineage
        ),
    ]


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    trains = counts["train_version"] + counts["register_artifact"]
    parts = [
        f"{trains} to train ({counts['steps_run']} steps to run, {counts['steps_cached']} cached)",
        f"{counts['move_alias']} alias moves",
        *(
            [f"{counts['replace_served_version']} served versions replaced"]
            if counts["replace_served_version"]
            else []
        ),
        f"{counts['archive_version'] + counts['remove_alias']} removals",
    ]
    other = (
        counts["create_model"]
        + counts["update_metadata"]
        + counts["restore_version"]
        + counts["release_pin"]
    )
    if other:
        parts.append(f"{other} other changes")
    if counts["record_policy"]:
        parts.append("policy change")
    if counts["refresh_alias"]:
        parts.append(f"{counts['refresh_alias']} refreshed")
    if counts["evaluate_version"]:
        parts.append(f"{counts['evaluate_version']} to evaluate")
    text = "Plan: " + ", ".join(parts) + "."
    if plan.conflicts:
        text += f" [red bold]{len(plan.conflicts)} conflict(s) block apply.[/]"
    return text


def format_plan_text(plan: Plan) -> str:
    """The plan for a terminal or a CI log, as rich markup."""
    lines = [f"Plan for project [bold]{escape(plan.project)}[/] (state serial {plan.serial})", ""]
    if not plan.actions and not plan.conflicts:
        lines.append("[green]No changes.[/] The recorded state matches the config.")
    for action in plan.actions:
        lines += action_lines(action)
    lines += lineage_lines(plan)
    if plan.conflicts:
        lines += [
            "",
            f"[red bold]Conflicts ({len(plan.conflicts)})[/] — apply is blocked until each is resolved:",
        ]
        for conflict in plan.conflicts:
            lines += conflict_lines(conflict)
    if plan.drift:
        lines += [
            "",
            f"[yellow]Drift ({len(plan.drift)})[/] — the state changed outside this config:",
        ]
        lines += [
            f"[yellow]? {d.kind}[/] {escape(d.target)}: {escape(d.message)}" for d in plan.drift
        ]
    lines += ["", summary_line(plan), f"[dim]plan hash {plan.hash[:16]}[/]"]
    return "\n".join(lines)


def format_plan_result(result: PlanResult) -> str:
    """`mvctl plan`'s text: the plan, and where it was saved."""
    text = format_plan_text(result.plan)
    if result.saved_to is None:
        return text
    saved = escape(str(result.saved_to))
    how = " (signed with MVCTL_PLAN_KEY)" if result.signed else ""
    return f"{text}\n\nSaved to {saved}{how}; apply it with `mvctl apply {saved}`."


def plan_json(result: PlanResult) -> dict[str, Any]:
    """`mvctl plan --json`: the plan as a saved plan file holds it (schemas/plan.schema.json)."""
    return result.plan.to_dict()


def plan_markdown(result: PlanResult) -> str:
    return format_plan_markdown(result.plan, result.metric_tables)


def format_plan_markdown(plan: Plan, metric_tables: Sequence[MetricTable] = ()) -> str:
    """The plan as a pull-request comment: summary first, details folded; ``metric_tables``
    show each version trained or promoted against the version its alias holds now."""
    counts = plan.summary()
    status = (
        f"**{len(plan.conflicts)} conflict(s) block apply**"
        if plan.conflicts
        else ("**No changes.**" if not plan.actions else "Ready to apply on merge.")
    )
    lines = [
        f"### mvctl plan — {markdown.code(plan.project)}",
        "",
        status,
        "",
        "| trains | steps run | steps cached | alias moves | removals | conflicts | drift |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {counts['train_version'] + counts['register_artifact']} | {counts['steps_run']} | "
        f"{counts['steps_cached']} | {counts['move_alias']} | "
        f"{counts['archive_version'] + counts['remove_alias']} | {counts['conflicts']} | {counts['drift']} |",
    ]
    if plan.conflicts:
        lines += ["", "#### Conflicts", ""]
        for conflict in plan.conflicts:
            lines.append(
                f"- :x: **{markdown.text(conflict.kind)}** {markdown.code(conflict.target)} — "
                f"{markdown.prose(conflict.message)}"
            )
            if conflict.changes:
                lines += ["", "  | field | recorded | declared |", "  | --- | --- | --- |"]
                lines += [
                    f"  | {markdown.code(c.path, in_table=True)} | "
                    f"{markdown.code(_value(c.before), in_table=True)} | "
                    f"{markdown.code(_value(c.after), in_table=True)} |"
                    for c in conflict.changes
                ]
                lines.append("")
            lines += [f"  - {markdown.prose(way)}" for way in conflict.resolutions]
    if plan.actions:
        lines += ["", "#### Changes", ""]
        for action in plan.actions:
            lines.append(f"- {_markdown_action(action)}")
            lines += [f"  - {detail}" for detail in MARKDOWN_DETAILS[type(action)](action)]
    if metric_tables:
        lines += ["", "#### Metrics", *metric_tables_markdown(metric_tables)]
    if plan.lineage:
        lines += ["", "#### Lineage", ""]
        lines += [
            f"- {markdown.code(note.model)} — {markdown.text(lineage_sentence(note))}"
            for note in plan.lineage
        ]
    if plan.drift:
        lines += ["", "#### Drift", ""]
        lines += [
            f"- :warning: {markdown.code(d.target)} — {markdown.prose(d.message)}"
            for d in plan.drift
        ]
    lines += ["", f"<sub>state serial {plan.serial} · plan {plan.hash[:16]}</sub>", ""]
    return "\n".join(lines)


def _markdown_action(action: Action) -> str:
    return markdown.text(strip(action_lines(action)[0]))


def _no_details(action: Action) -> list[str]:
    return []


def _markdown_steps(action: TrainVersion) -> list[str]:
    return [
        f"`{step.status}` {markdown.text(step.name)} — {markdown.prose(step.reason)}"
        for step in action.steps
    ]


def _markdown_gates(action: MoveAlias) -> list[str]:
    return [markdown.text(strip(gate_line(check))) for check in action.gates]


def _markdown_served_gates(action: ReplaceServedVersion) -> list[str]:
    return [markdown.text(strip(line)) for line in served_gate_lines(action)]


def _markdown_changes(action: RecordPolicy) -> list[str]:
    return [markdown.text(_change_line(change)) for change in action.changes]


MARKDOWN_DETAILS: dict[type, ActionFormatter] = {
    CreateModel: _no_details,
    TrainVersion: _markdown_steps,
    RegisterArtifact: _no_details,
    UpdateMetadata: _no_details,
    RestoreVersion: _no_details,
    EvaluateVersion: _no_details,
    MoveAlias: _markdown_gates,
    ReplaceServedVersion: _markdown_served_gates,
    RemoveAlias: _no_details,
    ArchiveVersion: _no_details,
    ReleasePin: _no_details,
    RefreshAlias: _no_details,
    RecordPolicy: _markdown_changes,
}
"""Each action type's sub-bullets under its headline in a pull-request comment; one entry per
type of ``core.plan.ACTION_TYPES``, as for ``ACTION_LINES``."""
