"""Saved plans: `plan --out` writes one, `apply PLANFILE` holds apply to it.

A saved plan is a promise, never a set of instructions. Apply recomputes the plan from the
config, the recorded state and the files' digests, with the options the file records, and goes
on only when the recomputed plan equals the saved one in every field; what it then runs is the
recomputed plan. A hand-edited file (gates removed, an artifact swapped, an alias or a removal
added, a move repeated, actions reordered) cannot make apply do anything the config does not
ask for: it is refused, naming the first difference.

For CI that hands a plan from one job to another, `MVCTL_PLAN_KEY` adds a signature: with the
key set, `plan --out` signs the plan (HMAC-SHA256 over its canonical body) and `apply PLANFILE`
refuses a file that is unsigned or signed with another key.
"""

from __future__ import annotations

import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.core.hashing import canonical_json, sha256_hex
from mvctl.core.plan import BODY_KEYS, PLAN_FORMAT, Plan, PlanOptions, body_signature
from mvctl.errors import PlanMismatchError, UsageError

PLAN_KEY_ENV = "MVCTL_PLAN_KEY"
FILE_KEYS = frozenset({*BODY_KEYS, "hash", "summary", "signature"})
REPLAN = "Nothing was applied. Run `mvctl plan --out FILE` again, review it, and apply that file."


@dataclass(frozen=True)
class SavedPlan:
    """A plan file that passed its own checks; only ever compared, never executed."""

    path: Path
    body: dict[str, Any]
    """The file's ``BODY_KEYS``: what its hash (and signature) cover."""
    project: str
    serial: int
    options: PlanOptions


def plan_key() -> bytes | None:
    """The signing key from ``MVCTL_PLAN_KEY``; None when it is not set."""
    value = os.environ.get(PLAN_KEY_ENV)
    if value is None:
        return None
    if not value:
        raise UsageError(
            f"{PLAN_KEY_ENV} is set but empty",
            fix="Set it to the plan signing key (the same in the job that plans and the job "
            "that applies), or unset it.",
        )
    return value.encode("utf-8")


def plan_file_text(plan: Plan) -> tuple[str, bool]:
    """The file `plan --out` writes for `mvctl apply FILE`, signed when ``MVCTL_PLAN_KEY`` is
    set, and whether it was signed."""
    document = plan.to_dict()
    key = plan_key()
    if key is not None:
        document["signature"] = plan.signature(key)
    return json.dumps(document, indent=2, sort_keys=True) + "\n", key is not None


def load_saved_plan(path: Path) -> SavedPlan:
    """Read a plan file and check its shape, its signature (with ``MVCTL_PLAN_KEY`` set) and
    its own hash; what it promises is checked later against the recomputed plan."""
    try:
        # Only a regular file: a device (/dev/zero) or a pipe may never end.
        regular = stat.S_ISREG(path.stat().st_mode)
        data = json.loads(path.read_text("utf-8")) if regular else None
    except OSError as error:
        raise UsageError(f"cannot read plan file {path}: {error.strerror or error}") from error
    except (ValueError, RecursionError) as error:
        raise _invalid(path, f"it is not JSON ({error})") from error
    if not regular:
        raise _invalid(path, "it is not a regular file")
    if not isinstance(data, dict):
        raise _invalid(path, "it is not a JSON object")
    if data.get("format_version") != PLAN_FORMAT:
        version = data.get("format_version", data.get("format"))
        raise _invalid(
            path, f"its format_version is {_quote(version)}, not {PLAN_FORMAT} (this mvctl's)"
        )
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise _invalid(path, f"it has fields a plan does not have: {', '.join(unknown)}")
    missing = [name for name in (*BODY_KEYS, "hash") if name not in data]
    if missing:
        raise _invalid(path, f"it lacks {', '.join(missing)}")
    project, serial = data["project"], data["serial"]
    if not isinstance(project, str) or type(serial) is not int or serial < 0:
        raise _invalid(path, "its project is not a string or its serial not a whole number")
    try:
        options = PlanOptions.from_json(data["options"])
    except ValueError as error:
        raise _invalid(path, str(error)) from error
    body = {name: data[name] for name in BODY_KEYS}
    _check_signature(path, data.get("signature"), body)
    try:
        intact = sha256_hex(canonical_json(body)) == data["hash"]
    except ValueError as error:  # NaN or infinity: never in a plan mvctl wrote
        raise _invalid(path, str(error)) from error
    if not intact:
        raise _invalid(path, "the plan's content does not match its hash (was it edited?)")
    return SavedPlan(path, body, project, serial, options)


