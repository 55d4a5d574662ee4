"""skops.io and scikit-learn's list of estimators, without importing torch, JAX, CuPy or Dask.

skops builds its lists of trusted types when skops.io is first imported, from scikit-learn's
`all_estimators`, which walks every package under sklearn with pkgutil, and pkgutil imports
each package to look inside it. Among them are sklearn's array-API adapters for other array
libraries: importing `sklearn.externals.array_api_compat.torch` imports torch (1.3 s of CPU
and some 780 modules on the development machine, in every process that reads or writes a
skops file where torch is installed). No estimator lives there (`all_estimators` skips
`externals`), so while the walk runs those adapters refuse to import, which pkgutil takes as
"nothing to list": the lists come out the same, and a process that never touches a tensor
does not load torch.
"""

from __future__ import annotations

import functools
import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

ARRAY_API_ADAPTERS = tuple(
    f"sklearn.externals.array_api_compat.{library}" for library in ("torch", "jax", "cupy", "dask")
)


class _RefuseArrayApiAdapters(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname in ARRAY_API_ADAPTERS or fullname.startswith(
            tuple(f"{adapter}." for adapter in ARRAY_API_ADAPTERS)
        ):
            raise ImportError(f"{fullname} is not imported while scikit-learn lists estimators")
        return None


@contextmanager
def _walking_sklearn() -> Iterator[None]:
    finder = _RefuseArrayApiAdapters()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@functools.cache
def skops_io() -> ModuleType:
    """The skops.io module, its trusted-type lists built without the array-API adapters."""
    with _walking_sklearn():
        import skops.io

    module: ModuleType = skops.io
    return module


@functools.cache
def sklearn_estimators() -> tuple[Any, ...]:
    """Every scikit-learn estimator class, as `sklearn.utils.all_estimators` lists them."""
    with _walking_sklearn():
        from sklearn.utils import all_estimators

        return tuple(cls for _, cls in all_estimators())
