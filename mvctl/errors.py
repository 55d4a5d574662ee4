"""The error tree of mvctl.

Every error a user can cause or meet is an ``MvctlError``: it carries where the problem is
(file, line, column, field or object) and how to fix it, and renders as one short paragraph.
Only ``mvctl.cli`` catches these; it prints the message and exits 1. Anything that is not an
``MvctlError`` is a bug and is reported as an internal error.

    MvctlError
    ├── SpecError              the configuration is malformed or means something impossible
    │   └── SpecErrors         several SpecErrors found in one pass (validate reports them all)
    ├── ConflictError          apply refused: the plan holds conflicts
    ├── StaleStateError        apply refused: the state moved since the plan was made
    ├── PlanMismatchError      apply refused: a saved plan is not the plan computed now, or
    │                          its signature is missing or wrong
    ├── LockHeldError          another apply or revert holds the state lock
    ├── StateError             the state database cannot be opened, read or migrated
    ├── StoreError             the blob store cannot be read or written
    │   └── DigestMismatchError  a blob or file does not hash to its recorded digest
    ├── UnsafeArtifactError    a model file is not a safe format (skops, safetensors)
    ├── BundleError            a bundle is malformed, tampered with, or not signed as required
    ├── StepFailedError        a version could not be trained: a step failed, or its model
    │                          is missing or unsafe (apply records it failed and goes on)
    ├── EvaluationError        a version cannot be scored: its data, its model or its predictions
    ├── RevertError            a revert cannot be done as asked
    ├── NotFoundError          a model, version or apply named on the command line does not exist
    └── UsageError             options that cannot be combined or a refused interactive action

``did_you_mean`` and ``listing`` word the fixes of errors about a name given by the user.

Apart from the tree, ``Interrupted`` (a ``KeyboardInterrupt``) is how SIGINT and SIGTERM stop
a command: not a failure anything may catch and carry on from.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Place:
    """Where in the configuration a problem sits: file, line and column (1-based)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class MvctlError(Exception):
    """Base of every error mvctl reports to a user: what went wrong, where, and the fix."""

    def __init__(
        self,
        what: str,
        *,
        place: Place | None = None,
        field: str | None = None,
        obj: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.place = place
        self.field = field
        self.obj = obj
        self.fix = fix
        super().__init__(self.message)

    @property
    def problem(self) -> str:
        """What went wrong and where, without the fix (`--json` gives the fix apart)."""
        where = []
        if self.place is not None:
            where.append(str(self.place))
        if self.field:
            where.append(f"'{self.field}'")
        elif self.obj:
            where.append(self.obj)
        return ": ".join([*where, self.what]) if where else self.what

    @property
    def message(self) -> str:
        head = self.problem
        if self.fix:
            return f"{head}. {self.fix}"
        return head if head.endswith(".") else f"{head}."


class SpecError(MvctlError):
    """The configuration is malformed or asks for something impossible."""


class SpecErrors(SpecError):
    """Every problem one validation pass found, so the user fixes them all at once."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = tuple(errors)
        count = len(self.errors)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the configuration")

    @property
    def message(self) -> str:
        return "\n".join(error.message for error in self.errors)


class ConflictError(MvctlError):
    """The plan holds conflicts (a policy denial among them), so apply or revert will not start."""


class StaleStateError(MvctlError):
    """The state changed after the plan was made; the plan may no longer be right."""


class PlanMismatchError(MvctlError):
    """A saved plan differs from the plan recomputed from config, state and files (it was
    edited, or they changed), or its signature does not verify; nothing in it is run."""


class LockHeldError(MvctlError):
    """Another writer holds the state lock."""


class StateError(MvctlError):
    """The state database cannot be opened, read, written or migrated."""


class StoreError(MvctlError):
    """The blob store cannot be read or written."""


class DigestMismatchError(StoreError):
    """Content does not hash to the digest recorded for it."""


class UnsafeArtifactError(MvctlError):
    """A model file is not in a safe format or would load untrusted code."""


class BundleError(MvctlError):
    """A bundle (`mvctl export` / `import`, a version's `bundle:`) cannot be trusted."""


class StepFailedError(MvctlError):
    """A version could not be trained: a step exited non-zero or left out its outputs, or the
    model it made is missing or unsafe. Apply records the version as failed, keeping
    ``failure`` (what its record says about why), and goes on with what does not need it."""

    def __init__(self, what: str, failure: Mapping[str, Any], *, fix: str | None = None) -> None:
        super().__init__(what, fix=fix)
        self.failure = failure


class EvaluationError(MvctlError):
    """A version cannot be scored as declared: the data (a missing label column, no rows, the
    wrong number of features), the model (no scores for a metric that needs them), or its
    predictions (NaN)."""


class RevertError(MvctlError):
    """A revert cannot be carried out as asked."""


class NotFoundError(MvctlError):
    """A model, version, alias or apply named by the user does not exist."""


class UsageError(MvctlError):
    """The command was called in a way that cannot work."""


def did_you_mean(word: str, choices: Iterable[str], otherwise: str) -> str:
    """A fix naming the choices closest to a mistyped ``word``, else ``otherwise``.

    Choices that extend the word come first ('1.0' -> '1.0.0' before '1.1.0', which difflib
    rates the same), then difflib's closest."""
    options = list(choices)
    extended = [option for option in options if word and option.startswith(word)]
    close = list(dict.fromkeys([*extended, *difflib.get_close_matches(word, options, n=3)]))[:3]
    if not close:
        return otherwise
    quoted = [f"'{name}'" for name in close]
    names = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"Did you mean {names}?"


def listing(names: Iterable[str], limit: int = 8) -> str:
    """Names for a message: quoted, the first ``limit`` of them, 'none' when there are none."""
    shown = [f"'{name}'" for name in names]
    if not shown:
        return "none"
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more} more" if more > 0 else "")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM asked mvctl to stop (Ctrl-C, a cancelled CI job).

    A KeyboardInterrupt, so whatever stops cleanly on Ctrl-C stops the same way on SIGTERM:
    apply stops its steps, closes its record and releases the lock on the way out. ``mvctl.cli``
    installs the handlers that raise it and exits with 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
