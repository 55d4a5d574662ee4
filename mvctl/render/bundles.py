"""What `mvctl export` and `mvctl import` say when they are done, as text and as JSON
(`schemas/export.schema.json`, `schemas/import.schema.json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from mvctl.render.json_format import FORMAT_VERSION
from mvctl.results.bundles import ExportResult, ImportResult

if TYPE_CHECKING:
    from mvctl.render.shapes import ExportJson, ImportJson


def format_export(result: ExportResult) -> str:
    target = f"{escape(result.model)}@{escape(result.label)}"
    if result.format == "mlflow":
        return (
            f"Exported {target} to {escape(str(result.out))} as an MLflow model; load it with "
            f"`mlflow.pyfunc.load_model({escape(repr(str(result.out)))})`."
        )
    signed = f", signed by {result.signer}" if result.signer else ", unsigned"
    return (
        f"Exported {target} to {escape(str(result.out))} ({result.files} files{signed}); "
        f"import it in another project with `mvctl import {escape(str(result.out))}`."
    )


def format_import(result: ImportResult) -> str:
    target = f"{escape(result.model)}@{escape(result.label)}"
    signed = f"signed by {result.signer}" if result.signer else "unsigned"
    head = f"Verified {escape(result.bundle)} ({signed}; exported from {escape(result.origin)})."
    if not result.diff:
        return f"{head}\n{target} already declares this bundle; nothing to change."
    added = " and the model" if result.model_added else ""
    return (
        f"{head}\nDeclared {target}{added} in {escape(str(result.config_file))}:\n\n"
        f"{escape(result.diff)}\nReview the change, then run `mvctl plan` and `mvctl apply`."
    )


def export_json(result: ExportResult) -> ExportJson:
    return {
        "format_version": FORMAT_VERSION,
        "model": result.model,
        "label": result.label,
        "format": "mlflow" if result.format == "mlflow" else "bundle",
        "output": str(result.out),
        "files": result.files,
        "signer": result.signer,
    }


def import_json(result: ImportResult) -> ImportJson:
    return {
        "format_version": FORMAT_VERSION,
        "model": result.model,
        "label": result.label,
        "origin": result.origin,
        "bundle": result.bundle,
        "signer": result.signer,
        "config_file": str(result.config_file),
        "changed": bool(result.diff),
        "model_added": result.model_added,
        "diff": result.diff,
    }
