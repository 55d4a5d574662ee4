"""YAML configuration -> frozen pydantic models, with file:line:column kept for every error.

``load_config`` is the door: it reads ``mvctl.yaml`` and its includes, and either returns a
``LoadedConfig`` or raises ``SpecErrors`` listing every problem with its place and fix.
The re-export is lazy so that ``import mvctl.spec.models`` (the pure core does) does not
pull in the YAML reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mvctl.spec.loader import LoadedConfig, load_config

__all__ = ["LoadedConfig", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mvctl.spec import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
