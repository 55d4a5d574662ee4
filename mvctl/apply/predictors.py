"""Load a version's model for scoring: skops and safetensors in process, anything else through
the model's ``predict:`` command.

Every route checks the file first (``check_safe_artifact``). A skops archive is built by skops
from the bytes that were audited, trusting the exact names ``skops_trust`` lists and nothing
else. A safetensors file is handed to the torch trainer's loader, which imports only the
module the config declares (`with.module`). A ``predict:`` command runs as a subprocess in
the project root: it reads the features from the CSV named by ``MVCTL_PREDICT_INPUT`` and
writes a CSV named by ``MVCTL_PREDICT_OUTPUT`` with a ``prediction`` column (and
``score_<class>`` columns when the evaluation declares ``scores: true``); the model file is
at ``MVCTL_MODEL_FILE``.
"""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mvctl.apply.artifacts import check_safe_artifact, check_torch_module
from mvctl.apply.datasets import parse_labels
from mvctl.apply.skops_trust import load_skops
from mvctl.apply.torch_model import read_recipe
from mvctl.errors import EvaluationError, MvctlError

LOG_TAIL_CHARS = 2000
TORCH_LOADERS = ("mvctl.apply.torch_model", "mvctl.apply.torch_trainer")
"""Where the torch trainer keeps ``load_torch_model(path)``, looked up at the first use."""


@dataclass(frozen=True)
class Predictions:
    labels: Any
    """1-D array: the predicted label (classification) or value (regression) per row."""
    scores: Any | None = None
    """Class probabilities (rows x classes), or decision values when ``probabilistic`` is False."""
    probabilistic: bool = False
    classes: Any | None = None
    """The class of each score column."""


class Predictor(Protocol):
    """A loaded model, whatever its format."""

    n_features: int | None
    in_process: bool
    """Whether ``predict_batch`` can be timed (serving speed)."""

    def predictions(self, x: Any, features: Sequence[str], *, want_scores: bool) -> Predictions: ...

    def predict_batch(self, x: Any) -> Any: ...


class EstimatorPredictor:
    """A scikit-learn estimator (or anything with its ``predict`` / ``predict_proba``)."""

    in_process = True

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.n_features: int | None = getattr(estimator, "n_features_in_", None)

    def predictions(self, x: Any, features: Sequence[str], *, want_scores: bool) -> Predictions:
        labels = self.estimator.predict(x)
        if not want_scores:
            return Predictions(labels)
        classes = getattr(self.estimator, "classes_", None)
        if hasattr(self.estimator, "predict_proba"):
            return Predictions(labels, self.estimator.predict_proba(x), True, classes)
        if hasattr(self.estimator, "decision_function"):
            return Predictions(labels, self.estimator.decision_function(x), False, classes)
        return Predictions(labels, None, False, classes)

    def predict_batch(self, x: Any) -> Any:
        return self.estimator.predict(x)


