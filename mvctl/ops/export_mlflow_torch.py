"""mvctl export --format mlflow for a torch (safetensors) version: MLflow's ``python_function``
flavor with a loader module of our own, since MLflow's pytorch flavor would pickle the module.

The directory holds the weights as they left the store (``model.safetensors``), and in its
code path the source file of the class the config names (`with.module`, read from the project
root, never through a symlink or out of the project) and ``mvctl_torch_pyfunc.py``, the small
loader below. The loader rebuilds that one class from the file's recorded arguments, loads the
weights strictly and predicts as mvctl does (``mvctl.apply.torch_model.predict``): class
labels by the arg-max of the outputs, or values for regression. Nothing in it unpickles.
"""

from __future__ import annotations

import keyword
import shutil
from pathlib import Path

from mvctl.errors import UsageError
from mvctl.spec.paths import is_inside

CODE_FOLDER = "code"
LOADER_MODULE = "mvctl_torch_pyfunc"

LOADER_SOURCE = '''\
"""Loads the torch model of this MLflow directory, written by mvctl export: rebuilds the one
module class mvctl recorded from the safetensors metadata and loads the weights (no pickle)."""

import importlib
import json

EXPECTED_MODULE = {module!r}


def _load_pyfunc(path):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata() or {{}}
    if metadata.get("mvctl.module") != EXPECTED_MODULE:
        raise ValueError(f"{{path}} does not hold a {{EXPECTED_MODULE}}")
    module_name, _, class_name = EXPECTED_MODULE.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise TypeError(f"{{EXPECTED_MODULE}} is not a torch.nn.Module subclass")
    module = cls(**json.loads(metadata.get("mvctl.module_args", "{{}}")))
    module.load_state_dict(load_file(path), strict=True)
    module.eval()
    classes = metadata.get("mvctl.classes")
    return _TorchModel(
        module,
        metadata.get("mvctl.task", "classification"),
        None if classes is None else json.loads(classes),
    )


class _TorchModel:
    def __init__(self, module, task, classes):
        self.module, self.task, self.classes = module, task, classes

    def predict(self, model_input, params=None):
        import numpy as np
        import torch

        features = np.asarray(model_input, dtype=np.float32)
        with torch.no_grad():
            out = self.module(torch.as_tensor(features))
        if self.task == "classification":
            indices = out.argmax(dim=1).numpy()
            return indices if self.classes is None else np.asarray(self.classes)[indices]
        return (out.squeeze(1) if out.ndim == 2 and out.shape[1] == 1 else out).numpy()
'''


def write_torch_code(project_root: Path, module: str | None, what: str, folder: Path) -> None:
    """Copy the source of ``module``'s file (and its packages' ``__init__.py``) from the
    project into ``folder/code``, beside the loader that imports it."""
    if module is None:
        raise UsageError(
            f"{what} is a torch model, but the config names no `with.module` for it, so mvctl "
            "cannot say which class the MLflow model should rebuild",
            fix="Declare the model's `uses: torch` step with `with.module` in the config.",
        )
    parts = module.split(".")
    if len(parts) < 2 or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise UsageError(
            f"`with.module` {module!r} of {what} is not an import path such as pkg.models.Net",
            fix="Point `with.module` at the class of the network.",
        )
    root = project_root.resolve()
    packages, name = parts[:-2], parts[-2]
    base = root.joinpath(*packages)
    sources = [_source(root, base / f"{name}.py", module, what)]
    sources += [
        _source(root, root.joinpath(*packages[:depth]) / "__init__.py", module, what)
        for depth in range(1, len(packages) + 1)
        if (root.joinpath(*packages[:depth]) / "__init__.py").exists()
    ]
    code = folder / CODE_FOLDER
    for source in sources:
        target = code / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (code / f"{LOADER_MODULE}.py").write_text(LOADER_SOURCE.format(module=module), "utf-8")


def _source(root: Path, path: Path, module: str, what: str) -> Path:
    """A regular file inside the project, reached without symlinks."""
    inside = path.resolve() == path.absolute() and is_inside(path.resolve(), root)
    if not inside or not path.is_file() or path.is_symlink():
        raise UsageError(
            f"the source of {module} for {what} is not a regular file inside the project "
            f"({path.relative_to(root)})",
            fix="Keep the module's .py file (not a symlink) under the project root, where "
            "`with.module` names it.",
        )
    return path
