"""A project with its config loaded and checked (where it is: ``project.py``): what every
command but status and history works with, and the files, digests and checks it names."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mvctl.core.bundle_source import BundleSource
from mvctl.core.resolve import UNSET_ENV, env_names
from mvctl.errors import SpecError, SpecErrors
from mvctl.project import Project, find_config, loaded_project
from mvctl.spec.loader import LoadedConfig, load_config
from mvctl.spec.models import (
    Config,
    Step,
    dep_path,
    dep_place,
    is_step_reference,
)
from mvctl.store.digests import DepMissingError, DepOutsideError, DigestCache, dep_files

if TYPE_CHECKING:
    from mvctl.bundles.declared import BundleChecks


@dataclass(frozen=True)
class Workspace(Project):
    """A project whose config was loaded and checked whole: what planning, applying and
    every other command that reads the config beyond where the state is works with."""

    loaded: LoadedConfig = field(kw_only=True)
    checked_bundles: BundleChecks = field(default_factory=dict, compare=False, repr=False)

    @property
    def config(self) -> Config:
        return self.loaded.config

    def missing_blobs(self, digests: Iterable[str]) -> frozenset[str]:
        """Those of ``digests`` missing from the store: one existence check each, never a scan
        of the store (plan stays cheap)."""
        store = self.open_store()
        return frozenset(digest for digest in digests if not store.has(digest))

    def missing_step_outputs(self, outputs: Mapping[str, Mapping[str, str]]) -> frozenset[str]:
        """Cache keys among ``outputs`` ({key: {file: digest}}) with an output the store lacks:
        one existence check per distinct blob."""
        store = self.open_store()
        present: dict[str, bool] = {}
        missing = set()
        for key, files in outputs.items():
            for digest in files.values():
                if digest not in present:
                    present[digest] = store.has(digest)
                if not present[digest]:
                    missing.add(key)
        return frozenset(missing)

    def digest_cache(self) -> DigestCache:
        """The project's file digests, kept by (size, mtime, inode) in `.mvctl/cache/`."""
        return DigestCache(self.private_dir / "cache" / "digests.json")

    def digests(self) -> tuple[dict[str, str], dict[str, str], int]:
        """Digests of every dep and artifact file (stat-cached), of declared env vars, and
        how many files had to be hashed."""
        cache = self.digest_cache()
        digests: dict[str, str] = {}
        problems: list[SpecError] = []
        for dep, place_path in self._declared_deps():
            if dep in digests:
                continue
            try:
                digests[dep] = cache.dep_digest(self.root, dep)
            except (DepMissingError, DepOutsideError) as error:
                problems.append(self._dep_error(error, place_path))
        if problems:
            raise SpecErrors(problems)
        cache.save()
        env = {
            name: env_digest(name)
            for model in self.loaded.config.models.values()
            for name in env_names(model)
            if name in os.environ
        }
        return digests, env, cache.hashed_files

    def current_digests(self, deps: Iterable[str]) -> dict[str, str | None]:
        """Digests of ``deps`` as they are now (stat-cached); None for one that is missing or
        leads outside the project. For `show`, whose paths come from a recorded spec."""
        cache = DigestCache(self.private_dir / "cache" / "digests.json")
        found: dict[str, str | None] = {}
        for dep in deps:
            try:
                found[dep] = cache.dep_digest(self.root, dep)
            except (DepMissingError, DepOutsideError, OSError, ValueError):
                found[dep] = None
        cache.save()
        return found

    def check_deps_exist(self) -> None:
        """Every file dep and artifact is on disk, inside the project (no hashing): part of
        `mvctl validate`."""
        problems = []
        real_root = self.root.resolve()
        for dep, place_path in self._declared_deps():
            try:
                dep_files(self.root, real_root, dep)
            except (DepMissingError, DepOutsideError) as error:
                problems.append(self._dep_error(error, place_path))
        if problems:
            raise SpecErrors(problems)

    def check_registered_artifacts(self, digests: Mapping[str, str] | None = None) -> None:
        """Every version's `artifact:` file passes registration's checks (a safe format, trusted
        types only, a whole safetensors header), else SpecErrors placed at the `artifact:` keys.
        ``digests``: the files' digests when already computed (plan, apply)."""
        if not self._declares_files():
            return
        from mvctl.apply.registration import check_registered_artifacts
        from mvctl.bundles.declared import check_declared_bundles

        cache = self.digest_cache()

        def digest_of(artifact: str) -> str:
            if digests is not None and artifact in digests:
                return digests[artifact]
            return cache.dep_digest(self.root, artifact)

        errors = check_registered_artifacts(
            self.loaded, digest_of, self.private_dir / "cache" / "artifact-checks.json"
        )
        errors += check_declared_bundles(self.loaded, digest_of, self.checked_bundles)[1]
        cache.save()
        if errors:
            raise SpecErrors(errors)

    def bundle_sources(self, digests: Mapping[str, str]) -> dict[tuple[str, str], BundleSource]:
        """What each `bundle:` version's checks found (checked once per command), by (model,
        label); SpecErrors at the `bundle:` keys of those refused."""
        if not self._declares_files():
            return {}
        from mvctl.bundles.declared import check_declared_bundles

        sources, errors = check_declared_bundles(
            self.loaded, digests.__getitem__, self.checked_bundles
        )
        if errors:
            raise SpecErrors(errors)
        return sources

    def _declares_files(self) -> bool:
        """Whether a version is registered from an `artifact:` file or a `bundle:`: the
        checks of those (and their modules) are loaded only then."""
        return any(
            version.artifact is not None or version.bundle is not None
            for model in self.config.models.values()
            for version in model.versions.values()
        )

    def _dep_error(
        self, error: DepMissingError | DepOutsideError, place_path: tuple[str | int, ...]
    ) -> SpecError:
        place = self.loaded.positions.place(place_path)
        if isinstance(error, DepOutsideError):
            through = "" if error.found == error.dep else f" through '{error.found}'"
            return SpecError(
                f"'{error.dep}' leads outside the project{through} (to {error.real})",
                place=place,
                fix="Copy the file into the project, or point the path at one inside it.",
            )
        return SpecError(
            f"'{error.dep}' does not exist in {self.root}",
            place=place,
            fix="Create it, fix the path (relative to the project root), or remove it.",
        )

    def _declared_deps(self) -> Iterator[tuple[str, tuple[str | int, ...]]]:
        for model_name, model in self.loaded.config.models.items():
            pipelines: list[tuple[tuple[str | int, ...], list[Step]]] = [
                (("models", model_name, "pipeline"), model.pipeline)
            ]
            for label, version in model.versions.items():
                if version.artifact is not None:
                    yield version.artifact, ("models", model_name, "versions", label, "artifact")
                for key in ("bundle", "verify_key"):
                    path = getattr(version, key)
                    if path is not None:
                        yield path, ("models", model_name, "versions", label, key)
                if version.pipeline is not None:
                    where = ("models", model_name, "versions", label, "pipeline")
                    pipelines.append((where, version.pipeline))
            for base, pipeline in pipelines:
                known = {step.name for step in pipeline}
                for index, step in enumerate(pipeline):
                    for dep_index, written in enumerate(step.deps):
                        dep = dep_path(written)
                        if not is_step_reference(dep, known):
                            yield dep, dep_place((*base, index, "deps", dep_index), written)
            for index, trigger in enumerate(model.triggers):
                for path_index, watched in enumerate(trigger.on_change or ()):
                    yield (
                        watched,
                        ("models", model_name, "triggers", index, "on_change", path_index),
                    )
            evaluation = model.evaluation
            if evaluation is not None and evaluation.dataset is not None:
                yield evaluation.dataset, ("models", model_name, "evaluation", "dataset")
            for index, dataset in enumerate(evaluation.datasets if evaluation else ()):
                if dataset.path is not None:
                    yield (
                        dataset.path,
                        ("models", model_name, "evaluation", "datasets", index, "path"),
                    )


def env_digest(name: str) -> str:
    """What a step's cache key holds for the environment variable ``name``: its value's
    digest, or "unset"."""
    value = os.environ.get(name)
    if value is None:
        return UNSET_ENV
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def load_workspace(explicit_config: Path | None = None, start: Path | None = None) -> Workspace:
    """The project of ``explicit_config`` or the nearest mvctl.yaml, its config loaded and
    checked (``SpecErrors`` naming every problem)."""
    loaded = load_config(find_config(explicit_config, start or Path.cwd()))
    where = loaded_project(loaded)
    return Workspace(
        where.root,
        where.files,
        where.name,
        where.models,
        where.state_url,
        where.store_url,
        loaded=loaded,
    )
