"""JSON Schemas of mvctl's `--json` output, generated from the types that produce it.

`schemas/plan.schema.json` documents `mvctl plan --json` (and saved plan files): it is built
from the Plan's action dataclasses, so a new field or action kind shows up in the schema.
Every other document is a TypedDict in ``mvctl.render.shapes``, which the function building
it returns. ``output_schemas`` names each file; a test fails while a checked-in copy is stale
and validates real command output against each. Regenerate with
`python -m mvctl.render.schemas`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

from mvctl.core.plan import (
    ACTION_TYPES,
    PLAN_FORMAT,
    Conflict,
    DatasetRef,
    Drift,
    FieldChange,
    GateCheck,
    LineageNote,
    PlanOptions,
    StepPlan,
)
from mvctl.render import shapes

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _type_schema(hint: Any) -> dict[str, Any]:
    """The schema of one Python type; dataclasses and TypedDicts by reference (``$defs``)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        inner, *notes = typing.get_args(hint)
        schema = _type_schema(inner)
        for note in notes:
            schema.update({"description": note} if isinstance(note, str) else note)
        return schema
    if origin is typing.NotRequired:
        return _type_schema(typing.get_args(hint)[0])
    if hint is Any:
        return {}
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and issubclass(hint, enum.IntEnum):
        return {"enum": sorted({int(member) for member in hint})}
    if origin is Literal:
        values = list(typing.get_args(hint))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (tuple, list):
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0])}
    if origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": _type_schema(typing.get_args(hint)[1])}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type_schema(arg) for arg in typing.get_args(hint)]}
    if typing.is_typeddict(hint) or (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    raise TypeError(f"no JSON Schema for {hint!r}")


def _object_schema(cls: type, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.name.startswith("_")]
    properties = {f.name: _type_schema(hints[f.name]) for f in fields}
    required = [f.name for f in fields]
    doc = (cls.__doc__ or "").strip().splitlines()
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if doc:
        schema["description"] = doc[0]
    if extra:
        properties = {**extra, **properties}
        required = [*extra, *required]
    schema["properties"] = properties
    schema["required"] = required
    return schema


def _saved_options_schema() -> dict[str, Any]:
    """The options a plan file records: PlanOptions but the actor, who is never saved."""
    schema = _object_schema(PlanOptions)
    saved = list(PlanOptions().saved())
    schema["properties"] = {name: schema["properties"][name] for name in saved}
    schema["required"] = saved
    return schema


def plan_json_schema() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    for cls in ACTION_TYPES:
        definitions[cls.__name__] = _object_schema(cls, {"kind": {"const": cls.kind}})
    for helper in (FieldChange, StepPlan, Conflict, Drift, LineageNote, DatasetRef, GateCheck):
        definitions[helper.__name__] = _object_schema(helper)
    definitions["PlanOptions"] = _saved_options_schema()
    summary_keys = [cls.kind for cls in ACTION_TYPES] + [
        "steps_run",
        "steps_cached",
        "conflicts",
        "drift",
    ]
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "https://mvctl.dev/schemas/plan.schema.json",
        "title": "mvctl plan",
        "description": "Output of `mvctl plan --json` and the content of `mvctl plan --out FILE`.",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "format_version",
            "project",
            "serial",
            "options",
            "actions",
            "conflicts",
            "drift",
            "lineage",
            "hash",
            "summary",
        ],
        "properties": {
            "format_version": {"const": PLAN_FORMAT},
            "project": {"type": "string"},
            "serial": {
                "type": "integer",
                "minimum": 0,
                "description": "State serial the plan was made against.",
            },
            "options": {
                "$ref": "#/$defs/PlanOptions",
                "description": "What the plan was asked for; `apply FILE` recomputes with them.",
            },
            "actions": {
                "type": "array",
                "items": {"oneOf": [{"$ref": f"#/$defs/{cls.__name__}"} for cls in ACTION_TYPES]},
            },
            "conflicts": {"type": "array", "items": {"$ref": "#/$defs/Conflict"}},
            "drift": {"type": "array", "items": {"$ref": "#/$defs/Drift"}},
            "lineage": {
                "type": "array",
                "items": {"$ref": "#/$defs/LineageNote"},
                "description": "Per model, the trained versions kept as recorded although "
                "files or environment values their steps read changed since: not a conflict.",
            },
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "signature": {
                "type": "string",
                "pattern": "^hmac-sha256:[0-9a-f]{64}$",
                "description": "Only in a file saved by `plan --out` with MVCTL_PLAN_KEY set: "
                "HMAC-SHA256 of the canonical plan without hash, summary and signature.",
            },
            "summary": {
                "type": "object",
                "additionalProperties": False,
                "required": summary_keys,
                "properties": {key: {"type": "integer", "minimum": 0} for key in summary_keys},
            },
        },
        "$defs": definitions,
    }


