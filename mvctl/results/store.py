"""What `store gc` found (and removed) in the blob store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GcResult:
    store: str
    unreferenced: tuple[str, ...]
    """Digests no recorded version or step run names, sorted."""
    referenced: int
    """Blobs in the store that the state names (kept)."""
    deleted: bool
