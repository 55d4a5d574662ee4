"""What a project, model, alias or actor name may be: shared by the spec models and the code
that reads names without them (locating a project, a bundle's manifest, a recorded run, who is
acting)."""

from __future__ import annotations

import unicodedata

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_NAME_LENGTH = 128

ACTOR_MAX_LENGTH = 256


def actor_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an actor, or None when it can.

    Actors are compared exactly, so a name must show as what it is: not empty, no leading or
    trailing blanks, no control or invisible formatting characters (a zero-width space or a
    right-to-left override would make two different names print alike).
    """
    if not name:
        return "it is empty"
    if len(name) > ACTOR_MAX_LENGTH:
        return f"it is longer than {ACTOR_MAX_LENGTH} characters"
    if any(unicodedata.category(c) == "Cs" for c in name):
        return "it holds bytes that are not UTF-8"
    odd = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if odd:
        return f"it holds the invisible or control character U+{ord(odd[0]):04X}"
    if name != name.strip():
        return "it starts or ends with a blank"
    return None
