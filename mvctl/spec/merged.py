"""Reading ``mvctl.yaml`` and merging in its ``include:`` files: plain values and their places.

The first half of loading a configuration (``loader.py`` then checks the merged values against
the spec models). Apart from it so that the commands that only need to know where a project
keeps its state (status, history) read the same files just as safely without loading the
schema: ``read_merged`` returns the merged values or raises at the first problem, for the full
load to report with everything else.
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.errors import Place, SpecError, SpecErrors
from mvctl.spec.paths import is_inside, project_path_problem
from mvctl.spec.positions import (
    CHILDREN,
    COLUMN,
    FILE,
    KEY_COLUMN,
    KEY_LINE,
    LINE,
    RAW,
    Entry,
    NodePath,
    Positions,
)
from mvctl.spec.reader import YamlDocument, read_yaml

MAX_FILE_BYTES = 64 * 1024 * 1024
"""A configuration larger than this is refused rather than read into memory."""


@dataclass(frozen=True)
class MergedConfig:
    """The main file's values with every included file's models merged in, unchecked."""

    data: dict[str, Any]
    root: Path
    files: tuple[Path, ...]


def read_merged(path: Path) -> MergedConfig:
    """The merged values of ``path`` and its includes; ``SpecErrors`` at the first problem
    found reading them (the full load reports it with every other)."""
    files = ConfigFiles(path, {})
    data, _ = files.merge()
    if files.errors:
        raise files.failure()
    return MergedConfig(data, files.root, tuple(files.files))


class ConfigFiles:
    """Reads the main file and the files its ``include:`` names, collecting every problem."""

    def __init__(self, path: Path, texts: Mapping[Path, str]) -> None:
        self.path = path
        self.texts = texts
        self.root = path.absolute().parent
        self.files: list[Path] = []
        self.names: list[str] = []
        self.errors: list[SpecError] = []
        self.reported: set[NodePath] = set()

    def merge(self) -> tuple[dict[str, Any], Entry]:
        """The main file's values and places with the included models merged in; raises
        when the main file holds no mapping to go on with."""
        document = self.read(self.path, "")
        data, entry = document.value, document.entry
        if not isinstance(data, dict) or entry is None:
            raise self.failure()
        return self.include(data, entry)

    def read(self, path: Path, included_by: str) -> YamlDocument:
        """Read one file and check its top level; problems go to ``self.errors``."""
        name = _display(path)
        index = len(self.names)
        self.files.append(path)
        self.names.append(name)
        where = Place(name, 1, 1)
        try:
            edited = self.texts.get(path.resolve()) if self.texts else None
            if edited is None and path.stat().st_size > MAX_FILE_BYTES:
                self.errors.append(
                    SpecError(
                        f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                        place=Place(name),
                        fix="Split the models into included files.",
                    )
                )
                return YamlDocument(None, None, [], set())
            data = edited.encode("utf-8") if edited is not None else path.read_bytes()
        except FileNotFoundError:
            fix = (
                "Check the 'include' pattern."
                if included_by
                else "Run 'mvctl init' to create one, or pass the path of your configuration."
            )
            self.errors.append(SpecError("no such file", place=Place(name), fix=fix))
            return YamlDocument(None, None, [], set())
        except OSError as exc:
            self.errors.append(
                SpecError(f"cannot read the file: {exc.strerror or exc}", place=Place(name))
            )
            return YamlDocument(None, None, [], set())
        document = read_yaml(data, name, index)
        self.errors += document.errors
        self.reported |= document.reported
        if document.errors and document.entry is None:
            return document
        what = "an included file" if included_by else "the configuration"
        if document.value is None:
            fix = (
                "Give it 'models:' or remove it from 'include'."
                if included_by
                else "Start with 'project: <name>' and 'models:'; 'mvctl init' writes an example."
            )
            self.errors.append(SpecError(f"{what} is empty", place=where, fix=fix))
        elif not isinstance(document.value, dict):
            kind = "a list" if isinstance(document.value, list) else "a single value"
            entry = document.entry
            if entry is not None:
                where = Place(name, entry[KEY_LINE], entry[KEY_COLUMN])
            keys = "models:" if included_by else "project:, models:, ..."
            self.errors.append(
                SpecError(
                    f"the top level of {what} must be a mapping of settings ({keys}), not {kind}",
                    place=where,
                    fix="Write settings as 'key: value' lines at the left margin.",
                )
            )
        return document

    def include(self, data: dict[str, Any], entry: Entry) -> tuple[dict[str, Any], Entry]:
        """Merge the models of every file that ``include:`` names into the main file's."""
        patterns = data.get("include")
        if not isinstance(patterns, list) or not patterns:
            return data, entry
        children: dict[Any, Entry] = dict(entry[CHILDREN])
        models_entry = children.get("models", children["include"])
        models = data.get("models")
        if "models" not in data:
            models, model_entries = {}, {}
        elif isinstance(models, dict):
            models, model_entries = dict(models), dict(models_entry[CHILDREN])
        else:
            return data, entry  # the schema reports that 'models' is not a mapping
        main = self.path.resolve()
        real_root = self.root.resolve()
        seen: set[Path] = {main}
        for index, pattern in enumerate(patterns):
            if not isinstance(pattern, str):
                continue  # the schema reports it
            problem = project_path_problem(pattern)
            if problem is not None:
                self.errors.append(
                    SpecError(
                        f"include pattern '{pattern}' {problem}; included files must be "
                        "inside the project",
                        place=self.place_in(entry, ("include", index)),
                        field=f"include[{index}]",
                        fix=f"Write the pattern relative to the folder of {self.names[0]}, "
                        "without '..'.",
                    )
                )
                continue
            try:
                found = glob.glob(pattern, root_dir=self.root, recursive=True)
            except (OSError, ValueError):  # e.g. a NUL byte written as "\0"
                found = []
            matches = [match for match in sorted(found) if (self.root / match).is_file()]
            if not matches:
                place = self.place_in(entry, ("include", index))
                self.errors.append(
                    SpecError(
                        f"include pattern '{pattern}' matches no file",
                        place=place,
                        field=f"include[{index}]",
                        fix=f"Patterns are relative to the folder of {self.names[0]}; "
                        "fix the pattern or remove it.",
                    )
                )
                continue
            for match in matches:
                resolved = (self.root / match).resolve()
                if not is_inside(resolved, real_root):
                    # Never read: its lines would be quoted back in the errors.
                    self.errors.append(
                        SpecError(
                            f"include pattern '{pattern}' matches '{match}', which leads "
                            f"outside the project (to {resolved})",
                            place=self.place_in(entry, ("include", index)),
                            field=f"include[{index}]",
                            fix="Copy the file into the project, or narrow the pattern.",
                        )
                    )
                    continue
                if resolved in seen:
                    continue
                seen.add(resolved)
                self.merge_file(self.path.parent / match, models, model_entries)
        children["models"] = (
            models_entry[FILE],
            models_entry[KEY_LINE],
            models_entry[KEY_COLUMN],
            models_entry[LINE],
            models_entry[COLUMN],
            model_entries,
            None,
        )
        root = (
            entry[FILE],
            entry[KEY_LINE],
            entry[KEY_COLUMN],
            entry[LINE],
            entry[COLUMN],
            children,
            entry[RAW],
        )
        return {**data, "models": models}, root

    def merge_file(self, path: Path, models: dict[str, Any], entries: dict[Any, Entry]) -> None:
        document = self.read(path, included_by=self.names[0])
        value, entry = document.value, document.entry
        if not isinstance(value, dict) or entry is None:
            return
        name = self.names[-1]
        for key in value:
            if key != "models":
                close = difflib.get_close_matches(str(key), ["models"], n=1)
                fix = (
                    "Did you mean 'models'?"
                    if close
                    else f"Move it into {self.names[0]}; included files add models only."
                )
                self.errors.append(
                    SpecError(
                        f"an included file may only hold 'models:', not '{key}'",
                        place=self.place_in(entry, (key,)),
                        field=str(key),
                        fix=fix,
                    )
                )
        included = value.get("models")
        if included is None:
            return
        models_entry = entry[CHILDREN]["models"]
        if not isinstance(included, dict):
            self.errors.append(
                SpecError(
                    "expected a mapping of model names to models",
                    field="models",
                    place=Place(name, models_entry[LINE], models_entry[COLUMN]),
                )
            )
            return
        for model, body in included.items():
            here = models_entry[CHILDREN][model]
            if model in entries:
                first = entries[model]
                first_place = Place(self.names[first[FILE]], first[KEY_LINE], first[KEY_COLUMN])
                self.errors.append(
                    SpecError(
                        f"model '{model}' is defined twice: at {first_place} and here",
                        place=Place(name, here[KEY_LINE], here[KEY_COLUMN]),
                        field=f"models.{model}",
                        fix="Keep one definition, or rename one of the models.",
                    )
                )
                continue
            models[model] = body
            entries[model] = here

    def place_in(self, entry: Entry, path: NodePath) -> Place:
        """A place inside one file's entries, before the merged positions exist."""
        return Positions(tuple(self.names), entry).place(path)

    def failure(self) -> SpecErrors:
        order = {name: index for index, name in enumerate(self.names)}

        def key(error: SpecError) -> tuple[int, int, int]:
            place = error.place
            if place is None:
                return (len(order), 0, 0)
            return (order.get(place.file, len(order)), place.line or 0, place.column or 0)

        unique: dict[str, SpecError] = {}
        for error in sorted(self.errors, key=key):
            unique.setdefault(error.message, error)
        if not unique:  # pragma: no cover - every failing path records why
            unique["?"] = SpecError(
                "the configuration could not be loaded", place=Place(self.names[0])
            )
        return SpecErrors(list(unique.values()))


def _display(path: Path) -> str:
    """A file as errors show it: as given when relative, else relative to the cwd if inside."""
    if not path.is_absolute():
        return os.path.normpath(path) if str(path) else "."
    try:
        return str(path.relative_to(Path.cwd()))
    except (ValueError, OSError):  # outside the cwd, or the cwd is gone
        return str(path)
