"""What `state check` found: each finding names the object and the fix."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
FindingKind = Literal[
    "dead_lock",
    "stale_lock",
    "lock_held",
    "log_mismatch",
    "log_gap",
    "forked_log",
    "interrupted_apply",
    "alias_untrained",
    "blob_missing",
    "blob_corrupt",
]
FINDING_KINDS: tuple[FindingKind, ...] = typing.get_args(FindingKind)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    kind: FindingKind
    obj: str
    message: str
    fix: str


@dataclass(frozen=True)
class CheckResult:
    state_url: str
    serial: int
    findings: tuple[Finding, ...]
    counts: dict[str, int] = field(default_factory=dict)
    """What was looked at: blobs, changes, rows, applies."""

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)
