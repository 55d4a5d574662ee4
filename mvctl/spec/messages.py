"""Pydantic's validation errors -> SpecErrors that name the line and the fix.

Pydantic says *what* is wrong with a value at a ``loc``; a user needs the line, the column,
and words about YAML rather than Python ("got a boolean: YAML reads yes as true"). This
module maps each error to one SpecError, placing it through ``Positions`` and suggesting
the key or value meant, drawn from the models valid at that very location.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mvctl.errors import SpecError
from mvctl.spec.models import DEP_TAGS
from mvctl.spec.positions import NodePath, Positions, dotted

_NAME_KINDS = {
    "models": "model name",
    "versions": "version label",
    "aliases": "alias name",
    "params": "step name",
    "protected_aliases": "alias name",
}


def schema_errors(
    exc: ValidationError, positions: Positions, reported: set[NodePath], model: type[BaseModel]
) -> list[SpecError]:
    """One SpecError per problem pydantic found, skipping those already reported.

    ``reported`` holds paths the YAML reader already explained (a boolean key, a numeric
    version label); errors at or under them would repeat the news in worse words.
    """
    errors: list[SpecError] = []
    seen: set[NodePath] = set()
    found = exc.errors(include_url=False)
    # 'form' where 'from' is required gives "unknown key 'form'; did you mean 'from'?" and
    # "missing 'from'"; the second says nothing new.
    meant: set[NodePath] = set()
    for error in found:
        error["loc"] = _without_union_tags(error["loc"])
    for error in found:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            close = difflib.get_close_matches(str(loc[-1]), _keys_at(model, loc[:-1]), n=1)
            meant.update((*loc[:-1], key) for key in close)
    for error in found:
        loc = tuple(error["loc"])
        if any(loc[:length] in reported for length in range(len(loc) + 1)):
            continue
        if loc in seen or (error["type"] == "missing" and loc in meant):
            continue
        seen.add(loc)
        errors.append(_translate(error, loc, positions, model))
    return errors


def _without_union_tags(loc: Sequence[Any]) -> NodePath:
    """The location without the tag pydantic adds after a list item that may take two forms
    (a dep: a path, or a mapping): the YAML has no such key."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (part in DEP_TAGS and index > 0 and isinstance(loc[index - 1], int))
    )


def _translate(
    error: Any, loc: NodePath, positions: Positions, model: type[BaseModel]
) -> SpecError:
    kind: str = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    field = dotted(loc) or None
    fix: str | None

    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _keys_at(model, loc[:-1])
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            fix = f"Did you mean '{close[0]}'?"
        elif valid:
            fix = f"Valid keys here: {', '.join(valid)}."
        else:
            fix = "Remove it."
        return SpecError(f"unknown key '{key}'", place=positions.place(loc), field=field, fix=fix)

    if kind == "missing":
        key = str(loc[-1])
        return SpecError(
            f"missing required key '{key}'",
            place=positions.value_place(loc[:-1]),
            field=field,
            fix=f"Add '{key}: ...' here.",
        )

    if is_key:
        what_kind = _NAME_KINDS.get(str(loc[-2]) if len(loc) > 1 else "", "name")
        return SpecError(
            f"{_quote(value)} is not a valid {what_kind}: {_pattern_rule(ctx.get('pattern'), error)}",
            place=positions.place(loc),
            field=field,
            fix=_pattern_fix(ctx.get("pattern")),
        )

    place = positions.value_place(loc)
    raw = positions.raw(loc)

    if kind == "value_error":
        reason = ctx.get("error")
        what = (
            str(reason) if reason is not None else str(error["msg"]).removeprefix("Value error, ")
        )
        return SpecError(what, place=positions.place(loc), field=field)

    if kind == "literal_error":
        allowed = _literal_values(model, loc)
        shown = ", ".join(f"'{item}'" for item in allowed) if allowed else ctx.get("expected", "")
        if isinstance(value, bool):
            return SpecError(
                f"YAML reads {raw} as a boolean; expected one of {shown}",
                place=place,
                field=field,
                fix="Use one of the allowed values (quote text YAML could read as a boolean).",
            )
        close = difflib.get_close_matches(str(value), [str(item) for item in allowed], n=1)
        fix = f"Did you mean '{close[0]}'?" if close else f"Use one of {shown}."
        return SpecError(
            f"{_quote(value)} is not allowed here; expected one of {shown}",
            place=place,
            field=field,
            fix=fix,
        )

    if kind == "string_type":
        if isinstance(value, bool):
            word = str(value).lower()
            read = (
                f"the boolean {word}"
                if (raw or word).lower() == word
                else (f"a boolean: YAML reads {raw} as {word}")
            )
            return SpecError(
                f"expected a string, got {read}",
                place=place,
                field=field,
                fix=f'Quote it: "{raw or word}".',
            )
        fix = f'Quote it: "{raw}".' if raw and value is not None else None
        if value is None:
            fix = "Write a value, or remove the key."
        return SpecError(
            f"expected a string, got {_describe(value, raw)}", place=place, field=field, fix=fix
        )

    if kind == "bool_type":
        return SpecError(
            f"expected true or false, got {_describe(value, raw)}",
            place=place,
            field=field,
            fix="Write true or false, unquoted.",
        )

    if kind in ("dict_type", "model_type", "model_attributes_type"):
        fix = None
        if value is None and len(loc) >= 2 and loc[-2] == "versions":
            fix = "Write {} for a version that changes nothing."
        elif value is None:
            fix = "Write the settings under the key, or remove the key."
        return SpecError(
            f"expected a mapping, got {_describe(value, raw)}", place=place, field=field, fix=fix
        )

    if kind == "list_type":
        fix = (
            f'Write a list, e.g. ["{value}"].'
            if isinstance(value, str)
            else "Write a list, e.g. [a, b]."
        )
        return SpecError(
            f"expected a list, got {_describe(value, raw)}", place=place, field=field, fix=fix
        )

    if kind == "string_pattern_mismatch":
        what_kind = _NAME_KINDS.get(str(loc[-2]) if len(loc) > 1 else "", "name")
        if len(loc) and loc[-1] == "name":
            what_kind = "name"
        return SpecError(
            f"{_quote(value)} is not a valid {what_kind}: {_pattern_rule(ctx.get('pattern'), error)}",
            place=place,
            field=field,
            fix=_pattern_fix(ctx.get("pattern")),
        )

    if kind == "string_too_long":
        return SpecError(
            f"longer than {ctx.get('max_length')} characters",
            place=place,
            field=field,
            fix="Shorten it.",
        )

    message = str(error["msg"])
    return SpecError(message[:1].lower() + message[1:], place=place, field=field)


