"""Edit a configuration file the way a person would: only the values asked for change.

`mvctl freeze` writes recorded recipes into version blocks and `mvctl trigger` writes new
versions and alias moves into the file that declares the model. Both edits land in reviewed
files, so a diff must show exactly what changed: comments, blank lines, block scalars, quoting,
key order and indentation stay as they were. ruamel.yaml's round trip keeps all of that but the
indentation, which it applies document-wide; the file's own is found by trying the common
styles until one reproduces the file byte for byte. A file no style reproduces is refused
rather than reformatted.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.errors import SpecError, UsageError

PathPart = str | int

INDENT_STYLES = (
    (2, 4, 2),
    (2, 2, 0),
    (4, 4, 2),
    (4, 6, 4),
    (4, 4, 0),
    (2, 3, 1),
    (4, 2, 0),
)
"""(mapping indent, sequence indent, dash offset) pairs seen in hand-written YAML, likeliest
first; mvctl's own examples use the first."""


@dataclass(frozen=True)
class SetValue:
    """Set the value at ``path`` (mapping keys and list indexes), creating missing mappings."""

    path: tuple[PathPart, ...]
    value: Any


@dataclass(frozen=True)
class Remove:
    """Remove the key or list item at ``path``; nothing happens when it is not there."""

    path: tuple[PathPart, ...]


Edit = SetValue | Remove


def quoted(text: str) -> Any:
    """A string written in double quotes: version labels, which YAML would otherwise read as
    numbers when they look like one (``1.10``)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(text)


def block_then_flow(value: Any, block_levels: int) -> Any:
    """``value`` written in block style for its first ``block_levels`` levels of mappings and
    lists, and in flow style below (``{seed: 7}``, ``[prepare]``): how mvctl's examples write
    a pipeline (``block_levels=2``: one step per item, each field on one line)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        node: Any = CommentedMap(
            (_text_as_written(key), block_then_flow(item, block_levels - 1))
            for key, item in value.items()
        )
    elif isinstance(value, list):
        node = CommentedSeq(block_then_flow(item, block_levels - 1) for item in value)
    else:
        return _text_as_written(value)
    if block_levels > 0:
        node.fa.set_block_style()
    else:
        node.fa.set_flow_style()
    return node


YAML11_BOOLEANS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off"})
"""Words YAML 1.1 (and so mvctl's reader) takes for booleans, which ruamel.yaml, writing
YAML 1.2, leaves unquoted."""


def _text_as_written(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in YAML11_BOOLEANS:
        return quoted(value)
    return value


def edit_text(text: str, edits: Sequence[Edit], *, file: str) -> str:
    """``text`` with ``edits`` applied, everything else kept as written; ``file`` names it in
    errors."""
    yaml, document = _round_trip(text, file)
    for edit in edits:
        if isinstance(edit, SetValue):
            _set(document, edit.path, edit.value, file)
        else:
            _remove(document, edit.path)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def unified_diff(before: str, after: str, file: str) -> str:
    """The change as `git diff` shows it, for the terminal and for review."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{file}",
            tofile=f"b/{file}",
        )
    )


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically (a reader sees the old file or the new one),
    keeping the file's permissions."""
    mode = path.stat().st_mode & 0o7777
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except OSError as error:
        raise UsageError(
            f"cannot write {path}: {error.strerror or error}",
            fix="Check that the file and its folder are writable.",
        ) from error


def _round_trip(text: str, file: str) -> tuple[Any, Any]:
    """The file's document and a dumper that writes it back byte for byte."""
    from ruamel.yaml import YAML

    document = None
    for mapping, sequence, offset in INDENT_STYLES:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 1 << 20
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        if document is None:
            document = yaml.load(text)
        out = io.StringIO()
        yaml.dump(document, out)
        if out.getvalue() == text:
            return yaml, document
    raise SpecError(
        "mvctl cannot edit this file without changing how it is written (its indentation "
        "mixes styles, or a construct does not survive a round trip)",
        obj=file,
        fix="Make the edit by hand, or indent the file consistently (2 spaces for mappings, "
        "list dashes indented by 2) and run the command again.",
    )


def _set(document: Any, path: tuple[PathPart, ...], value: Any, file: str) -> None:
    node = document
    for depth, part in enumerate(path[:-1]):
        child = _child(node, part)
        if child is None:
            if not isinstance(node, dict) or not isinstance(part, str):
                raise _no_place(path[: depth + 1], file)
            from ruamel.yaml.comments import CommentedMap

            child = node[part] = CommentedMap()
        node = child
    last = path[-1]
    if not ((isinstance(node, dict) and isinstance(last, str)) or _indexes(node, last)):
        raise _no_place(path, file)
    node[last] = value


def _remove(document: Any, path: tuple[PathPart, ...]) -> None:
    node = document
    for part in path[:-1]:
        node = _child(node, part)
        if node is None:
            return
    last = path[-1]
    if (isinstance(node, dict) and last in node) or _indexes(node, last):
        del node[last]


def _child(node: Any, part: PathPart) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    return node[part] if _indexes(node, part) else None


def _indexes(node: Any, part: PathPart) -> bool:
    """``part`` is an index of the list ``node``."""
    return isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node)


def _no_place(path: tuple[PathPart, ...], file: str) -> SpecError:
    where = ".".join(str(part) for part in path)
    return SpecError(
        f"'{where}' is not a mapping mvctl can write into",
        obj=file,
        fix="Check that the configuration has the shape `mvctl validate` accepts.",
    )
