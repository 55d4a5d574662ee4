"""Torch models as mvctl saves them: weights in safetensors, the recipe in its metadata.

A safetensors file holds tensors only, so nothing in it can run code when read. To rebuild the
model, the trainer also records the module's import path, its constructor arguments and the
task in the file's metadata (``mvctl.module``, ``mvctl.module_args``, ``mvctl.task``), and for
a classifier the label of each output column (``mvctl.classes``: output i predicts
``classes[i]``; files without it predate it and were trained on the labels 0..K-1).
``load_torch_model`` imports that class only when it is the one the config names (its
`with.module`), refuses anything that is not a ``torch.nn.Module`` subclass, builds it and
loads the weights strictly.
torch and safetensors are imported only here, when a model is built or loaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.errors import UnsafeArtifactError

FORMAT = "1"
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class ModuleRecipe:
    """What it takes to rebuild a module: its class's import path, arguments and task."""

    module: str
    args: Mapping[str, Any]
    task: str
    classes: tuple[Any, ...] | None = None
    """The label of each output column of a classifier; None where the file does not say."""

    def metadata(self) -> dict[str, str]:
        """safetensors metadata values must be strings."""
        metadata = {
            "mvctl.format": FORMAT,
            "mvctl.module": self.module,
            "mvctl.module_args": json.dumps(dict(self.args), sort_keys=True),
            "mvctl.task": self.task,
        }
        if self.classes is not None:
            metadata["mvctl.classes"] = json.dumps(list(self.classes))
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str] | None, where: str) -> ModuleRecipe:
        metadata = metadata or {}
        if metadata.get("mvctl.format") != FORMAT or "mvctl.module" not in metadata:
            raise UnsafeArtifactError(
                f"{where} does not say which torch module it holds (no mvctl metadata)",
                fix="Train it with `uses: torch`, or save it with the module recorded in the metadata.",
            )
        try:
            args = json.loads(metadata.get("mvctl.module_args", "{}"))
        except ValueError as error:
            raise UnsafeArtifactError(
                f"{where} has unreadable module arguments: {error}"
            ) from error
        return cls(
            metadata["mvctl.module"],
            args,
            metadata.get("mvctl.task", "classification"),
            _classes(metadata.get("mvctl.classes"), where),
        )


def _classes(text: str | None, where: str) -> tuple[Any, ...] | None:
    if text is None:
        return None
    try:
        classes = json.loads(text)
    except ValueError as error:
        raise UnsafeArtifactError(f"{where} has unreadable class labels: {error}") from error
    if not (
        isinstance(classes, list)
        and classes
        and all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in classes)
        and len(set(classes)) == len(classes)
    ):
        raise UnsafeArtifactError(
            f"{where} has malformed class labels in its metadata (mvctl.classes): "
            "a list of distinct labels is expected",
            fix="Retrain the version with `uses: torch`.",
        )
    return tuple(classes)


def build_module(recipe: ModuleRecipe, *, import_root: Path | None = None) -> Any:
    """Instantiate the recipe's class, which must be a torch.nn.Module subclass."""
    import torch

    module_name, _, class_name = recipe.module.rpartition(".")
    with _importable_from(import_root or Path.cwd()):
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as error:
            raise UnsafeArtifactError(
                f"cannot import the torch module {recipe.module!r}: {error}",
                fix="Check `with.module` (an import path such as pkg.models.Net, importable from the project root).",
            ) from error
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise UnsafeArtifactError(
            f"{recipe.module!r} is not a torch.nn.Module subclass, so mvctl will not build it",
            fix="Point `with.module` at the class of your network.",
        )
    try:
        return cls(**recipe.args)
    except TypeError as error:
        raise UnsafeArtifactError(
            f"cannot build {recipe.module} with arguments {dict(recipe.args)}: {error}",
            fix="Fix `with.module_args` to match the class's constructor.",
        ) from error


class _importable_from:
    """Put the project root first on sys.path for the import, as a step running there sees it."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.added = False

    def __enter__(self) -> None:
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
            self.added = True

    def __exit__(self, *_: object) -> None:
        if self.added:
            sys.path.remove(self.root)


def save_torch_model(module: Any, recipe: ModuleRecipe, path: Path) -> None:
    """Weights as safetensors with the recipe in the metadata; never pickle."""
    path.write_bytes(torch_model_bytes(module, recipe))


def torch_model_bytes(module: Any, recipe: ModuleRecipe) -> bytes:
    """What ``save_torch_model`` writes, as bytes (sent from a Ray Train worker)."""
    from safetensors.torch import save

    return save(_cpu_tensors(module.state_dict()), metadata=recipe.metadata())


def weights_digest(tensors: Mapping[str, Any]) -> str:
    """sha256 of the weights alone (safetensors, no metadata): equal weights, equal digest."""
    from safetensors.torch import save

    return "sha256:" + hashlib.sha256(save(_cpu_tensors(tensors))).hexdigest()


def _cpu_tensors(tensors: Mapping[str, Any]) -> dict[str, Any]:
    return {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}


def read_recipe(path: Path) -> ModuleRecipe:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return ModuleRecipe.from_metadata(handle.metadata(), str(path))


def load_torch_model(
    path: Path, *, expected_module: str | None, import_root: Path | None = None
) -> Any:
    """The trained module, rebuilt from the file's metadata with its weights, in eval mode.

    ``expected_module``: the class the config names (`with.module`); a file naming any other
    is refused before anything is imported, and with None every file is.
    ``import_root``: where the module's package lives (default: the current folder).
    """
    from safetensors.torch import load_file

    recipe = read_recipe(path)
    if recipe.module != expected_module:
        if expected_module is None:
            raise UnsafeArtifactError(
                f"{path} holds a {recipe.module}, but the config names no torch module for it, "
                "so mvctl will not import one",
                fix="Train the model with `uses: torch` and `with.module`, or score it through "
                "an evaluation `predict:` command.",
            )
        raise UnsafeArtifactError(
            f"{path} holds a {recipe.module}, not the {expected_module} the config names",
            fix="Retrain the version, or point `with.module` at the class it was trained with.",
        )
    module = build_module(recipe, import_root=import_root)
    try:
        module.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as error:
        raise UnsafeArtifactError(
            f"the weights in {path} do not fit {recipe.module}({dict(recipe.args)}): {error}",
            fix="Check the module's arguments match the ones it was trained with.",
        ) from error
    module.eval()
    return module


def predict(
    module: Any,
    features: Any,
    task: str = "classification",
    classes: tuple[Any, ...] | None = None,
) -> Any:
    """Predictions as a numpy array: class labels (``classes``, else the output indices) for
    classification, values for regression."""
    import numpy as np
    import torch

    with torch.no_grad():
        out = module(torch.as_tensor(features, dtype=torch.float32))
    if task == "classification":
        indices = out.argmax(dim=1).numpy()
        return indices if classes is None else np.asarray(classes)[indices]
    return (out.squeeze(1) if out.ndim == 2 and out.shape[1] == 1 else out).numpy()