def _describe(value: Any, raw: str | None) -> str:
    if isinstance(value, bool):
        return f"a boolean ({raw or str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({raw or value})"
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({_quote(value)})"
    return type(value).__name__


def _quote(value: Any) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"'{text}'"


def _pattern_rule(pattern: Any, error: Any) -> str:
    if isinstance(pattern, str) and "+" in pattern:
        return "use letters, digits and . _ + -, starting with a letter or digit"
    if isinstance(pattern, str):
        return "use letters, digits and . _ -, starting with a letter or digit"
    return str(error["msg"])


def _pattern_fix(pattern: Any) -> str:
    return "Rename it, e.g. 'churn-model' or '1.0.0'." if pattern else "Fix the value."


# Walking the models along a loc ---------------------------------------------------------


def _strip(annotation: Any) -> Any:
    """Annotated[X, ...] -> X and X | None -> X, repeatedly; a union of text and one model
    (a dep) -> the model, whose keys a mapping there may hold."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin is Union or origin is types.UnionType:
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            models = [arg for arg in options if _is_model(_strip(arg))]
            if len(options) == 1 or len(models) == 1:
                annotation = options[0] if len(options) == 1 else models[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _annotation_at(model: type[BaseModel], loc: Sequence[Any]) -> Any:
    """The type expected at ``loc`` under ``model``, or None when the walk loses its way."""
    annotation: Any = model
    for part in loc:
        annotation = _strip(annotation)
        if _is_model(annotation):
            field = _field(annotation, part)
            if field is None:
                return None
            annotation = field
            continue
        origin = get_origin(annotation)
        args = get_args(annotation)
        if origin is list and isinstance(part, int) and args:
            annotation = args[0]
        elif origin is dict and len(args) == 2:
            annotation = args[1]
        else:
            return None
    return _strip(annotation)


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, info in model.model_fields.items():
        if key == (info.alias or name):
            return info.annotation
    return None


def _keys_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys a YAML mapping may hold at ``loc``: field names, or their aliases."""
    annotation = _annotation_at(model, loc)
    if not _is_model(annotation):
        return []
    return [info.alias or name for name, info in annotation.model_fields.items()]


def _literal_values(model: type[BaseModel], loc: Sequence[Any]) -> list[Any]:
    annotation = _annotation_at(model, loc)
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return []
