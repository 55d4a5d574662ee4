"""The `mvctl` group: global options, shared option declarations, and the command list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from mvctl import __version__

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    config_path: Path | None
    color: bool | None

    def console(self, *, stderr: bool = False) -> Any:
        """The Console for this command; ``stderr`` for progress beside JSON on stdout."""
        import sys

        from mvctl.render.console import Console

        return Console(sys.stderr if stderr else None, color=self.color)

    def workspace(self) -> Any:
        from mvctl.workspace import load_workspace

        return load_workspace(self.config_path)


pass_app = click.make_pass_decorator(AppContext)


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (stable; see schemas/)."
    )(func)


def lock_timeout_option(func: F) -> F:
    return click.option(
        "--lock-timeout",
        type=float,
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another apply or revert to release the state lock.",
    )(func)


def actor_option(func: F) -> F:
    """--actor: who plans, applies or reverts, for the policy and the history."""
    return click.option(
        "--actor",
        default=None,
        metavar="NAME",
        help="Act as NAME (default: MVCTL_ACTOR, else the CI's user, e.g. GITHUB_ACTOR, "
        "else the login name). The policy decides what NAME may do; history records it.",
    )(func)


def plan_options(func: F) -> F:
    """Options that decide what a plan contains; shared by plan and apply."""
    func = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="MODEL[@VERSION]",
        help="Limit the plan to a model or one version (repeatable).",
    )(func)
    func = click.option(
        "--on-conflict",
        type=click.Choice(["abort", "overwrite"]),
        default=None,
        help="overwrite: retrain changed versions under their labels (old records stay in the log).",
    )(func)
    func = click.option(
        "--retry-failed",
        is_flag=True,
        help="Retrain versions that failed before even though their spec is unchanged.",
    )(func)
    func = click.option(
        "--refresh-only",
        is_flag=True,
        help="Accept the recorded state: log aliases changed outside mvctl as they are; "
        "train and move nothing.",
    )(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="mvctl", message="%(prog)s %(version)s")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The config file (default: mvctl.yaml here or in a parent folder).",
)
@click.option("--no-color", is_flag=True, help="Plain output even on a terminal (also NO_COLOR=1).")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, no_color: bool, debug: bool) -> None:
    """Version control and release management for ML models: plan, apply, revert.

    Declare models, versions, pipelines and aliases in mvctl.yaml; `mvctl plan` shows what
    would change; `mvctl apply` trains and promotes; `mvctl revert` rolls back.
    """
    ctx.obj = AppContext(config_path, False if no_color else None)


def _register() -> None:
    from mvctl.cli import (
        apply,
        compare,
        init,
        logs,
        plan,
        report,
        revert,
        show,
        state,
        store,
        validate,
    )

    for module in (init, validate, plan, apply, revert, show, compare, report, logs, state, store):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()
