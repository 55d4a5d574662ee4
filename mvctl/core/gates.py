"""Gates: the conditions a version must meet before an alias may point at it.

A gate is one comparison, written as text in the config::

    gate     := METRIC OP bound
    bound    := NUMBER | "baseline" "(" ALIAS ")" [ ("+" | "-") NUMBER ]
    OP       := ">=" | ">" | "<=" | "<" | "==" | "!="

``parse_gate`` turns the text into a ``Gate`` or raises ``GateSyntaxError`` naming the
character where it went wrong and what was expected there; the spec checks report that with
the file, line and column. ``check_gate`` decides one gate on known numbers: pass, fail, or
inconclusive when a number is missing, not a number, NaN or infinite. A gate against
``baseline(ALIAS)`` where the alias points at no version yet is decided by the model's
``when_no_baseline``. Comparisons are made on the numbers as written (decimal), so a metric
exactly at its threshold passes ``>=`` however the sum ``baseline - 0.01`` rounds in binary.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from decimal import Decimal

Operator = Literal[">=", ">", "<=", "<", "==", "!="]
GateResult = Literal["pass", "fail", "inconclusive"]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|>|<)|(?P<punct>[()+-]))"
)
_OPERATORS: dict[str, Any] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
BASELINE = "baseline"


class GateSyntaxError(ValueError):
    """A gate that does not parse: where (0-based character), what was expected, what was found."""

    def __init__(self, text: str, position: int, expected: str, found: str, fix: str | None = None):
        self.text = text
        self.position = position
        self.expected = expected
        self.found = found
        self.fix = fix
        super().__init__(f"at character {position + 1}: expected {expected}, found {found}")


@dataclass(frozen=True, slots=True)
class Gate:
    text: str
    metric: str
    op: Operator
    threshold: str | None
    """The absolute bound as written (decimal text), or None for a baseline gate."""
    baseline: str | None = None
    """The alias whose version is the baseline, for ``baseline(ALIAS)`` gates."""
    offset: str = "0"
    """Signed decimal added to the baseline's value."""
    alias_position: int = -1
    """Where the alias starts in ``text`` (for errors about an undeclared alias)."""


