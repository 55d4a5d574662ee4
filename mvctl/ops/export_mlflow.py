"""mvctl export --format mlflow: one recorded version as an MLflow model directory.

mvctl does not import mlflow: it writes the directory MLflow's own ``save_model`` would, so
``mlflow.pyfunc.load_model(DIR)`` loads it with MLflow's sklearn flavor (a torch version gets
a ``python_function`` flavor of its own: see export_mlflow_torch). The model file is
the version's skops file, verified as it leaves the store; the flavor lists exactly the types
the file needs beyond skops's defaults, and only after mvctl's own skops audit has accepted
them under the model's `trusted_types`. The signature is inferred from the evaluation data
the version was scored on; the recorded metrics are the model's metadata.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import mvctl
from mvctl.apply.artifacts import artifact_format, registered_file
from mvctl.apply.datasets import load_dataset
from mvctl.apply.skops_import import skops_io
from mvctl.apply.skops_trust import load_skops
from mvctl.apply.torch_model import load_torch_model, predict, read_recipe
from mvctl.core.evaluation import dataset_ref
from mvctl.core.resolve import torch_module
from mvctl.errors import UsageError
from mvctl.ops.export import exportable_version, metric_records
from mvctl.ops.export_mlflow_torch import CODE_FOLDER, LOADER_MODULE, write_torch_code
from mvctl.ops.lookup import version_reference
from mvctl.results.bundles import ExportResult
from mvctl.results.records import VersionDetail
from mvctl.spec.models import ModelSpec
from mvctl.spec.paths import is_inside
from mvctl.store.blobs import hash_file
from mvctl.workspace import Workspace

MODEL_FILE = "model.skops"
TORCH_MODEL_FILE = "model.safetensors"
SIGNATURE_ROWS = 5
"""Rows of the evaluation data run through the model to learn its output's type."""


def export_mlflow(workspace: Workspace, reference: str, out: Path) -> ExportResult:
    """Write the MLflow model directory of ``reference`` to ``out``, which must not exist
    (or be an empty folder), and must not be a symlink."""
    _check_output(out)
    model, label = version_reference(workspace, reference)
    spec = workspace.config.models.get(model)
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with workspace.open_state(create=False) as state:
        detail = exportable_version(state, workspace, model, label)
        metrics = metric_records(state, detail)
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        try:
            downloaded = temp / ".model"
            workspace.open_store().get_file(str(detail.artifact_digest), downloaded)
            _write_directory(workspace, detail, spec, metrics, temp, downloaded)
            files = sum(1 for path in temp.rglob("*") if path.is_file())
            _check_output(out)
            if out.is_dir():
                out.rmdir()
            os.replace(temp, out)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return ExportResult(model, label, out, files, None, format="mlflow")


def _check_output(out: Path) -> None:
    if out.is_symlink():
        raise UsageError(
            f"{out} is a symlink; mvctl export writes an MLflow model only into a real folder",
            fix="Give -o a new folder's path.",
        )
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise UsageError(
            f"{out} already exists and is not an empty folder",
            fix="Give -o a new folder's path, or remove that one first.",
        )


def _write_directory(
    workspace: Workspace,
    detail: VersionDetail,
    spec: ModelSpec | None,
    metrics: list[dict[str, Any]],
    folder: Path,
    downloaded: Path,
) -> None:
    what = f"the model of {detail.model}@{detail.label}"
    if artifact_format(downloaded, what, downloaded) != "skops":
        _write_torch_directory(workspace, detail, spec, metrics, folder, downloaded)
        return
    path = folder / MODEL_FILE
    downloaded.rename(path)
    declared = list(spec.trusted_types) if spec is not None else []
    estimator = load_skops(path, declared, registered=registered_file(detail.lineage), what=what)
    import sklearn
    import skops

    needed = sorted(skops_io().get_untrusted_types(file=path))
    signature = _signature(workspace, detail, spec, estimator, metrics)
    (folder / "MLmodel").write_text(
        _mlmodel(detail, workspace.config.project, needed, signature, metrics, sklearn.__version__),
        "utf-8",
    )
    (folder / "requirements.txt").write_text(
        f"scikit-learn=={sklearn.__version__}\nskops=={skops.__version__}\n", "utf-8"
    )
    _write_python_env(folder)


def _write_python_env(folder: Path) -> None:
    (folder / "python_env.yaml").write_text(
        f"python: {platform.python_version()}\nbuild_dependencies:\n- pip\n"
        "dependencies:\n- -r requirements.txt\n",
        "utf-8",
    )


