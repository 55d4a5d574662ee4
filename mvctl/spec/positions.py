"""Where every node of the loaded configuration sits: file, line and column.

The reader (``mvctl.spec.reader``) records an entry per YAML node; ``Positions`` answers
"where is the node at this path?" so every later error (schema, meaning, planner
conflicts) can name the line a user must edit, in the main file or an included one.
"""

from __future__ import annotations

import re
from typing import Any, Final

from mvctl.errors import Place

PathPart = str | int
NodePath = tuple[PathPart, ...]
"""A path into the configuration as written in YAML: keys (``with``, ``from``) and indexes."""

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Entry = tuple[int, int, int, int, int, Any, "str | None"]
"""Where one node sits, as a plain tuple (the hot loop makes one per node; tuples are cheapest):
file index, key line, key column, line, column, children, raw. For a mapping entry the key
fields are its key's place, for a list item its own. ``children`` is a dict or list of
entries for a mapping or list. ``raw`` is the text as written of a scalar YAML read as
something other than a string (a number, boolean or null), else None."""

FILE: Final = 0
KEY_LINE: Final = 1
KEY_COLUMN: Final = 2
LINE: Final = 3
COLUMN: Final = 4
CHILDREN: Final = 5
RAW: Final = 6


class Positions:
    """Answers "where is the node at this path?" for errors, in any loaded file.

    Paths use the keys as written in YAML (``with``, ``from``), and list indexes:
    ``("models", "churn", "pipeline", 0, "params")``. An unknown path answers with the
    nearest enclosing node, so an error always has a place.
    """

    __slots__ = ("_files", "_root")

    def __init__(self, files: tuple[str, ...], root: Entry) -> None:
        self._files = files
        self._root = root

    @property
    def files(self) -> tuple[str, ...]:
        """Display names of the files, main first; ``Place.file`` is one of them."""
        return self._files

    def find(self, path: NodePath) -> Entry:
        """The entry at ``path``, or the nearest enclosing one."""
        return self._lookup(path)[0]

    def _lookup(self, path: NodePath) -> tuple[Entry, bool]:
        entry = self._root
        for part in path:
            children = entry[CHILDREN]
            found: Entry | None = None
            if isinstance(children, dict):
                found = children.get(part)
            elif isinstance(children, list) and isinstance(part, int) and 0 <= part < len(children):
                found = children[part]
            if found is None:
                return entry, False
            entry = found
        return entry, True

    def place(self, path: NodePath) -> Place:
        """Where the entry at ``path`` starts: a mapping entry's key, or a list item."""
        entry = self.find(path)
        return Place(self._files[entry[FILE]], entry[KEY_LINE], entry[KEY_COLUMN])

    def value_place(self, path: NodePath) -> Place:
        """Where the value at ``path`` starts (same as ``place`` for list items)."""
        entry = self.find(path)
        return Place(self._files[entry[FILE]], entry[LINE], entry[COLUMN])

    def raw(self, path: NodePath) -> str | None:
        """The text as written of a scalar YAML did not read as a string, else None."""
        entry, exact = self._lookup(path)
        return entry[RAW] if exact else None

    def line(self, path: NodePath) -> int:
        """Line of ``place(path)``, for messages that name two places in one file."""
        return self.find(path)[KEY_LINE]


def dotted(path: NodePath) -> str:
    """A path as people write it: ``models.churn.versions["1.0.0"].params``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text
