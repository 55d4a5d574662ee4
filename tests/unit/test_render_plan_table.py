"""Every action type has its own lines in the plan, terminal and Markdown: a table keyed by
type, so a new action kind without an entry fails here instead of printing another's line."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import pytest

from mvctl.core.plan import ACTION_TYPES, Plan, StepPlan
from mvctl.render.markup import strip
from mvctl.render.plan import (
    ACTION_LINES,
    MARKDOWN_DETAILS,
    action_lines,
    format_plan_markdown,
)


def sample(cls: type) -> Any:
    """An instance of action ``cls`` with every field filled in by its type."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        values[field.name] = _value(field.name, hints[field.name])
    if "steps" in values:
        values["steps"] = (StepPlan("train", "k" * 64, "run", "never trained"),)
    return cls(**values)


def _value(name: str, hint: Any) -> Any:
    options = typing.get_args(hint)
    if hint is Any:
        return {}
    if hint is str or str in options:
        return f"{name}-value"
    if typing.get_origin(hint) is typing.Literal:
        return options[0]
    if typing.get_origin(hint) is tuple:
        return ()
    if hint is bool:
        return False
    if hint in (int, float):
        return hint(1)
    if dataclasses.is_dataclass(hint):
        return sample(hint)
    return _value(name, options[0])


def test_every_action_type_has_terminal_lines_and_markdown_details() -> None:
    assert set(ACTION_LINES) == set(ACTION_TYPES)
    assert set(MARKDOWN_DETAILS) == set(ACTION_TYPES)


def test_no_two_action_types_print_the_same_headline() -> None:
    """What the old chain did wrong: an unmatched action printed as 'release pin'."""
    verbs = {cls: " ".join(strip(action_lines(sample(cls))[0]).split()[:2]) for cls in ACTION_TYPES}
    assert len(set(verbs.values())) == len(ACTION_TYPES), verbs


@pytest.mark.parametrize("cls", ACTION_TYPES, ids=lambda cls: cls.kind)
def test_each_action_headline_names_its_target(cls: type) -> None:
    action = sample(cls)
    headline = strip(action_lines(action)[0])
    if action.model:
        assert action.model in headline
    changes = format_plan_markdown(Plan("p", 0, actions=(action,))).split("#### Changes")[1]
    verb = headline.split()[1]
    assert any(line.startswith("- ") and verb in line for line in changes.splitlines())


def test_an_action_of_an_unknown_type_is_an_error_not_a_wrong_line() -> None:
    @dataclass(frozen=True)
    class PaintVersion:
        kind = "paint_version"
        model: str
        alias: str
        version: str

    with pytest.raises(KeyError):
        action_lines(PaintVersion("churn", "production", "1.0.0"))  # type: ignore[arg-type]