def _write_torch_directory(
    workspace: Workspace,
    detail: VersionDetail,
    spec: ModelSpec | None,
    metrics: list[dict[str, Any]],
    folder: Path,
    downloaded: Path,
) -> None:
    """The weights, the module's source and the loader, and an MLmodel naming that loader;
    the module is rebuilt here first, so a file mvctl would refuse to load is not exported."""
    import numpy as np
    import safetensors
    import torch

    what = f"{detail.model}@{detail.label}"
    expected = torch_module(spec) if spec is not None else None
    path = folder / TORCH_MODEL_FILE
    downloaded.rename(path)
    write_torch_code(workspace.root, expected, what, folder)
    module = load_torch_model(path, expected_module=expected, import_root=workspace.root)
    recipe = read_recipe(path)
    data = _evaluation_data(workspace, detail, spec, metrics)
    signature = None
    if data is not None:
        x = np.asarray(data.x[:SIGNATURE_ROWS], dtype=np.float32)
        predicted = predict(module, x, recipe.task, recipe.classes)
        signature = {
            "inputs": json.dumps([_tensor(x.dtype, [-1, int(x.shape[1])])]),
            "outputs": json.dumps([_tensor(predicted.dtype, [-1, *predicted.shape[1:]])]),
            "params": None,
        }
    flavor = {
        "code": CODE_FOLDER,
        "data": TORCH_MODEL_FILE,
        "env": {"virtualenv": "python_env.yaml"},
        "loader_module": LOADER_MODULE,
        "python_version": platform.python_version(),
    }
    document = _document(detail, workspace.config.project, {"python_function": flavor}, metrics)
    if signature is not None:
        document["signature"] = signature
    (folder / "MLmodel").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", "utf-8")
    (folder / "requirements.txt").write_text(
        f"torch=={torch.__version__.split('+')[0]}\nsafetensors=={safetensors.__version__}\n"
        f"numpy=={np.__version__}\n",
        "utf-8",
    )
    _write_python_env(folder)


def _signature(
    workspace: Workspace,
    detail: VersionDetail,
    spec: ModelSpec | None,
    estimator: Any,
    metrics: list[dict[str, Any]],
) -> dict[str, str | None] | None:
    """MLflow's signature from the first evaluation file the version was scored on (else the
    first the config declares): the features' columns in, the model's predictions out."""
    data = _evaluation_data(workspace, detail, spec, metrics)
    if data is None:
        return None
    x = data.x[:SIGNATURE_ROWS]
    predicted = estimator.predict(x)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        inputs: list[dict[str, Any]] = [
            {"type": _column_type(x[:, i].dtype), "name": str(name), "required": True}
            for i, name in enumerate(names)
        ]
    else:
        inputs = [_tensor(x.dtype, [-1, int(x.shape[1])])]
    outputs = [_tensor(predicted.dtype, [-1, *predicted.shape[1:]])]
    return {"inputs": json.dumps(inputs), "outputs": json.dumps(outputs), "params": None}


def _evaluation_data(
    workspace: Workspace,
    detail: VersionDetail,
    spec: ModelSpec | None,
    metrics: list[dict[str, Any]],
) -> Any:
    if spec is None or spec.evaluation is None:
        return None
    scored = {record["dataset_digest"] for record in metrics}
    root = workspace.root.resolve()
    candidates = []
    for index, dataset in enumerate(spec.evaluation.all_datasets()):
        if dataset.path is None:
            continue
        source = (root / dataset.path).resolve()
        if not is_inside(source, root) or not source.is_file():
            continue
        field = f"models.{detail.model}.evaluation.datasets[{index}]"
        ref = dataset_ref(dataset, field, {dataset.path: hash_file(source)}, {})
        candidates.append((ref.digest not in scored, index, ref, source))
    if not candidates:
        return None
    _, _, ref, source = min(candidates, key=lambda c: (c[0], c[1]))
    return load_dataset(ref, source, f"{detail.model}@{detail.label}")


def _tensor(dtype: Any, shape: list[int]) -> dict[str, Any]:
    return {"type": "tensor", "tensor-spec": {"dtype": str(dtype), "shape": shape}}


def _column_type(dtype: Any) -> str:
    kind = getattr(dtype, "kind", "O")
    return {"f": "double", "i": "long", "u": "long", "b": "boolean"}.get(kind, "string")


def _mlmodel(
    detail: VersionDetail,
    project: str,
    trusted: list[str],
    signature: dict[str, str | None] | None,
    metrics: list[dict[str, Any]],
    sklearn_version: str,
) -> str:
    """The MLmodel file, as JSON (a subset of YAML that MLflow's YAML reader accepts)."""
    flavors = {
        "python_function": {
            "env": {"virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.sklearn",
            "model_path": MODEL_FILE,
            "predict_fn": "predict",
            "python_version": platform.python_version(),
        },
        "sklearn": {
            "code": None,
            "pickled_model": MODEL_FILE,
            "serialization_format": "skops",
            "sklearn_version": sklearn_version,
            "skops_trusted_types": trusted or None,
        },
    }
    document = _document(detail, project, flavors, metrics)
    if signature is not None:
        document["signature"] = signature
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _document(
    detail: VersionDetail,
    project: str,
    flavors: dict[str, Any],
    metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    """The MLmodel fields every export shares: its flavors and mvctl's record as metadata."""
    return {
        "artifact_path": None,
        "flavors": flavors,
        "metadata": {
            "mvctl": {
                "mvctl_version": mvctl.__version__,
                "project": project,
                "model": detail.model,
                "label": detail.label,
                "artifact_digest": detail.artifact_digest,
                "spec_hash": detail.spec_hash,
            },
            "metrics": [
                {
                    "dataset": m["dataset"],
                    "dataset_digest": m["dataset_digest"],
                    **{k: _finite(v) for k, v in m["metrics"].items()},
                }
                for m in metrics
            ],
        },
    }


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