def _check_signature(path: Path, signature: Any, body: dict[str, Any]) -> None:
    key = plan_key()
    if key is None:
        return
    if not isinstance(signature, str):
        raise PlanMismatchError(
            f"{path} is not signed, and {PLAN_KEY_ENV} is set, so only signed plans are applied",
            fix=f"Make the plan with `mvctl plan --out FILE` where {PLAN_KEY_ENV} holds the "
            "same key as here.",
        )
    if not hmac.compare_digest(signature.encode("utf-8"), body_signature(body, key).encode()):
        raise PlanMismatchError(
            f"the signature of {path} does not match its content under {PLAN_KEY_ENV}: it was "
            "edited, or signed with another key",
            fix=f"Make the plan again with `mvctl plan --out FILE` under the same {PLAN_KEY_ENV} "
            "as this job, and pass the file unchanged.",
        )


def check_promise(saved: SavedPlan, plan: Plan) -> None:
    """Refuse unless ``plan`` (recomputed now) equals ``saved`` in every field, naming the
    first action, conflict or drift that differs."""
    now = plan.to_dict()
    for name, what in (("actions", "action"), ("conflicts", "conflict"), ("drift", "drift")):
        difference = _first_difference(saved.body[name], now[name], what)
        if difference is not None:
            raise _mismatch(saved.path, difference)
    for name in BODY_KEYS:
        if canonical_json(saved.body[name]) != canonical_json(now[name]):
            raise _mismatch(saved.path, f"its {name} differs")


def _first_difference(saved: Any, now: list[Any], what: str) -> str | None:
    if not isinstance(saved, list):
        return f"its {what} list is not a list"
    for index in range(max(len(saved), len(now))):
        theirs = saved[index] if index < len(saved) else None
        ours = now[index] if index < len(now) else None
        if theirs is not None and ours is not None and _same(theirs, ours):
            continue
        place = f"{what} {index + 1}"
        if theirs is None:
            return f"{place} ({_describe(ours)}) is missing from the file"
        if ours is None:
            return (
                f"{place} ({_describe(theirs)}) is in the file, but the config does not ask for it"
            )
        if _describe(theirs) == _describe(ours) and isinstance(theirs, dict):
            fields = sorted(
                key
                for key in set(theirs) | set(ours)
                if key not in theirs or key not in ours or not _same(theirs[key], ours[key])
            )
            return f"{place} ({_describe(ours)}) differs in {', '.join(map(_quote, fields))}"
        return (
            f"{place} is {_describe(theirs)} in the file, but {_describe(ours)} in the plan "
            "computed now"
        )
    return None


def _same(left: Any, right: Any) -> bool:
    try:
        return canonical_json(left) == canonical_json(right)
    except ValueError:
        return False


def _describe(item: Any) -> str:
    """An action, conflict or drift as `kind model@label` / `kind model:alias -> version`."""
    if not isinstance(item, dict):
        return _quote(item)
    words = [_quote(item.get("kind", "?"))]
    if "target" in item:
        words.append(_quote(item["target"]))
    elif "model" in item:
        name = _quote(item["model"])
        if "alias" in item:
            name += ":" + _quote(item["alias"])
        elif "label" in item:
            name += "@" + _quote(item["label"])
        words.append(name)
    if "to_version" in item:
        words.append("-> " + _quote(item["to_version"]))
    return " ".join(words)


def _quote(value: Any) -> str:
    """A value from the file, safe to print: control characters escaped, length bounded."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    escaped = json.dumps(text)[1:-1]
    return escaped if len(escaped) <= 80 else escaped[:77] + "..."


def _invalid(path: Path, why: str) -> UsageError:
    return UsageError(
        f"{path} is not a valid mvctl plan: {why}",
        fix="Save a plan with `mvctl plan --out FILE` and pass that file unchanged.",
    )


def _mismatch(path: Path, difference: str) -> PlanMismatchError:
    return PlanMismatchError(
        f"{path} is not the plan the config, the recorded state and the files give now: "
        f"{difference}",
        fix=REPLAN,
    )
