"""Shell completion of model names, versions and aliases, from the config and the state.

click asks these while the user presses Tab (`eval "$(_MVCTL_COMPLETE=bash_source mvctl)"`),
before any command runs: the group's options (`-C`, `--config`) are parsed but its callback
has not run, so the workspace is found from the parsed values here. A completion that cannot
be made (no config yet, a state that does not open) offers nothing rather than printing an
error into the user's shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from mvctl.errors import MvctlError


def complete_models(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Model names, declared or recorded."""
    names = _names(ctx)
    return [CompletionItem(name) for name in sorted(names.models) if name.startswith(incomplete)]


def complete_versions(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`MODEL@VERSION` for every declared or recorded version, `MODEL:ALIAS` for every
    recorded alias, with the version it serves as the help text."""
    names = _names(ctx)
    items = [CompletionItem(f"{model}@{label}") for model, label in sorted(names.versions)]
    items += [
        CompletionItem(f"{model}:{alias}", help=f"{model}@{label}")
        for (model, alias), label in sorted(names.aliases.items())
    ]
    return [item for item in items if str(item.value).startswith(incomplete)]


class _Names:
    def __init__(self) -> None:
        self.models: set[str] = set()
        self.versions: set[tuple[str, str]] = set()
        self.aliases: dict[tuple[str, str], str] = {}


def _names(ctx: click.Context) -> _Names:
    from mvctl.workspace import load_workspace

    names = _Names()
    root = ctx.find_root().params
    folder: Path | None = root.get("chdir")
    config: Path | None = root.get("config_path")
    try:
        start = Path(os.getcwd()) if folder is None else folder
        workspace = load_workspace(config if config is None else start / config, start)
        for model, spec in workspace.config.models.items():
            names.models.add(model)
            names.versions |= {(model, label) for label in spec.versions}
        with workspace.open_state(create=False) as state:
            recorded = state.snapshot()
    except (MvctlError, OSError):
        return names
    names.models |= recorded.models
    names.versions |= set(recorded.versions)
    names.aliases = {key: alias.version for key, alias in recorded.aliases.items()}
    return names
