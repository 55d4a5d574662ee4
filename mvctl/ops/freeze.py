"""mvctl freeze [MODEL[@VERSION]]: write trained versions' recorded recipes into their blocks.

Reads the config, the recorded state (never writes it) and the file digests; ``core.freeze``
decides the pins of each trained version whose declared recipe changed; here they become
round-trip edits of the file that declares the model (an included file too), so comments,
order, quoting and formatting stay as written. The edited files are loaded and checked before
anything is written, and every frozen version must then declare its recorded recipe exactly;
with ``check`` nothing is written at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mvctl.core.freeze import FreezeRefusal, Pin, VersionFreeze, freeze_version
from mvctl.core.lineage import kept_as_recorded
from mvctl.core.recorded import RecordedState
from mvctl.core.resolve import resolve_model
from mvctl.errors import SpecError, SpecErrors, UsageError
from mvctl.ops.lookup import unknown_declared
from mvctl.results.freeze import FileEdit, FreezeResult, FreezeSkip, FrozenVersion
from mvctl.spec.loader import load_config
from mvctl.spec.paths import is_inside
from mvctl.spec.positions import FILE
from mvctl.spec.writeback import Edit, Remove, SetValue, block_then_flow, edit_text, replace_file
from mvctl.spec.writeback import unified_diff as diff_of
from mvctl.workspace import Workspace

PIPELINE_BLOCK_LEVELS = 2
"""A pinned pipeline is written one step per item, each field on one line."""


@dataclass(frozen=True)
class FreezeOptions:
    target: str | None = None
    """MODEL or MODEL@VERSION; None: every declared model."""
    check: bool = False
    """Say what would be written, write nothing."""


def freeze(workspace: Workspace, options: FreezeOptions) -> FreezeResult:
    config = workspace.config
    model_name, label = _target(workspace, options.target)
    digests, env_digests, _ = workspace.digests()
    with workspace.open_state(create=False) as state:
        recorded = state.snapshot()
    frozen: list[VersionFreeze] = []
    skipped: list[FreezeSkip] = []
    for name in sorted(config.models) if model_name is None else [model_name]:
        model = config.models[name]
        declared = resolve_model(name, model, digests, env_digests)
        for version_label in model.versions if label is None else [label]:
            outcome = freeze_version(
                name,
                model,
                version_label,
                declared[version_label],
                recorded.versions.get((name, version_label)),
            )
            target = f"{name}@{version_label}"
            if isinstance(outcome, FreezeRefusal):
                skipped.append(FreezeSkip(target, outcome.reason))
            elif outcome is not None and model.versions[version_label].on_conflict == "overwrite":
                skipped.append(
                    FreezeSkip(
                        target,
                        "it sets `on_conflict: overwrite`, so the plan retrains it under its "
                        "label; remove that to freeze it instead",
                    )
                )
            elif outcome is not None:
                frozen.append(outcome)
    files = _files_of(workspace, frozen)
    texts = _edited_texts(workspace, frozen, files)
    _check_edited(workspace, frozen, texts, digests, env_digests, recorded)
    edits = tuple(
        FileEdit(_shown(workspace, path), diff_of(before, after, _shown(workspace, path)))
        for path, (before, after) in texts.items()
        if before != after
    )
    if not options.check:
        _refuse_links(workspace, files.values())
        for path, (before, after) in texts.items():
            if before != after:
                replace_file(path.resolve(), after)
    versions = tuple(
        FrozenVersion(f.model, f.label, _shown(workspace, files[f.model]), f.form, f.changes)
        for f in frozen
    )
    return FreezeResult(options.check, versions, tuple(skipped), edits)


def _target(workspace: Workspace, target: str | None) -> tuple[str | None, str | None]:
    """The model and label named, each declared in the config (freeze writes their blocks)."""
    if target is None:
        return None, None
    model, at, label = target.partition("@")
    if not model or (at and not label):
        raise UsageError(
            f"'{target}' is not MODEL or MODEL@VERSION",
            fix="For example: mvctl freeze churn, or mvctl freeze churn@1.0.0.",
        )
    spec = workspace.config.models.get(model)
    if spec is None:
        raise unknown_declared(workspace.config, model)
    if at and label not in spec.versions:
        raise unknown_declared(workspace.config, model, label)
    return model, label or None


def _files_of(workspace: Workspace, frozen: Sequence[VersionFreeze]) -> dict[str, Path]:
    """The file that declares each model with a version to freeze, as loaded."""
    positions = workspace.loaded.positions
    return {
        f.model: workspace.loaded.files[positions.find(("models", f.model))[FILE]] for f in frozen
    }


def _refuse_links(workspace: Workspace, files: Iterable[Path]) -> None:
    """Freeze writes only config files that are inside the project themselves: never through
    a symbolic link, which could lead anywhere and is not the file a reviewer sees change."""
    real_root = workspace.root.resolve()
    for path in sorted(set(files)):
        if path.is_symlink() or not is_inside(path.resolve(), real_root):
            raise UsageError(
                f"refusing to write {path}: it is a symbolic link (to {path.resolve()}); "
                "freeze edits only config files that are inside the project themselves",
                fix="Replace the link by a copy of the file, or make the edit by hand "
                "(`mvctl freeze --check` prints it). Nothing was written.",
            )


def _edited_texts(
    workspace: Workspace, frozen: Sequence[VersionFreeze], files: dict[str, Path]
) -> dict[Path, tuple[str, str]]:
    """Each file to edit -> (its text, its text with the pins written)."""
    edits: dict[Path, list[Edit]] = {}
    for version in frozen:
        base = ("models", version.model, "versions", version.label)
        edits.setdefault(files[version.model], []).extend(_edit(base, pin) for pin in version.pins)
    texts = {}
    for path, file_edits in edits.items():
        try:
            before = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(
                f"cannot read {_shown(workspace, path)}: {error}",
                fix="Check that the file is readable UTF-8.",
            ) from error
        texts[path] = (before, edit_text(before, file_edits, file=_shown(workspace, path)))
    return texts


def _edit(base: tuple[str, ...], pin: Pin) -> Edit:
    path = (*base, *pin.path)
    if pin.remove:
        return Remove(path)
    levels = PIPELINE_BLOCK_LEVELS if pin.path == ("pipeline",) else 0
    return SetValue(path, block_then_flow(pin.value, levels))


def _check_edited(
    workspace: Workspace,
    frozen: Sequence[VersionFreeze],
    texts: dict[Path, tuple[str, str]],
    digests: Mapping[str, str],
    env_digests: Mapping[str, str],
    recorded: RecordedState,
) -> None:
    """The edited config loads and passes every check, and each frozen version in it now
    declares its recorded recipe; else nothing is written."""
    if not frozen:
        return
    names = ", ".join(f"{f.model}@{f.label}" for f in frozen)
    try:
        loaded = load_config(
            workspace.loaded.files[0],
            {path.resolve(): after for path, (_, after) in texts.items()},
        )
    except SpecErrors as errors:
        raise SpecErrors(
            [
                SpecError(
                    f"freezing {names} would make the config invalid: {error.what}",
                    place=error.place,
                    field=error.field,
                    fix=(error.fix + " " if error.fix else "")
                    + "Nothing was written; fix this in the config first, or pin by hand.",
                )
                for error in errors.errors
            ]
        ) from errors
    for version in frozen:
        model = loaded.config.models[version.model]
        declared = resolve_model(version.model, model, digests, env_digests)[version.label]
        comparison = kept_as_recorded(
            declared, recorded.versions.get((version.model, version.label))
        )
        if comparison is not None and comparison.as_recorded is None:
            raise SpecError(
                f"the pins freeze would write for {version.model}@{version.label} do not read "
                "back as its recorded recipe",
                obj=_shown(workspace, workspace.loaded.files[0]),
                fix="Nothing was written. Pin the recorded values by hand (see `mvctl show "
                f"{version.model}@{version.label} --json`), or bump the version.",
            )


def _shown(workspace: Workspace, path: Path) -> str:
    """A config file as people name it: relative to the project root when inside it."""
    for inside, root in (
        (path.absolute(), workspace.root.absolute()),
        (path.resolve(), workspace.root.resolve()),
    ):
        if inside.is_relative_to(root):
            return str(inside.relative_to(root))
    return str(path)
