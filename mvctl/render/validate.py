"""`mvctl validate` as text and as JSON (`schemas/validate.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.render.markup import escape
from mvctl.results.validate import ValidateResult

if TYPE_CHECKING:
    from mvctl.render.shapes import ValidateJson


def format_validate(result: ValidateResult) -> str:
    return (
        f"[green]Valid:[/] {result.models} models, {result.versions} versions "
        f"({escape(', '.join(result.files))})."
    )


def validate_json(result: ValidateResult) -> ValidateJson:
    return {
        "format_version": FORMAT_VERSION,
        "valid": True,
        "models": result.models,
        "versions": result.versions,
        "files": list(result.files),
    }
