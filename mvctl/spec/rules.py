"""The monitoring rule grammar: how a rule over `mvctl monitor` samples is written.

A rule is one comparison::

    rule     := SUBJECT OP bound
    SUBJECT  := METRIC | DRIFT_STATISTIC
    bound    := NUMBER | "promoted" [ ("+" | "-") NUMBER ]
    OP       := ">=" | ">" | "<=" | "<"

A METRIC is one of the model's evaluation metrics, measured on labelled batches; a drift
statistic (``DRIFT_STATISTICS``) is measured on every batch. ``promoted`` is the served
version's own evaluation result at its promotion, so it only bounds metrics. Deciding a rule
on samples is the pure core's (``mvctl.core.monitoring``); this module only reads the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RuleOperator = Literal[">=", ">", "<=", "<"]
PROMOTED = "promoted"

DRIFT_STATISTICS = {
    "drift.psi.max": "the largest population stability index of any feature",
    "drift.ks.max": "the largest two-sample Kolmogorov-Smirnov statistic of a numeric feature",
    "drift.share": "the share of features that drift (test p-value below 0.05)",
    "drift.prediction.psi": "the population stability index of the predictions",
}
"""Drift statistics a rule may bound, with what each measures."""

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_RULE = re.compile(
    rf"^\s*(?P<subject>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>>=|<=|>|<)\s*"
    rf"(?:(?P<number>-?{_NUMBER})|{PROMOTED}\s*(?:(?P<sign>[+-])\s*(?P<offset>{_NUMBER}))?)\s*$"
)


class RuleSyntaxError(ValueError):
    """A rule that does not read as SUBJECT OP bound."""


@dataclass(frozen=True, slots=True)
class Rule:
    text: str
    subject: str
    """A metric name, or one of ``DRIFT_STATISTICS``."""
    op: RuleOperator
    threshold: float | None
    """The absolute bound, or None for a bound on ``promoted``."""
    offset: float = 0.0
    """Added to the promoted value (negative for '- NUMBER')."""

    @property
    def on_drift(self) -> bool:
        return self.subject in DRIFT_STATISTICS


def parse_rule(text: str) -> Rule:
    """``text`` as a Rule; raises RuleSyntaxError saying what a rule looks like."""
    match = _RULE.match(text)
    if match is None:
        raise RuleSyntaxError(
            f"rule '{text}' does not read as SUBJECT OP BOUND (OP one of >=, >, <=, <; BOUND a "
            f"number or '{PROMOTED}' with an optional '+ NUMBER' or '- NUMBER')"
        )
    op: RuleOperator = match["op"]  # type: ignore[assignment]
    if match["number"] is not None:
        return Rule(text, match["subject"], op, float(match["number"]))
    offset = float(match["offset"] or 0) * (-1 if match["sign"] == "-" else 1)
    return Rule(text, match["subject"], op, None, offset)
