"""Where a project is: its config files, its name and models, and where it keeps its state
and store.

Environment overrides the config (MVCTL_STATE, MVCTL_STORE), the config overrides the
defaults (`sqlite:///.mvctl/state.db`, `.mvctl/store`); relative paths are taken from the
project root, never from wherever the command was started.

A ``Project`` is all that the commands reading only the recorded state need (status,
history): ``locate_project`` reads the config files as safely as a full load but does not
check them against the schema, so those commands neither load pydantic nor refuse to show the
state over a mistake elsewhere in the config. Anything unexpected in what it reads, and it
leaves the config to the full load, which reports it. `state migrate/lock/unlock` take a
Project too, and revert reads its few settings the same way (``ops.revert_settings``). The other commands load a ``Workspace``: a project whose config
was loaded and checked whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from mvctl.errors import SpecErrors, UsageError
from mvctl.spec.merged import MergedConfig, read_merged
from mvctl.spec.names import MAX_NAME_LENGTH, NAME_PATTERN
from mvctl.state import StateReader, StateWriter
from mvctl.store.blobs import BlobStore, LocalStore

if TYPE_CHECKING:
    from mvctl.spec.loader import LoadedConfig

CONFIG_NAME = "mvctl.yaml"
DEFAULT_STATE = "sqlite:///.mvctl/state.db"
DEFAULT_STORE = ".mvctl/store"


@dataclass(frozen=True)
class Project:
    root: Path
    """The folder of the main config file, absolute: relative paths start here."""
    files: tuple[Path, ...]
    """The main config file, then the included ones, for display."""
    name: str
    models: frozenset[str]
    """The models the config declares."""
    state_url: str
    store_url: str

    @property
    def private_dir(self) -> Path:
        """`.mvctl/` in the project: default state, store, caches and work folders."""
        return self.root / ".mvctl"

    @overload
    def open_state(self, *, create: Literal[False]) -> StateReader: ...
    @overload
    def open_state(self, *, create: Literal[True]) -> StateWriter: ...
    def open_state(self, *, create: bool) -> StateReader:
        """The state to read (``create=False``: writes nothing, a missing database reads as
        empty), or to write (``create=True``: created and migrated as needed)."""
        if create:
            from mvctl.state.db import StateDB

            return StateDB.open(self.state_url, create=True)
        from mvctl.state.reading import ReadOnlyStateDB

        return ReadOnlyStateDB.open(self.state_url)

    def open_store(self) -> BlobStore:
        """The local folder store, or the S3 store for `s3://bucket/prefix` (checked reachable)."""
        if self.store_url.startswith("s3://"):
            from mvctl.store.s3 import S3Store

            store = S3Store(self.store_url)
            store.check()
            return store
        if "://" in self.store_url:
            raise UsageError(
                f"store {self.store_url!r} is neither a folder nor an s3:// URL",
                fix="Set `store:` (or MVCTL_STORE) to a folder path or s3://bucket/prefix.",
            )
        return LocalStore(Path(self.store_url))


def locate_project(explicit_config: Path | None = None, start: Path | None = None) -> Project:
    """The project whose config is ``explicit_config`` or the nearest mvctl.yaml, from its
    files' plain values; where those hold anything unexpected, from the full load, which
    raises naming every problem."""
    path = find_config(explicit_config, start or Path.cwd())
    try:
        found = project_of(read_merged(path))
    except SpecErrors:
        found = None
    if found is not None:
        return found
    from mvctl.spec.loader import load_config

    return loaded_project(load_config(path))


def loaded_project(loaded: LoadedConfig) -> Project:
    """Where the project of a loaded (checked) config is."""
    config = loaded.config
    return project_at(
        loaded.root,
        loaded.files,
        config.project,
        frozenset(config.models),
        config.state,
        config.store,
    )


def project_of(merged: MergedConfig) -> Project | None:
    """The project ``merged`` describes, or None where the schema has something to say."""
    data = merged.data
    name, state, store = data.get("project"), data.get("state"), data.get("store")
    models = data.get("models", {})
    if not (
        isinstance(name, str) and len(name) <= MAX_NAME_LENGTH and re.match(NAME_PATTERN, name)
    ):
        return None
    if not all(value is None or (isinstance(value, str) and value) for value in (state, store)):
        return None
    if not isinstance(models, dict) or not all(isinstance(key, str) for key in models):
        return None
    return project_at(merged.root, tuple(merged.files), name, frozenset(models), state, store)


def project_at(
    root: Path,
    files: tuple[Path, ...],
    name: str,
    models: frozenset[str],
    state: str | None,
    store: str | None,
) -> Project:
    """The project in ``root`` with the config's `state:` and `store:` (None: not set), the
    environment's overrides applied and relative locations anchored at the root."""
    state_url = os.environ.get("MVCTL_STATE") or state or DEFAULT_STATE
    store_url = os.environ.get("MVCTL_STORE") or store or DEFAULT_STORE
    return Project(
        root,
        files,
        name,
        models,
        _anchor_state_url(state_url, root),
        _anchor_store(store_url, root),
    )


def find_config(explicit: Path | None, start: Path) -> Path:
    """The config named by --config, or mvctl.yaml in ``start`` or the nearest parent."""
    if explicit is not None:
        try:
            is_file, exists = explicit.is_file(), explicit.exists()
        except OSError as error:  # a name too long, a loop of links
            raise UsageError(
                f"cannot read config file {explicit}: {error.strerror or error}",
                fix="Check the --config path.",
            ) from error
        if not is_file:
            problem = "is not a regular file" if exists else "does not exist"
            raise UsageError(f"config file {explicit} {problem}", fix="Check the --config path.")
        return explicit
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"no {CONFIG_NAME} in {start} or any folder above it",
        fix="Run `mvctl init` to create a project, or pass --config FILE.",
    )


def _anchor_state_url(url: str, root: Path) -> str:
    prefix = "sqlite:///"
    rest = url[len(prefix) :]
    # A SQLite URI (`sqlite:///file:PATH?mode=ro&uri=true`) is SQLite's own, passed as given.
    if url.startswith(prefix) and not rest.startswith(("/", "file:")) and rest != ":memory:":
        return prefix + str((root / rest).resolve())
    return url


def _anchor_store(url: str, root: Path) -> str:
    if "://" in url:
        return url
    return str((root / url).resolve())
