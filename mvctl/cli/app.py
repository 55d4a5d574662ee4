"""The `mvctl` group: global options, shared option declarations, and the command list."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from mvctl import __version__

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


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

    def project(self) -> Any:
        """Where the project keeps its state, for the commands that only read it: the config
        is read but not checked whole (see ``mvctl.project``)."""
        from mvctl.project import locate_project

        return locate_project(self.config_path)


pass_app = click.make_pass_decorator(AppContext)


def emit(
    app: AppContext,
    result: R,
    *,
    as_json: bool,
    json: Callable[[R], Mapping[str, Any]],
    text: Callable[[R], str] | None = None,
    markup: bool = True,
    write: Callable[[Any, R], None] | None = None,
) -> None:
    """How every command ends: its result as JSON on stdout (`--json`, documented in
    schemas/), else as ``text`` (rich markup, or as it is with ``markup=False``), or through
    ``write`` for output that is more than one text (the steps' own logs)."""
    console = app.console()
    if as_json:
        console.json(json(result))
    elif write is not None:
        write(console, result)
    elif text is None:
        raise TypeError("emit needs text or write")
    elif markup:
        console.print(text(result))
    else:
        console.raw(text(result))


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (stable; see schemas/)."
    )(func)


class Text(click.types.StringParamType):
    """A name, reference or reason that mvctl looks up in or records into the state: text.
    Python holds the bytes of an argument that are not UTF-8 as lone surrogates, which no
    database (nor terminal) can take."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = super().convert(value, param, ctx)
        if any("\ud800" <= char <= "\udfff" for char in text):
            self.fail(f"{text!r} holds bytes that are not UTF-8.", param, ctx)
        return text


TEXT = Text()
MAX_LOCK_TIMEOUT_S = 86_400.0
"""A day: longer than any apply a CI job would wait on."""
SQL_INT_MAX = 2**63 - 1
"""The largest integer the state databases hold: larger ids and limits overflow, not miss."""
APPLY_ID = click.IntRange(min=1, max=SQL_INT_MAX)


class Duration(click.FloatRange):
    """A finite duration from 0 to a maximum: NaN passes a plain range check."""

    name = "number"

    def __init__(self, maximum: float) -> None:
        super().__init__(min=0.0, max=maximum)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


def lock_timeout_option(func: F) -> F:
    return click.option(
        "--lock-timeout",
        type=Duration(MAX_LOCK_TIMEOUT_S),
        default=0.0,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long for another apply or revert to release the state lock "
        f"(0 to {MAX_LOCK_TIMEOUT_S:.0f}).",
    )(func)


def lock_options(func: F) -> F:
    """How long to wait for the state lock, and how long this process's own hold on it may
    go without a heartbeat before another apply may take it over."""
    func = click.option(
        "--lock-lease",
        type=click.FloatRange(min=10.0),
        default=120.0,
        show_default=True,
        envvar="MVCTL_LOCK_LEASE",
        metavar="SECONDS",
        help="While this runs, it refreshes a heartbeat on the state lock; silent this long, "
        "it counts as dead and the next apply takes the lock over (where neither its pid "
        "nor its PostgreSQL session can be checked). At least 10. Also MVCTL_LOCK_LEASE.",
    )(func)
    return lock_timeout_option(func)


def actor_option(func: F) -> F:
    """--actor: who plans, applies or reverts, for the policy and the history."""
    return click.option(
        "--actor",
        type=TEXT,
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
        type=TEXT,
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


COMMAND_MODULES: dict[str, str] = {
    "init": "init",
    "validate": "validate",
    "plan": "plan",
    "apply": "apply",
    "freeze": "freeze",
    "revert": "revert",
    "trigger": "trigger",
    "status": "show",
    "history": "show",
    "show": "show",
    "compare": "compare",
    "reproduce": "reproduce",
    "monitor": "monitor",
    "report": "report",
    "logs": "logs",
    "state": "state",
    "store": "store",
    "export": "bundles",
    "import": "bundles",
}
"""Each command and the module under mvctl/cli/ that defines it (in its ``COMMANDS``)."""


class CommandTable(click.Group):
    """The `mvctl` group, whose commands are imported when one is asked for: a command
    starts without the other command modules, and they import their shared options from here
    with no cycle. `--help` and shell completion list them all from ``COMMAND_MODULES``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            module = importlib.import_module(f"mvctl.cli.{COMMAND_MODULES[cmd_name]}")
            for command in module.COMMANDS:
                _with_plain_output_option(command)
                self.add_command(command)
        return self.commands.get(cmd_name)


@click.group(
    cls=CommandTable,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="mvctl", message="%(prog)s %(version)s")
@click.option(
    "-C",
    "--chdir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Work in DIR, as if started there: the config is found from it and relative paths "
    "given on the command line are taken from it.",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MVCTL_CONFIG",
    help="The config file (default: mvctl.yaml here or in a parent folder). Also MVCTL_CONFIG.",
)
@click.option(
    "--no-color",
    is_flag=True,
    help="Plain output even on a terminal; also accepted after the command, and NO_COLOR=1.",
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(
    ctx: click.Context, chdir: Path | None, config_path: Path | None, no_color: bool, debug: bool
) -> None:
    """Version control and release management for ML models: plan, apply, revert.

    Declare models, versions, pipelines and aliases in mvctl.yaml; `mvctl plan` shows what
    would change; `mvctl apply` trains and promotes; `mvctl revert` rolls back.
    """
    if chdir is not None:
        _change_directory(chdir)
    ctx.obj = AppContext(config_path, False if no_color else None)


def _change_directory(folder: Path) -> None:
    from mvctl.errors import UsageError

    try:
        os.chdir(folder)
    except OSError as error:
        raise UsageError(
            f"cannot work in {folder}: {error.strerror or error}",
            fix="Give -C/--chdir a folder that exists.",
        ) from error


def _plain_output(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """`--no-color` after the command name, where click would not pass it to the group."""
    app = ctx.find_object(AppContext)
    if value and app is not None:
        app.color = False


NO_COLOR_AFTER_THE_COMMAND = click.Option(
    ["--no-color"],
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_plain_output,
    help="Plain output even on a terminal.",
)


def _with_plain_output_option(command: click.Command) -> None:
    """Every command, and each command of a group (`state check`), accepts `--no-color`."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_plain_output_option(sub)
    else:
        command.params.append(NO_COLOR_AFTER_THE_COMMAND)
