"""What a revert did: what it restored (or would have), and what `--force` went past."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mvctl.core.revert import RevertOutline

RevertStatus = Literal["nothing", "declined", "done"]


@dataclass(frozen=True)
class RevertResult:
    outline: RevertOutline
    status: RevertStatus
    apply_id: int | None = None
    forced: tuple[str, ...] = ()
    """What `--force` went past: each alias restored to an artifact that failed verification."""
