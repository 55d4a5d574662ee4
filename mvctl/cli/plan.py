"""mvctl plan."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import AppContext, actor_option, pass_app, plan_options, write_output

EXIT_NO_CHANGES = 0
EXIT_CHANGES = 2
EXIT_CONFLICTS = 3


@click.command()
@plan_options
@actor_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print the plan as JSON (schemas/plan.schema.json)."
)
@click.option(
    "--markdown", is_flag=True, help="Print the plan as Markdown for a pull-request comment."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Save the plan for `mvctl apply FILE`, which recomputes it and refuses it if anything "
    "differs (signed with MVCTL_PLAN_KEY when set).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when there are changes, 3 on conflicts (1 on error).",
)
@pass_app
def plan(
    app: AppContext,
    targets: tuple[str, ...],
    on_conflict: str | None,
    retry_failed: bool,
    refresh_only: bool,
    actor: str | None,
    as_json: bool,
    markdown: bool,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show what apply would change: versions to train (steps run or cached), alias moves,
    archives, conflicts and drift. Trains nothing and writes no state."""
    from mvctl.core.planner import PlanOptions
    from mvctl.errors import UsageError
    from mvctl.ops.plan import make_plan
    from mvctl.ops.saved_plan import plan_file_text
    from mvctl.render.markup import escape
    from mvctl.render.plan import format_plan_markdown, format_plan_text

    if as_json and markdown:
        raise UsageError("--json and --markdown cannot be combined", fix="Pick one output format.")
    console = app.console()
    result = make_plan(
        app.workspace(),
        PlanOptions(targets, on_conflict, retry_failed, refresh_only, actor),
        metric_tables=markdown,
    )
    plan_value = result.plan
    signed = False
    if out is not None:
        text, signed = plan_file_text(plan_value)
        write_output(out, text, "the plan")
    if as_json:
        console.json(plan_value.to_dict())
    elif markdown:
        console.raw(format_plan_markdown(plan_value, result.metric_tables))
    else:
        console.print(format_plan_text(plan_value))
        if out is not None:
            saved = escape(str(out))
            how = " (signed with MVCTL_PLAN_KEY)" if signed else ""
            console.print(f"\nSaved to {saved}{how}; apply it with `mvctl apply {saved}`.")
    if plan_value.has_conflicts:
        return EXIT_CONFLICTS if detailed_exitcode else 1
    if detailed_exitcode and plan_value.has_changes:
        return EXIT_CHANGES
    return EXIT_NO_CHANGES


COMMANDS = [plan]
