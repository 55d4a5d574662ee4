"""`mvctl validate` as text and as JSON (`schemas/validate.schema.json`)."""

from __future__ import annotations

from mvctl.render.markup import escape
from mvctl.render.shapes import FORMAT_VERSION, ValidateJson
from mvctl.results.validate import ValidateResult


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
