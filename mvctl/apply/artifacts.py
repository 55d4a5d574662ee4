"""Model files are accepted only in safe formats: skops (trusted types only) or safetensors.

A pickle can run any code when loaded, so it is refused outright. A skops archive is opened
only to list what it would build, and refused unless every type is trusted by exact name and
no node is a function (see ``skops_trust``). A safetensors file's header must describe the
file exactly (see ``safetensors_header``); the torch module its metadata names is imported only
when it is the one the config declares. The same checks run when a version's file is
registered, when `mvctl validate` and `plan` see its `artifact:`, and at every load.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mvctl.apply.safetensors_header import looks_like_safetensors, read_header
from mvctl.apply.skops_trust import audit_skops
from mvctl.errors import UnsafeArtifactError

PICKLE_PROTOCOL_MARK = 0x80
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_MODULE_KEY = "mvctl.module"
_ONE_CHECK_AT_A_TIME = threading.Lock()
"""A check imports modules in this process (scikit-learn's estimator list, a torch module),
and apply checks the models of versions trained at once from several threads: walking one
package's modules from two threads at once can fail half-way."""


@contextmanager
def private_path(folder: Path, name: str) -> Iterator[Path]:
    """``name`` in a folder of its own under ``folder``, removed afterwards.

    Actions run at once may fetch, copy or check the same blob (two versions registered from
    one file, two aliases moved to one model): a path named after the blob alone would let one
    overwrite or delete the file another is checking.
    """
    folder.mkdir(parents=True, exist_ok=True)
    own = Path(tempfile.mkdtemp(dir=folder))
    try:
        yield own / name
    finally:
        shutil.rmtree(own, ignore_errors=True)


def check_safe_artifact(
    path: Path,
    trusted_types: Sequence[str] = (),
    *,
    what: str,
    registered: bool = False,
    torch_module: str | None = None,
    shown: Path | None = None,
) -> str:
    """Return the format ('skops' or 'safetensors') or raise naming the file and the fix.

    ``registered``: the file came from outside mvctl's own training (a version's `artifact:`),
    so the types whose content skops cannot check must be listed in ``trusted_types``, and a
    torch module named in its metadata must be ``torch_module``, the config's `with.module`.
    ``shown``: the file's name in messages, when ``path`` is a private copy of it.
    """
    shown = shown or path
    kind = artifact_format(path, what, shown)
    with _ONE_CHECK_AT_A_TIME:
        if kind == "skops":
            audit_skops(path, trusted_types, registered=registered, what=what, shown=shown)
            return kind
        read_header(path, what, shown)
        if registered:
            check_torch_module(path, what, torch_module, shown)
    return kind


def artifact_format(path: Path, what: str, shown: Path) -> str:
    """'skops' or 'safetensors' by the file's content (and suffix); a pickle or anything
    else is refused."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise UnsafeArtifactError(
            f"{what} ({shown}) cannot be read: {error.strerror}",
            fix="Point it at a model file (skops or safetensors).",
        ) from error
    if zipfile.is_zipfile(path):
        return "skops"
    if head[:1] == bytes([PICKLE_PROTOCOL_MARK]) or path.suffix in PICKLE_SUFFIXES:
        raise UnsafeArtifactError(
            f"{what} ({shown}) is a pickle, which can run arbitrary code when loaded",
            fix="Save the model with skops (skops.io.dump) or safetensors instead.",
        )
    if path.suffix == ".safetensors" or looks_like_safetensors(path):
        return "safetensors"
    if path.suffix == ".skops":
        raise UnsafeArtifactError(
            f"{what} ({shown}) is not a skops archive (a zip file holding schema.json)",
            fix="Save the model with skops.io.dump.",
        )
    raise UnsafeArtifactError(
        f"{what} ({shown}) is neither a skops archive nor a safetensors file",
        fix="Save the model with skops (skops.io.dump) or safetensors.",
    )


def check_torch_module(
    path: Path, what: str, torch_module: str | None, shown: Path | None = None
) -> None:
    """Refuse a safetensors file whose metadata names a torch module other than
    ``torch_module``, the config's `with.module`: mvctl would import the module it names."""
    shown = shown or path
    named = read_header(path, what, shown).metadata.get(TORCH_MODULE_KEY)
    if named is None or named == torch_module:
        return
    config_says = (
        f"the config's `with.module` is {torch_module}"
        if torch_module
        else "the model declares no `uses: torch` step with `with.module`"
    )
    raise UnsafeArtifactError(
        f"{what} ({shown}) names the torch module {named!r} in its metadata, but {config_says}; "
        "mvctl imports only the module the config declares",
        fix="Point `with.module` at the class the file was trained with, or register a file "
        "made for this model's module.",
    )


def registered_file(lineage: Mapping[str, Any]) -> bool:
    """Whether a recorded version's model came from outside its own pipeline. Only a version
    whose lineage records its training steps counts as trained by mvctl."""
    return not lineage.get("steps")