def _typeddict_schema(cls: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    doc = (cls.__doc__ or "").strip().splitlines()
    if doc:
        schema["description"] = doc[0]
    schema["properties"] = {name: _type_schema(hint) for name, hint in hints.items()}
    schema["required"] = [name for name in hints if name in cls.__required_keys__]
    return schema


def _referenced(schema: Any) -> set[str]:
    """Names of the ``$defs`` a schema refers to."""
    if isinstance(schema, dict):
        found = set()
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.removeprefix("#/$defs/"))
        for value in schema.values():
            found |= _referenced(value)
        return found
    if isinstance(schema, list):
        return set().union(*map(_referenced, schema)) if schema else set()
    return set()


def document_schema(cls: Any, file_name: str, title: str) -> dict[str, Any]:
    """The schema of the JSON document TypedDict ``cls``, with every type it uses in ``$defs``."""
    schema = _typeddict_schema(cls)
    definitions: dict[str, Any] = {}
    pending = _referenced(schema)
    types_by_name = {
        name: value
        for name, value in vars(shapes).items()
        if isinstance(value, type) and typing.is_typeddict(value)
    }
    while pending:
        name = pending.pop()
        if name in definitions:
            continue
        definitions[name] = _typeddict_schema(types_by_name[name])
        pending |= _referenced(definitions[name]) - set(definitions)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://mvctl.dev/schemas/{file_name}",
        "title": title,
        **schema,
        **({"$defs": dict(sorted(definitions.items()))} if definitions else {}),
    }


DOCUMENTS: tuple[tuple[str, Any, str], ...] = (
    ("validate.schema.json", shapes.ValidateJson, "mvctl validate"),
    ("apply.schema.json", shapes.ApplyJson, "mvctl apply"),
    ("revert.schema.json", shapes.RevertJson, "mvctl revert"),
    ("status.schema.json", shapes.StatusJson, "mvctl status"),
    ("history.schema.json", shapes.HistoryJson, "mvctl history"),
    ("monitor.schema.json", shapes.MonitorJson, "mvctl monitor"),
    ("history-monitor.schema.json", shapes.MonitorHistoryJson, "mvctl history --monitor"),
    ("show.schema.json", shapes.ShowJson, "mvctl show"),
    ("compare.schema.json", shapes.CompareJson, "mvctl compare"),
    ("logs.schema.json", shapes.LogsJson, "mvctl logs"),
    ("check.schema.json", shapes.CheckJson, "mvctl state check"),
    ("gc.schema.json", shapes.GcJson, "mvctl store gc"),
    ("init.schema.json", shapes.InitJson, "mvctl init"),
    ("report.schema.json", shapes.ReportJson, "mvctl report"),
    ("freeze.schema.json", shapes.FreezeJson, "mvctl freeze"),
    ("reproduce.schema.json", shapes.ReproduceJson, "mvctl reproduce"),
    ("trigger.schema.json", shapes.TriggerJson, "mvctl trigger"),
    ("export.schema.json", shapes.ExportJson, "mvctl export"),
    ("import.schema.json", shapes.ImportJson, "mvctl import"),
    ("error.schema.json", shapes.ErrorJson, "mvctl, any command failing under --json"),
)
"""Each file in ``schemas/`` that documents a TypedDict document, and its title."""


def output_schemas() -> dict[str, dict[str, Any]]:
    """Every `--json` output's schema, by its file name in ``schemas/``."""
    schemas = {"plan.schema.json": plan_json_schema()}
    schemas.update({name: document_schema(cls, name, title) for name, cls, title in DOCUMENTS})
    return schemas


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_output_schemas(folder: Path) -> list[Path]:
    written = []
    for name, schema in output_schemas().items():
        path = folder / name
        path.write_text(render_schema(schema), "utf-8")
        written.append(path)
    return written


def default_folder() -> Path:
    """``schemas/`` at the repository root, beside the ``mvctl`` package."""
    return Path(__file__).resolve().parents[2] / "schemas"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default_folder()
    for written in write_output_schemas(target):
        print(f"wrote {written}")
