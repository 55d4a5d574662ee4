"""A trigger's label template: the label of the version it proposes.

``"1.1.{n}"`` gives 1.1.1, 1.1.2, ...: ``{n}`` is one more than the largest number already
taken by a label the template could have made (declared or recorded), so a new label never
names a version that exists. ``{from}``, ``{date}`` (YYYYMMDD) and ``{trigger}`` are filled in
as they are. Validation and `mvctl trigger` read templates through these functions alone.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

PLACEHOLDERS = ("from", "n", "date", "trigger")
DATE_DIGITS = 8
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
LABEL_MAX_LENGTH = 128


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a label template, or None."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return f"'{template}' has a '{{' or '}}' without its pair"
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            return f"'{template}' uses {{{field}}}; a label template may use " + ", ".join(
                f"{{{name}}}" for name in PLACEHOLDERS
            )
        if spec or conversion:
            return f"'{template}' formats {{{field}}}; write the placeholder plainly"
    return None


def placeholders(template: str) -> set[str]:
    """The placeholders ``template`` uses (the template must be valid)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(template: str, values: Mapping[str, str | int]) -> str:
    """The label ``template`` gives with ``values`` for its placeholders."""
    return template.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


def pattern(template: str, fixed: Mapping[str, str]) -> re.Pattern[str]:
    """A regex matching every label ``template`` can give with the ``fixed`` values; ``{n}``
    (and any placeholder not fixed) is captured as a group named after it."""
    regex = ""
    seen: set[str] = set()
    for literal, field, _, _ in string.Formatter().parse(template):
        regex += re.escape(literal)
        if field is None:
            continue
        if field in fixed:
            regex += re.escape(fixed[field])
        elif field in seen:
            regex += f"(?P={field})"
        else:
            seen.add(field)
            regex += f"(?P<{field}>{_ANY[field]})"
    return re.compile(f"^{regex}$")


_ANY = {
    "n": r"[0-9]+",
    "date": rf"[0-9]{{{DATE_DIGITS}}}",
    "from": r"[A-Za-z0-9][A-Za-z0-9_.+-]*",
    "trigger": r"[A-Za-z0-9][A-Za-z0-9_.-]*",
}


def next_number(template: str, fixed: Mapping[str, str], taken: Iterable[str]) -> int:
    """The ``{n}`` for the next label: one more than the largest number a ``taken`` label
    holds where the template puts ``{n}`` (with the other placeholders ``fixed``), else 1."""
    match_label = pattern(template, fixed).match
    numbers = [int(found["n"]) for label in taken if (found := match_label(label))]
    return max(numbers, default=0) + 1


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot label a version, or None."""
    if len(label) > LABEL_MAX_LENGTH:
        return f"'{label[:40]}...' is longer than {LABEL_MAX_LENGTH} characters"
    if not LABEL_PATTERN.match(label):
        return (
            f"'{label}' is not a valid version label: use letters, digits and . _ + -, "
            "starting with a letter or digit"
        )
    return None
