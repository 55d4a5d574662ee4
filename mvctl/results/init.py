"""What `init` created."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InitResult:
    folder: Path
    project: str
    created: tuple[str, ...]
    """The files written, relative to ``folder``."""
