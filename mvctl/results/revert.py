"""What a revert did: what it restored (or would have), and what `--force` went past."""

from __future__ import annotations

from dataclasses import dataclass

from mvctl.core.revert import RevertOutline


@dataclass(frozen=True)
class RevertResult:
    outline: RevertOutline
    status: str
    """'nothing', 'declined' or 'done'."""
    apply_id: int | None = None
    forced: tuple[str, ...] = ()
    """What `--force` went past: each alias restored to an artifact that failed verification."""
