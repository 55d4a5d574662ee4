"""JSON Schemas of mvctl's JSON output, generated from the dataclasses that produce it.

`schemas/plan.schema.json` documents `mvctl plan --json` (and saved plan files). It is built
from the Plan's action dataclasses, so a new field or action kind shows up in the schema, and
a test fails while the checked-in copy is stale. Regenerate with
`python -m mvctl.render.schemas`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
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
    PlanOptions,
    StepPlan,
)
from mvctl.render.check import check_json_schema

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _type_schema(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if hint is str:
        return {"type": "string"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is bool:
        return {"type": "boolean"}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0])}
    if origin in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in typing.get_args(hint)]
        return {"anyOf": options}
    if hint is type(None):
        return {"type": "null"}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": f"#/$defs/{hint.__name__}"}
    return {}


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
    for helper in (FieldChange, StepPlan, Conflict, Drift, DatasetRef, GateCheck):
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
            "format",
            "project",
            "serial",
            "options",
            "actions",
            "conflicts",
            "drift",
            "hash",
            "summary",
        ],
        "properties": {
            "format": {"const": PLAN_FORMAT},
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


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_output_schemas(folder: Path) -> list[Path]:
    path = folder / "plan.schema.json"
    path.write_text(render_schema(plan_json_schema()), "utf-8")
    check = folder / "check.schema.json"
    check.write_text(render_schema(check_json_schema()), "utf-8")
    return [path, check]


if __name__ == "__main__":
    for written in write_output_schemas(Path(__file__).resolve().parents[2] / "schemas"):
        print(f"wrote {written}")
