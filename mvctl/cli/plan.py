"""mvctl plan."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import AppContext, actor_option, emit, pass_app, plan_options


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
    help="Exit 2 when the plan has changes and 0 when it has none (without this flag: 0 "
    "either way). Conflicts exit 3 and errors 1 regardless.",
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
    from mvctl.exit_codes import for_plan
    from mvctl.ops.plan import make_plan
    from mvctl.render.plan import format_plan_result, plan_json, plan_markdown

    if as_json and markdown:
        raise UsageError("--json and --markdown cannot be combined", fix="Pick one output format.")
    result = make_plan(
        app.workspace(),
        PlanOptions(targets, on_conflict, retry_failed, refresh_only, actor),
        metric_tables=markdown,
        out=out,
    )
    emit(
        app,
        result,
        as_json=as_json,
        json=plan_json,
        text=plan_markdown if markdown else format_plan_result,
        markup=not markdown,
    )
    return for_plan(result.plan, detailed=detailed_exitcode)


COMMANDS = [plan]
