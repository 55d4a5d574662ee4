"""No config key without behaviour: every field the schema accepts is read outside mvctl/spec.

A key that validates and does nothing is worse than no key, because users trust it. This walks
every spec model reachable from ``Config`` and looks for a read of each field in the code that
acts on the configuration (anything under mvctl/ but the spec package that defines it).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from mvctl.spec.models import Config

PACKAGE = Path(__file__).resolve().parents[2] / "mvctl"

READ_BY_THE_LOADER = {
    ("Config", "include"): "the loader merges the included files into `models`",
}
"""Fields whose behaviour is the spec package's own, with why."""


def _models(root: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        yield model
        for info in model.model_fields.values():
            todo.extend(_nested_models(info.annotation))


def _nested_models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _nested_models(argument)


def _acting_code() -> str:
    return "\n".join(
        path.read_text("utf-8")
        for path in PACKAGE.rglob("*.py")
        if "spec" not in path.relative_to(PACKAGE).parts
    )


def test_every_config_field_is_read_outside_the_spec_package() -> None:
    code = _acting_code()
    unread = []
    for model in _models(Config):
        for name, info in model.model_fields.items():
            if (model.__name__, name) in READ_BY_THE_LOADER:
                continue
            keys = {name, info.alias or name}
            pattern = "|".join(
                rf"\.{re.escape(key)}\b|[\"']{re.escape(key)}[\"']" for key in sorted(keys)
            )
            if not re.search(pattern, code):
                unread.append(f"{model.__name__}.{name}")
    assert unread == [], f"config fields nothing acts on: {unread}"


def test_the_walk_reaches_nested_models() -> None:
    names = {model.__name__ for model in _models(Config)}
    assert {"Config", "ModelSpec", "Step", "Evaluation", "Dataset", "Notification"} <= names
