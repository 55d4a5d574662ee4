"""The config's `bundle:` versions, checked before any plan is made.

`mvctl validate`, `plan` and `apply` check every declared bundle in full (``reading``), with
its version's `verify_key:`; a bundle that fails is an error at its `bundle:` key, so nothing
reads the state or the store on its word. What passed becomes the ``BundleSource`` the plan
shows (origin, signer, what it carries). Apply checks the bundle again from a private copy
before it stores anything, so a file changed after the plan is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from mvctl.bundles.reading import verify_bundle
from mvctl.bundles.signing import public_key_raw
from mvctl.core.bundle_source import BundleSource
from mvctl.errors import BundleError, SpecError, UsageError
from mvctl.spec.loader import LoadedConfig

BundleChecks = dict[tuple[str, str | None], BundleSource]
"""Sources already checked in this command, by (bundle digest, verify key digest)."""


def check_declared_bundles(
    loaded: LoadedConfig, digest_of: Callable[[str], str], checked: BundleChecks
) -> tuple[dict[tuple[str, str], BundleSource], list[SpecError]]:
    """Each `bundle:` version's source by (model, label), and an error per refused bundle."""
    sources: dict[tuple[str, str], BundleSource] = {}
    errors: list[SpecError] = []
    for model, label, bundle, key in _declared(loaded):
        memo_key = (digest_of(bundle), digest_of(key) if key is not None else None)
        source = checked.get(memo_key)
        if source is None:
            try:
                source = bundle_source(loaded.root, bundle, key)
            except (BundleError, UsageError) as error:
                field = "verify_key" if isinstance(error, UsageError) else "bundle"
                place = loaded.positions.place(("models", model, "versions", label, field))
                errors.append(SpecError(error.what, place=place, fix=error.fix))
                continue
            checked[memo_key] = source
        sources[(model, label)] = source
    return sources, errors


def bundle_source(root: Path, bundle: str, key: str | None) -> BundleSource:
    """Check the bundle at ``bundle`` (relative to ``root``), signed by ``key`` if given."""
    required = public_key_raw(root / key) if key is not None else None
    verified = verify_bundle(root / bundle, shown=bundle, required_key=required, key_name=key)
    manifest = verified.manifest
    return BundleSource(
        origin=manifest.origin,
        artifact_digest=manifest.files[manifest.artifact],
        signer=verified.signer,
        verify_key=key,
        metrics=len(manifest.data["metrics"]),
        step_outputs=sum(len(step["outputs"]) for step in manifest.data["steps"]),
    )


def _declared(loaded: LoadedConfig) -> Iterator[tuple[str, str, str, str | None]]:
    for model_name, model in loaded.config.models.items():
        for label, version in model.versions.items():
            if version.bundle is not None:
                yield model_name, label, version.bundle, version.verify_key
