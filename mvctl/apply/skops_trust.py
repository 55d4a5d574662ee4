"""What a skops model file may build: exact type names, and never a function.

skops builds only the types it is told to trust, so the list mvctl passes decides what a model
file can do when it is loaded. mvctl trusts, by exact name and nothing by prefix:

- skops' own defaults, which skops applies per kind of node: builtins' and numpy's plain
  types, arrays and dtypes, random generators, scipy's sparse matrices, numpy's and scipy's
  ufuncs, scikit-learn's estimators and a few of its internal losses;
- every scikit-learn estimator class (``sklearn.utils.all_estimators``) at its defining module;
- ``HELPER_TYPES``: the classes fitted estimators hold (a Bunch, optimizer state, GP kernels);
- ``CONTENT_UNCHECKED``: classes whose raw index arrays scikit-learn reads without bounds
  checks (a decision tree's nodes), so a crafted file can crash the process or read out of
  bounds. Only a model mvctl trained itself may build them unlisted; a registered file
  (`artifact:`) must list each one in the model's `trusted_types`;
- the model's `trusted_types`, exactly as written, none in a module ``spec.trusted_types``
  refuses; each must import as a class when a file that uses it is loaded.

A function, bound method, ``functools.partial`` or ``operator`` node is refused whatever
`trusted_types` says, unless skops trusts it by default (a numpy or scipy ufunc): a callable
in a model file is code an estimator would run (``FunctionTransformer(func=eval)``).
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mvctl.apply.skops_import import sklearn_estimators, skops_io
from mvctl.errors import UnsafeArtifactError
from mvctl.spec.trusted_types import refused_type

SCHEMA = "schema.json"
MAX_SCHEMA_BYTES = 256 * 1024 * 1024
CALLABLE_NODES = {
    "FunctionNode": "a function",
    "MethodNode": "a bound method",
    "PartialNode": "a functools.partial",
    "OperatorFuncNode": "an operator function",
}
HELPER_TYPES = (
    "numpy.dtype",
    "sklearn.utils._bunch.Bunch",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn._loss.loss.HalfTweedieLoss",
    "sklearn._loss.loss.HalfTweedieLossIdentity",
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
    *(
        f"sklearn.gaussian_process.kernels.{kernel}"
        for kernel in (
            "CompoundKernel",
            "ConstantKernel",
            "DotProduct",
            "ExpSineSquared",
            "Exponentiation",
            "Matern",
            "PairwiseKernel",
            "Product",
            "RBF",
            "RationalQuadratic",
            "Sum",
            "WhiteKernel",
        )
    ),
)
CONTENT_UNCHECKED = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    *(
        f"sklearn.metrics._dist_metrics.{metric}{bits}"
        for metric in ("EuclideanDistance", "ManhattanDistance", "ChebyshevDistance")
        for bits in (32, 64)
    ),
    *(f"sklearn.metrics._dist_metrics.MinkowskiDistance{bits}" for bits in (32, 64)),
)


@functools.cache
def _sklearn_estimators() -> frozenset[str]:
    return frozenset(f"{cls.__module__}.{cls.__name__}" for cls in sklearn_estimators())


def trusted_names(trusted_types: Sequence[str], *, registered: bool) -> list[str]:
    """The exact list handed to skops (it adds its own defaults per node)."""
    names = set(_sklearn_estimators()) | set(HELPER_TYPES)
    if not registered:
        names |= set(CONTENT_UNCHECKED)
    names |= {name for name in trusted_types if refused_type(name) is None}
    return sorted(names)


def audit_skops(
    source: Path | bytes,
    trusted_types: Sequence[str],
    *,
    registered: bool,
    what: str,
    shown: Path,
) -> frozenset[str]:
    """Refuse the archive unless every node passes; return the names it uses beyond skops'
    defaults. Nothing is imported or built: skops only reads the schema here."""
    get_untrusted_types = skops_io().get_untrusted_types
    where = f"{what} ({shown})"
    schema = _read_schema(source, where)
    try:
        outside = frozenset(
            get_untrusted_types(data=source)
            if isinstance(source, bytes)
            else get_untrusted_types(file=source)
        )
    except Exception as error:  # skops raises assorted errors on a damaged or crafted archive
        raise _unreadable(where, f"{type(error).__name__}: {error}") from error
    callables = sorted(
        (name, kind)
        for loader, name in _nodes(schema)
        if (kind := CALLABLE_NODES.get(loader)) is not None
        and (loader != "FunctionNode" or name in outside)
    )
    if callables:
        listed = ", ".join(f"{name} ({kind})" for name, kind in callables)
        raise UnsafeArtifactError(
            f"{where} holds code to call when loaded: {listed}; mvctl never loads functions, "
            "methods or partials from a model file, even ones listed in `trusted_types`",
            fix="Save the model without function-valued parameters, or score it through an "
            "evaluation `predict:` command.",
        )
    trusted = set(trusted_names(trusted_types, registered=registered))
    refused = sorted(name for name in outside if name not in trusted)
    unchecked = [name for name in refused if name in CONTENT_UNCHECKED]
    if unchecked:
        raise UnsafeArtifactError(
            f"{where} is a registered file that builds {', '.join(unchecked)}, whose node arrays "
            "skops cannot check (a crafted file can crash the process or read out of bounds)",
            fix="If you trust where the file came from, list "
            f"{', '.join(repr(name) for name in unchecked)} under the model's `trusted_types:`.",
        )
    if refused:
        reasons = [why for name in refused if (why := refused_type(name)) is not None]
        raise UnsafeArtifactError(
            f"{where} would build types mvctl does not trust: {', '.join(refused)}"
            + (f" ({reasons[0]})" if reasons else ""),
            fix="If you trust them, list the classes under the model's `trusted_types:`."
            if not reasons
            else "Save the model without them.",
        )
    return outside


def load_skops(path: Path, trusted_types: Sequence[str], *, registered: bool, what: str) -> Any:
    """The model in ``path``, built by skops from the bytes that were audited, trusting the
    exact list of ``trusted_names`` and nothing else."""
    skops = skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    data = path.read_bytes()
    used = audit_skops(data, trusted_types, registered=registered, what=what, shown=path)
    for name in sorted(used & set(trusted_types)):
        _require_class(name, f"{what} ({path})")
    try:
        return skops.loads(data, trusted=trusted_names(trusted_types, registered=registered))
    except UntrustedTypesFoundException as error:
        raise UnsafeArtifactError(
            f"{what} ({path}) would build types mvctl does not trust: {_one_line(str(error))}"
        ) from error
    except Exception as error:  # a damaged array or attribute fails inside skops or sklearn
        raise _unreadable(f"{what} ({path})", f"{type(error).__name__}: {error}") from error


def _require_class(name: str, where: str) -> None:
    """A listed type is called with arguments the file chooses: it must be a class."""
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise UnsafeArtifactError(
            f"{where} uses {name}, listed in `trusted_types`, which cannot be imported: {error}",
            fix="Check the name and that its package is installed where mvctl runs.",
        ) from error
    if not isinstance(found, type):
        raise UnsafeArtifactError(
            f"{where} uses {name}, listed in `trusted_types`, which is a "
            f"{type(found).__name__}, not a class; mvctl trusts classes only",
            fix=f"Remove '{name}' from the model's `trusted_types:`.",
        )


def _read_schema(source: Path | bytes, where: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            info = zf.getinfo(SCHEMA) if SCHEMA in zf.namelist() else None
            if info is None:
                raise UnsafeArtifactError(
                    f"{where} is a zip archive but not a skops file (no {SCHEMA})",
                    fix="Save the model with skops.io.dump.",
                )
            if info.file_size > MAX_SCHEMA_BYTES:
                raise _unreadable(where, f"its {SCHEMA} is {info.file_size} bytes")
            return json.loads(zf.read(info))
    except (zipfile.BadZipFile, OSError, ValueError, RecursionError) as error:
        raise _unreadable(where, str(error)) from error


def _nodes(schema: Any) -> Iterator[tuple[str, str]]:
    """(loader, name) of every node in the schema, however deep, without recursion. A method
    is named with its owner's class and the function: module.Class.function."""
    pending = [schema]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
            continue
        if not isinstance(value, dict):
            continue
        pending.extend(value.values())
        loader = value.get("__loader__")
        if isinstance(loader, str):
            name = f"{value.get('__module__')}.{value.get('__class__')}"
            content = value.get("content")
            if loader == "MethodNode" and isinstance(content, dict):
                name = f"{name}.{content.get('func')}"
            yield loader, name


def _unreadable(where: str, why: str) -> UnsafeArtifactError:
    return UnsafeArtifactError(
        f"{where} is not a readable skops archive: {_one_line(why)}",
        fix="Save the model again with skops.io.dump.",
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
