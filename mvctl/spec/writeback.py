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


@dataclass(frozen=True)
class CopyValue:
    """Set ``path`` to a copy of the value at ``source`` as written (comments, quoting and
    flow style included), with ``changes`` (paths relative to the copy) made to the copy.

    A key added after the last entry of a block mapping takes over the lines that followed
    that entry (blank lines, a comment before the next key), so they stay where they were,
    after the mapping, instead of between its old last entry and the new one.
    """

    source: tuple[PathPart, ...]
    path: tuple[PathPart, ...]
    changes: tuple[SetValue, ...] = ()


Edit = SetValue | Remove | CopyValue


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
        elif isinstance(edit, CopyValue):
            _copy(document, edit, file)
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
    keeping the file's permissions. A symlinked config is written where it leads, so the
    link stays a link and the file it names gets the edit."""
    path = path.resolve()
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
        yaml.representer.add_representer(float, _represent_float)
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


def _represent_float(representer: Any, value: float) -> Any:
    """A number mvctl's loader (YAML 1.1) reads back as this float: ``1e-06`` would be read
    as text there, so the mantissa gets its point (``1.0e-06``)."""
    if value != value:
        text = ".nan"
    elif value in (float("inf"), float("-inf")):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def _as_written(value: Any) -> Any:
    """``value`` ready to write so that mvctl's loader (YAML 1.1) reads it back the same:
    ruamel writes YAML 1.2, where ``yes``, ``on`` or ``1_000`` are text unquoted; YAML 1.1
    reads them as a boolean or a number, so such text is quoted. Values already in the file
    keep their own style."""
    from ruamel.yaml.scalarstring import ScalarString
    from yaml.nodes import ScalarNode  # type: ignore[import-untyped,unused-ignore]
    from yaml.resolver import Resolver  # type: ignore[import-untyped,unused-ignore]

    if isinstance(value, dict) and not hasattr(value, "ca"):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list) and not hasattr(value, "ca"):
        return [_as_written(item) for item in value]
    if type(value) is str and not isinstance(value, ScalarString):
        tag = Resolver().resolve(ScalarNode, value, (True, False))
        if tag != "tag:yaml.org,2002:str":
            return quoted(value)
    return value


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
    node[last] = _as_written(value)


def _copy(document: Any, edit: CopyValue, file: str) -> None:
    import copy

    source = document
    for part in edit.source:
        source = _child(source, part)
        if source is None:
            raise _no_place(edit.source, file)
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = copy.deepcopy(source)
    if isinstance(value, CommentedMap | CommentedSeq):
        # The comment on the source's own line describes the source, not the copy.
        value.ca.comment = None
        if not value and value.fa.flow_style() is None:
            value.fa.set_flow_style()  # written as {} or []: the copy stays on one line
    for change in edit.changes:
        _set(value, change.path, change.value, file)
    parent = _child_or_none(document, edit.path[:-1])
    key = edit.path[-1]
    appended = isinstance(parent, dict) and key not in parent and _is_block(parent)
    following = _take_following(parent) if appended else ""
    _set(document, edit.path, value, file)
    if appended:
        _take_following(parent)  # what the copy brought from where its source stood
        _give_following(parent, following)


def _child_or_none(document: Any, path: tuple[PathPart, ...]) -> Any:
    node = document
    for part in path:
        node = _child(node, part)
        if node is None:
            return None
    return node


def _is_block(node: Any) -> bool:
    """A mapping or list written one entry per line (not ``{...}`` or ``[...]``)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    return isinstance(node, CommentedMap | CommentedSeq) and not node.fa.flow_style()


def _last_slot(node: Any) -> tuple[Any, PathPart] | None:
    """Where the lines after a block collection's last line are kept: ruamel stores them with
    the comment of its deepest last entry (container and key)."""
    while _is_block(node) and len(node):
        key = list(node)[-1] if isinstance(node, dict) else len(node) - 1
        value = node[key]
        if not (_is_block(value) and len(value)):
            return node, key
        node = value
    return None


def _comment_index(container: Any) -> int:
    return 2 if isinstance(container, dict) else 0


def _take_following(node: Any) -> str:
    """Remove and return the lines after ``node``'s last line (blank lines, comments); the
    end-of-line comment of that line stays."""
    slot = _last_slot(node)
    if slot is None:
        return ""
    container, key = slot
    comments = container.ca.items.get(key)
    index = _comment_index(container)
    token = comments[index] if comments else None
    if token is None:
        return ""
    own_line, following = _split_comment(token.value, _ends_its_line(container[key]))
    if own_line:
        token.value = own_line
    else:
        comments[index] = None
    return following


def _give_following(node: Any, following: str) -> None:
    """Put ``following`` (from ``_take_following``) after ``node``'s last line."""
    slot = _last_slot(node)
    if slot is None or not following:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    container, key = slot
    index = _comment_index(container)
    comments = container.ca.items.setdefault(key, [None, None, None, None])
    token = comments[index]
    if token is not None:
        token.value += following
        return
    line_end = "" if _ends_its_line(container[key]) else "\n"
    comments[index] = CommentToken(line_end + following, CommentMark(0), None)


def _ends_its_line(value: Any) -> bool:
    """A block scalar (``|``, ``>``) ends with its own line break, so the comment after it
    starts on the next line; any other value's comment starts with the end of its line."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, LiteralScalarString | FoldedScalarString)


def _split_comment(text: str, line_ended: bool) -> tuple[str, str]:
    """A stored comment as (the end of its own line, the lines after it)."""
    if line_ended:
        return "", text
    end = text.find("\n")
    if end < 0:
        return text, ""
    return text[: end + 1], text[end + 1 :]


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