@dataclass(frozen=True, slots=True)
class GateOutcome:
    result: GateResult
    value: float | None
    """The candidate's metric, when it is a finite number."""
    bound: float | None
    """What it was compared with (the threshold, or the baseline's value plus the offset)."""
    reason: str
    """One line saying why: the numbers, and by how much a failing gate missed."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            start = position + len(text[position:]) - len(text[position:].lstrip())
            tokens.append(_Token("bad", text[start], start))
            return tokens
        kind = match.lastgroup or "bad"
        start = match.start(kind)
        tokens.append(_Token(kind, match.group(kind), start))
        position = match.end()
    tokens.append(_Token("end", "", len(text.rstrip())))
    return tokens


def _shown(token: _Token) -> str:
    return "the end of the gate" if token.kind == "end" else f"'{token.text}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self, kind: str, expected: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token.kind != kind or (text is not None and token.text != text):
            raise GateSyntaxError(self.text, token.position, expected, _shown(token))
        self.index += 1
        return token

    def parse(self) -> Gate:
        metric = self.take("name", "a metric name such as f1")
        op = self.take("op", "a comparison (>=, >, <=, <, ==, !=)")
        threshold: str | None = None
        alias: _Token | None = None
        offset = "0"
        token = self.peek()
        if token.kind == "name":
            if token.text != BASELINE:
                fix = (
                    "Did you mean 'baseline'?"
                    if difflib.get_close_matches(token.text, [BASELINE])
                    else (
                        "Compare with a number, or with baseline(ALIAS) for the version an alias holds now."
                    )
                )
                raise GateSyntaxError(
                    self.text, token.position, "a number or baseline(ALIAS)", _shown(token), fix
                )
            self.index += 1
            self.take("punct", "'(' after baseline", "(")
            alias = self.take("name", "an alias name such as production")
            self.take("punct", "')' after the alias", ")")
            if self.peek().kind == "punct" and self.peek().text in "+-":
                sign = self.take("punct", "'+' or '-'").text
                number = self.take("number", f"a number after '{sign}'")
                offset = f"-{number.text}" if sign == "-" else number.text
        else:
            sign = ""
            if token.kind == "punct" and token.text in "+-":
                sign = "-" if self.take("punct", "'+' or '-'").text == "-" else ""
            threshold = sign + self.take("number", "a number or baseline(ALIAS)").text
        self.take("end", "the end of the gate")
        return Gate(
            self.text,
            metric.text,
            op.text,  # type: ignore[arg-type]  # the token pattern admits operators only
            threshold,
            alias.text if alias else None,
            offset,
            alias.position if alias else -1,
        )


_PARSED: dict[str, Gate] = {}


def parse_gate(text: str) -> Gate:
    """The gate ``text`` says, or GateSyntaxError; a thousand models sharing a gate parse it once."""
    gate = _PARSED.get(text)
    if gate is None:
        gate = _Parser(text).parse()
        if len(_PARSED) < 4096:
            _PARSED[text] = gate
    return gate


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a real, finite number (not a bool, not NaN or ±inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def describe_value(value: Any) -> str:
    """Why a value cannot decide a gate, in words."""
    if value is None:
        return "missing"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"not a number ({value!r})"


def _decimal(value: float | str) -> Decimal:
    # Imported here: only deciding a gate needs it, and every plan imports this module.
    from decimal import Decimal

    return Decimal(repr(value) if isinstance(value, float) else value)


def check_gate(
    gate: Gate,
    value: Any,
    *,
    baseline_version: str | None = None,
    baseline_value: Any = None,
    when_no_baseline: Literal["pass", "fail"] = "pass",
) -> GateOutcome:
    """Decide ``gate`` for a candidate whose metric is ``value``.

    For a baseline gate, ``baseline_version`` is the version the alias holds (None: none) and
    ``baseline_value`` that version's metric on the same data.
    """
    number = finite_number(value)
    if number is None:
        return GateOutcome("inconclusive", None, None, f"{gate.metric} is {describe_value(value)}")
    if gate.baseline is not None and baseline_version is None:
        return GateOutcome(
            when_no_baseline,
            number,
            None,
            f"{gate.baseline} points at no version yet, so there is no baseline; "
            f"when_no_baseline: {when_no_baseline}",
        )
    if gate.baseline is not None:
        base = finite_number(baseline_value)
        if base is None:
            return GateOutcome(
                "inconclusive",
                number,
                None,
                f"the baseline {gate.baseline} ({baseline_version}) has {gate.metric} "
                f"{describe_value(baseline_value)}",
            )
        bound = _decimal(base) + _decimal(gate.offset)
        offset = (
            ""
            if _decimal(gate.offset) == 0
            else (f" {'-' if gate.offset.startswith('-') else '+'} {gate.offset.lstrip('-')}")
        )
        explained = f" (baseline {gate.baseline} = {baseline_version}: {_format(base)}{offset})"
    else:
        bound = _decimal(gate.threshold or "0")
        explained = ""
    passed = bool(_OPERATORS[gate.op](_decimal(number), bound))
    shown = f"{gate.op} {_format(float(bound))}{explained}"
    if passed:
        return GateOutcome(
            "pass", number, float(bound), f"{gate.metric} = {_format(number)} {shown}"
        )
    miss = abs(float(_decimal(number) - bound))
    return GateOutcome(
        "fail",
        number,
        float(bound),
        f"{gate.metric} = {_format(number)}, not {shown}"
        + (f"; off by {_format(miss)}" if miss else ""),
    )


def _format(number: float) -> str:
    return f"{number:.6g}"
