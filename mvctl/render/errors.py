"""An error as `--json` prints it on stdout (`schemas/error.schema.json`): what went wrong,
the fix apart, the exit code, and each problem of a config that does not load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.errors import MvctlError, SpecError, SpecErrors
from mvctl.exit_codes import ExitCode
from mvctl.render.json_format import FORMAT_VERSION

if TYPE_CHECKING:
    from mvctl.render.shapes import ErrorJson, ProblemJson


def mvctl_error_json(error: MvctlError, exit_code: ExitCode) -> ErrorJson:
    shape = error_json(type(error).__name__, error.problem, error.fix, exit_code)
    if isinstance(error, SpecError):
        errors = error.errors if isinstance(error, SpecErrors) else (error,)
        shape["problems"] = [_problem(each) for each in errors]
    return shape


def error_json(
    kind: str, error: str, fix: str | None, exit_code: ExitCode, *, log: str | None = None
) -> ErrorJson:
    shape: ErrorJson = {
        "format_version": FORMAT_VERSION,
        "error": error,
        "fix": fix,
        "exit_code": exit_code,
        "kind": kind,
    }
    if log is not None:
        shape["log"] = log
    return shape


def _problem(error: SpecError) -> ProblemJson:
    place = error.place
    return {
        "message": error.message,
        "file": place.file if place else None,
        "line": place.line if place else None,
        "column": place.column if place else None,
        "field": error.field,
    }
