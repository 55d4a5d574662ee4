"""What revert reads from the config: the aliases it declares, the notifications to send and
how to check each model's files before an alias serves them again.

Revert moves pointers (DESIGN: under 0.2 s, as an alias set in a registry), and the full load
(pydantic, the schema, every model resolved) is most of that. So, as status and history find
their project, revert reads these few keys from the config files' plain values when they hold
nothing that needs the schema: no notifications, no `uses: torch` step (whose model module the
check of a torch file needs), every model's `aliases` a mapping of names to labels and its
`trusted_types` a list of names. Anything else, and the config goes to the full load, which
reports every problem as before. A mistake elsewhere in the config does not block a revert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvctl.errors import SpecErrors
from mvctl.project import Project, find_config, project_of
from mvctl.spec.merged import read_merged

if TYPE_CHECKING:
    from mvctl.spec.models import Notification
    from mvctl.workspace import Workspace


@dataclass(frozen=True)
class ServedCheck:
    """How a model's file is checked before an alias serves it again."""

    trusted_types: tuple[str, ...] = ()
    torch_module: str | None = None


@dataclass(frozen=True)
class RevertSettings:
    project: Project
    aliases: Mapping[tuple[str, str], str]
    """(model, alias) -> the version label the config asks for."""
    notifications: tuple[Notification, ...]
    checks: Mapping[str, ServedCheck]
    """Per declared model; a model the config no longer declares is checked with defaults."""


def revert_settings(explicit_config: Path | None = None) -> RevertSettings:
    """The settings of the project whose config is ``explicit_config`` or the nearest
    mvctl.yaml: from its plain values where they suffice, else from the full load."""
    path = find_config(explicit_config, Path.cwd())
    try:
        merged = read_merged(path)
    except SpecErrors:
        merged = None
    if merged is not None:
        project = project_of(merged)
        if project is not None:
            found = _plain_settings(project, merged.data)
            if found is not None:
                return found
    from mvctl.workspace import load_workspace

    return workspace_settings(load_workspace(path))


def workspace_settings(workspace: Workspace) -> RevertSettings:
    """The settings of a config loaded and checked whole."""
    from mvctl.core.resolve import torch_module

    models = workspace.config.models
    return RevertSettings(
        workspace,
        {(name, alias): label for name, m in models.items() for alias, label in m.aliases.items()},
        tuple(workspace.config.notifications),
        {name: ServedCheck(tuple(m.trusted_types), torch_module(m)) for name, m in models.items()},
    )


def _plain_settings(project: Project, data: Mapping[str, Any]) -> RevertSettings | None:
    """The settings from the config's plain values, or None where the full load is needed."""
    if data.get("notifications", []) != []:
        return None
    aliases: dict[tuple[str, str], str] = {}
    checks: dict[str, ServedCheck] = {}
    for name, body in data.get("models", {}).items():
        if not isinstance(body, dict):
            return None
        declared = body.get("aliases", {})
        trusted = body.get("trusted_types", [])
        pipeline = body.get("pipeline", [])
        if not (
            isinstance(declared, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in declared.items())
            and isinstance(trusted, list)
            and all(isinstance(t, str) for t in trusted)
            and isinstance(pipeline, list)
            and all(isinstance(step, dict) and step.get("uses") != "torch" for step in pipeline)
        ):
            return None
        aliases.update({(name, alias): label for alias, label in declared.items()})
        checks[name] = ServedCheck(tuple(trusted))
    return RevertSettings(project, aliases, (), checks)
