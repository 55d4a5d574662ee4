"""mvctl import FILE: check a bundle, then declare it in the config for review.

Importing is declarative, like everything else in mvctl: this command trusts nothing it has
not checked (``bundles.reading``) and changes no state. It puts the bundle in the project
(``bundles/``, when it lies elsewhere) and writes the version block ``{bundle: PATH}`` (with
``verify_key`` when a key was required, and the model itself when the config has none) into
the file that declares the model, by a round-trip edit that keeps everything else as written.
The next `mvctl plan` shows the import; `mvctl apply` registers it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from mvctl.bundles.reading import VerifiedBundle, verify_bundle
from mvctl.bundles.signing import public_key_raw
from mvctl.errors import UsageError
from mvctl.results.bundles import ImportResult
from mvctl.spec.names import NAME_PATTERN
from mvctl.spec.writeback import SetValue, edit_text, quoted, replace_file, unified_diff
from mvctl.store.blobs import hash_file
from mvctl.workspace import Workspace

LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
BUNDLE_FOLDER = "bundles"


def import_bundle(
    workspace: Workspace,
    bundle: Path,
    *,
    verify_key: Path | None = None,
    as_label: str | None = None,
) -> ImportResult:
    """Check ``bundle`` and declare it as a version; nothing is written when a check fails."""
    required = public_key_raw(verify_key) if verify_key is not None else None
    verified = verify_bundle(
        bundle, shown=str(bundle), required_key=required, key_name=str(verify_key)
    )
    manifest = verified.manifest
    model = manifest.model
    label = as_label if as_label is not None else manifest.label
    _check_names(model, label, as_label is not None)
    root = workspace.root
    inside = _inside(root, bundle)
    bundle_path = inside or f"{BUNDLE_FOLDER}/{model}-{label}.tar.gz"
    key_path = None
    if verify_key is not None:
        key_path = _inside(root, verify_key) or f"{BUNDLE_FOLDER}/keys/{verify_key.name}"
    declared = workspace.config.models.get(model)
    block: dict[str, Any] = {"bundle": bundle_path}
    if key_path is not None:
        block["verify_key"] = key_path
    if declared is not None and label in declared.versions:
        existing = declared.versions[label]
        in_place = root / bundle_path
        same = in_place.is_file() and hash_file(in_place) == hash_file(bundle)
        if existing.bundle == bundle_path and existing.verify_key == key_path and same:
            config_file = _declaring_file(workspace, model)
            return _result(verified, model, label, bundle_path, config_file, "", False)
        raise UsageError(
            f"{model}@{label} is already declared in the config",
            fix=f"Import it under another label: mvctl import {bundle} --as LABEL.",
        )
    config_file = _declaring_file(workspace, model)
    text = config_file.read_text("utf-8")
    if declared is None:
        edits = [SetValue(("models", model), _model_block(verified, label, block))]
    else:
        edits = [SetValue(("models", model, "versions", quoted(label)), block)]
    new_text = edit_text(text, edits, file=str(config_file))
    if not inside:
        _place(bundle, root / bundle_path)
    if verify_key is not None and not _inside(root, verify_key) and key_path is not None:
        _place(verify_key, root / key_path)
    replace_file(config_file, new_text)
    diff = unified_diff(text, new_text, _shown(root, config_file))
    return _result(verified, model, label, bundle_path, config_file, diff, declared is None)


def _result(
    verified: VerifiedBundle,
    model: str,
    label: str,
    bundle_path: str,
    config_file: Path,
    diff: str,
    model_added: bool,
) -> ImportResult:
    return ImportResult(
        model,
        label,
        verified.manifest.origin,
        bundle_path,
        config_file,
        diff,
        verified.signer,
        model_added,
    )


def _check_names(model: str, label: str, given: bool) -> None:
    if not re.match(NAME_PATTERN, model) or len(model) > 128:
        raise UsageError(
            f"the bundle names the model {model!r}, which is not a valid model name",
            fix="Check where the bundle came from.",
        )
    if not re.match(LABEL_PATTERN, label) or len(label) > 128:
        source = "--as" if given else "the bundle's label"
        raise UsageError(
            f"{source} {label!r} is not a valid version label",
            fix="Give a label of letters, digits and . _ + - with --as, e.g. --as 1.0.0.",
        )


def _model_block(verified: VerifiedBundle, label: str, block: dict[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    data = verified.manifest.data
    model = CommentedMap()
    model["description"] = f"Imported from {verified.manifest.origin}."
    model["task"] = data["task"]
    if data["trusted_types"]:
        model["trusted_types"] = list(data["trusted_types"])
    versions = CommentedMap()
    versions[quoted(label)] = block
    model["versions"] = versions
    return model


def _inside(root: Path, path: Path) -> str | None:
    """``path`` relative to the project root when it lies inside it, else None."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative.as_posix()


def _place(source: Path, dest: Path) -> None:
    """Copy ``source`` into the project at ``dest``; an identical file there is kept, a
    different one is refused."""
    if dest.exists():
        if dest.is_file() and hash_file(dest) == hash_file(source):
            return
        raise UsageError(
            f"{dest} already exists with other content",
            fix="Move it aside, or import under another label with --as.",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, dest)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise UsageError(
            f"cannot copy {source} to {dest}: {error.strerror or error}",
            fix="Check that the project folder is writable.",
        ) from error


def _declaring_file(workspace: Workspace, model: str) -> Path:
    """The file declaring ``model``; the main config file for a new model."""
    loaded = workspace.loaded
    if model not in loaded.config.models:
        return loaded.files[0]
    shown = loaded.positions.place(("models", model)).file
    for path in loaded.files:
        if str(path) == shown:
            return path
    return loaded.files[0]


def _shown(root: Path, path: Path) -> str:
    return _inside(root, path) or str(path)
