"""The gate grammar: how a gate is written in the config, and what it says.

A gate is one comparison::

    gate     := METRIC OP bound
    bound    := NUMBER | "baseline" "(" ALIAS ")" [ ("+" | "-") NUMBER ]
    OP       := ">=" | ">" | "<=" | "<" | "==" | "!="

``parse_gate`` turns the text into a ``Gate`` or raises ``GateSyntaxError`` naming the
character where it went wrong and what was expected there; the spec checks report that with
the file, line and column. The grammar belongs to the config language, so it lives with the
spec; deciding a gate on numbers is the planner's and apply's (``mvctl.core.gates``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

Operator = Literal[">=", ">", "<=", "<", "==", "!="]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|>|<)|(?P<punct>[()+-]))"
)
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
