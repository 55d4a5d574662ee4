"""Deciding gates: the conditions a version must meet before an alias may point at it.

A gate is parsed from the config by ``mvctl.spec.gates``. ``check_gate`` decides one gate on
known numbers: pass, fail, or inconclusive when a number is missing, not a number, NaN or
infinite. A gate against ``baseline(ALIAS)`` where the alias points at no version yet is
decided by the model's ``when_no_baseline``. Comparisons are made on the numbers as written
(decimal), so a metric exactly at its threshold passes ``>=`` however the sum
``baseline - 0.01`` rounds in binary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mvctl.spec.gates import Gate

if TYPE_CHECKING:
    from decimal import Decimal

GateResult = Literal["pass", "fail", "inconclusive"]

_OPERATORS: dict[str, Any] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class GateOutcome:
    result: GateResult
    value: float | None
    """The candidate's metric, when it is a finite number."""
    bound: float | None
    """What it was compared with (the threshold, or the baseline's value plus the offset)."""
    reason: str
    """One line saying why: the numbers, and by how much a failing gate missed."""


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
