"""Models and versions named on the command line, checked against the state or the config.

A version is named as `MODEL@VERSION`, or as `MODEL:ALIAS` (as the plan prints it) for the
version the alias points at in the recorded state.

A mistyped name must never read as "nothing recorded": when a lookup finds nothing, these
say which name is unknown and list the near names (or all of them, when none is near).
The recorded names are read only then, so a lookup that succeeds costs nothing more.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from mvctl.errors import NotFoundError, UsageError, did_you_mean, listing
from mvctl.project import Project
from mvctl.state import StateReader

if TYPE_CHECKING:
    from mvctl.spec.models import Config


def version_reference(project: Project, reference: str) -> tuple[str, str]:
    """(model, label) of `MODEL@VERSION`, or of the version `MODEL:ALIAS` points at now."""
    model, at, label = reference.partition("@")
    if at and model and label and ":" not in reference:
        return model, label
    model, colon, alias = reference.partition(":")
    if not colon or not model or not alias or "@" in reference:
        raise UsageError(
            f"'{reference}' is neither MODEL@VERSION nor MODEL:ALIAS",
            fix="For example: churn@1.0.0, or churn:production for the version it serves.",
        )
    with project.open_state(create=False) as state:
        recorded = state.snapshot()
        pointed = recorded.aliases.get((model, alias))
        if pointed is not None:
            return model, pointed.version
        unknown = unrecorded_model(state, project.models, model)
    if unknown is not None:
        raise unknown
    aliases = sorted(name for (m, name) in recorded.aliases if m == model)
    raise NotFoundError(
        f"alias {model}:{alias} points at no version in the state",
        fix=_near(alias, aliases, f"Recorded aliases of {model}"),
    )


def unrecorded_model(
    state: StateReader, declared: Collection[str], model: str
) -> NotFoundError | None:
    """The error for a model the state does not hold (``declared``: the config's models);
    None when it does."""
    models = sorted(state.snapshot().models)
    if model in models:
        return None
    if model in declared:
        return NotFoundError(
            f"model '{model}' is declared but not recorded yet",
            fix="Run `mvctl plan`, then `mvctl apply` to train and record it.",
        )
    return NotFoundError(
        f"model '{model}' is not recorded in the state",
        fix=_near(model, models, "Recorded models"),
    )


def unrecorded_version(
    state: StateReader, declared: Collection[str], model: str, label: str
) -> NotFoundError:
    """The error for ``model@label`` that the state does not hold (``declared``: the config's
    models)."""
    unknown = unrecorded_model(state, declared, model)
    if unknown is not None and model in declared:
        return NotFoundError(
            f"{model}@{label} is not recorded in the state: no version of {model} is yet",
            fix=unknown.fix,
        )
    if unknown is not None:
        return unknown
    labels = sorted(version.label for version in state.versions_of(model))
    return NotFoundError(
        f"{model}@{label} is not recorded in the state",
        fix=_near(label, labels, f"Recorded versions of {model}"),
    )


def unknown_declared(config: Config, model: str, label: str | None = None) -> NotFoundError:
    """The error for ``model`` (or ``model@label``) that the config does not declare."""
    spec = config.models.get(model)
    if spec is None:
        return NotFoundError(
            f"model '{model}' is not declared in the config",
            fix=_near(model, sorted(config.models), "Declared models"),
        )
    return NotFoundError(
        f"{model}@{label} is not declared in the config",
        fix=_near(label or "", sorted(spec.versions), f"Declared versions of {model}"),
    )


def _near(word: str, names: Iterable[str], heading: str) -> str:
    names = list(names)
    return did_you_mean(word, names, f"{heading}: {listing(names)}.")