def open_predictor(
    path: Path,
    trusted_types: Sequence[str],
    *,
    what: str,
    registered: bool,
    torch_module: str | None,
    predict: str | None = None,
    scores: bool = False,
    root: Path | None = None,
    work_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Predictor:
    """The model file at ``path`` ready to predict: through ``predict`` when declared, else
    loaded in process by its format (checked safe first, whatever the route).

    ``registered``: the file came from a version's `artifact:` rather than its own pipeline
    (see ``check_safe_artifact``). ``torch_module``: the model's `with.module`, the only torch
    module a safetensors file may have imported.
    """
    kind = check_safe_artifact(
        path, trusted_types, what=what, registered=registered, torch_module=torch_module
    )
    if predict is not None:
        return CommandPredictor(
            predict,
            root=root or path.parent,
            work_dir=work_dir or path.parent,
            model_file=path,
            env=env or {},
            scores=scores,
            what=what,
        )
    if kind == "skops":
        return EstimatorPredictor(load_skops(path, trusted_types, registered=registered, what=what))
    check_torch_module(path, what, torch_module)
    return load_safetensors(path, what, torch_module, root)


def load_safetensors(
    path: Path, what: str, torch_module: str | None, root: Path | None = None
) -> Predictor:
    """A torch model through the torch trainer's loader, when this mvctl has it; the module's
    class, when it is ``torch_module``, is imported from the project root, where the training
    step found it."""
    loader, why = _torch_loader()
    if loader is None:
        raise _torch_unsupported(what, why)
    try:
        module = loader(path, expected_module=torch_module, import_root=root)
    except MvctlError:
        raise
    except Exception as error:  # a file without the trainer's metadata, a class that moved...
        raise EvaluationError(
            f"{what} cannot be loaded as a torch model: {type(error).__name__}: {error}",
            fix="Train it with `uses: torch`, or declare a `predict:` command that loads it.",
        ) from error
    return TorchPredictor(module, read_recipe(path).classes)


def _torch_loader() -> tuple[Any, str]:
    why = "no torch model loader in this mvctl"
    for name in TORCH_LOADERS:
        try:
            module = importlib.import_module(name)
        except ImportError as error:  # torch itself is not installed
            why = str(error)
            continue
        loader = getattr(module, "load_torch_model", None)
        if loader is not None:
            return loader, ""
    return None, why


def _torch_unsupported(what: str, why: str) -> EvaluationError:
    return EvaluationError(
        f"evaluating {what}, a safetensors (torch) model, is not supported yet ({why})",
        fix="Declare a `predict:` command under the model's evaluation to score it.",
    )


class TorchPredictor:
    """A torch module: logits (rows x classes) for classification, one output for regression.

    Output column i predicts ``classes[i]``, the labels the trainer recorded in the file; a
    file without them was trained on the labels 0..K-1.
    """

    in_process = True
    n_features: int | None = None

    def __init__(self, module: Any, classes: Sequence[Any] | None = None) -> None:
        self.module = module
        self.classes = classes
        module.eval()

    def _forward(self, x: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.module(torch.as_tensor(x, dtype=torch.float32)).numpy()

    def predictions(self, x: Any, features: Sequence[str], *, want_scores: bool) -> Predictions:
        import numpy as np

        out = self._forward(x)
        if out.ndim == 1 or out.shape[1] == 1:
            return Predictions(out.reshape(-1))
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        classes = np.arange(out.shape[1]) if self.classes is None else np.asarray(self.classes)
        if len(classes) != out.shape[1]:
            raise EvaluationError(
                f"the torch model gives {out.shape[1]} outputs per row, but its file names "
                f"{len(classes)} classes",
                fix="Retrain the version: its weights and class labels do not belong together.",
            )
        return Predictions(classes[out.argmax(axis=1)], probabilities, True, classes)

    def predict_batch(self, x: Any) -> Any:
        return self._forward(x)


class CommandPredictor:
    """The model's ``predict:`` command, run once per call on a CSV of inputs."""

    in_process = False
    n_features: int | None = None

    def __init__(
        self,
        command: str,
        *,
        root: Path,
        work_dir: Path,
        model_file: Path,
        env: dict[str, str],
        scores: bool,
        what: str,
    ) -> None:
        self.command = command
        self.root = root
        self.work_dir = work_dir
        self.model_file = model_file
        self.env = env
        self.scores = scores
        self.what = what

    def predictions(self, x: Any, features: Sequence[str], *, want_scores: bool) -> Predictions:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        source, target = self.work_dir / "predict-input.csv", self.work_dir / "predict-output.csv"
        names = list(features) or [f"x{i}" for i in range(x.shape[1])]
        with source.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(x.tolist())
        target.unlink(missing_ok=True)
        env = {
            **os.environ,
            **self.env,
            "MVCTL_PREDICT_INPUT": str(source),
            "MVCTL_PREDICT_OUTPUT": str(target),
            "MVCTL_MODEL_FILE": str(self.model_file),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
        done = subprocess.run(
            self.command,
            shell=True,
            cwd=self.root,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        log = (done.stdout + done.stderr).decode("utf-8", "replace")[-LOG_TAIL_CHARS:]
        if done.returncode != 0 or not target.is_file():
            why = (
                f"exited with code {done.returncode}" if done.returncode else "wrote no output file"
            )
            raise EvaluationError(
                f"the predict command of {self.what} {why}:\n{log}".rstrip(),
                fix="Run the command by hand with MVCTL_PREDICT_INPUT/OUTPUT set to see why.",
            )
        return self._read(target, len(x), want_scores, parse_labels)

    def _read(self, path: Path, rows: int, want_scores: bool, parse_labels: Any) -> Predictions:
        import numpy as np

        with path.open(newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        header, body = (table[0], table[1:]) if table else ([], [])
        if "prediction" not in header or len(body) != rows:
            raise EvaluationError(
                f"the predict command of {self.what} must write a CSV with a 'prediction' column and "
                f"one row per input ({rows}); it wrote {len(body)} rows with columns {header}",
                fix="Write the header 'prediction' (and score_<class> columns), then one row per input row.",
            )
        labels = parse_labels([row[header.index("prediction")] for row in body])
        score_columns = [i for i, name in enumerate(header) if name.startswith("score_")]
        if not (want_scores and self.scores and score_columns):
            return Predictions(labels)
        classes = parse_labels([header[i][len("score_") :] for i in score_columns])
        try:
            scores = np.asarray([[float(row[i]) for i in score_columns] for row in body])
        except ValueError as error:
            raise EvaluationError(
                f"the predict command of {self.what} wrote a score that is not a number: {error}",
                fix="Write class probabilities as numbers.",
            ) from error
        return Predictions(labels, scores, True, classes)

    def predict_batch(self, x: Any) -> Any:  # pragma: no cover - the spec checks forbid timing it
        raise EvaluationError(
            f"the serving speed of {self.what} cannot be timed through a predict command"
        )
