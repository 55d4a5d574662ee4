"""YAML bytes -> plain Python values plus an entry (file:line:column) for every node.

The first step of loading a configuration (``mvctl.spec.loader`` drives it): the values
feed the pydantic models, the entries become ``Positions``.

We do not use ``yaml.compose``: its C composer recurses once per nesting level and crashes
the interpreter (a segfault, not an exception) near 30,000 levels of ``[``, and it resolves
every scalar through Python anyway. Instead we pull events from libyaml's parser and build
values with an explicit stack, which never recurses and is several times faster than composing
and walking a node tree (0.5 s against 2 s for 10,000 versions).
The loop in ``read`` is written for speed (10,000 versions load in well under a second):
plain strings take an inlined path, everything else the careful methods below it.

YAML's traps are closed here, while the text as written is still at hand:

- duplicate keys are errors, not "last one wins";
- keys YAML 1.1 reads as booleans (``on``, ``yes``, ``n`` ...) are errors;
- version labels (keys of ``versions``, alias values, ``retrain.from``) that YAML reads as
  numbers, booleans or null are errors quoting the raw text, never silently renumbered;
- only the standard tags are accepted; deep nesting and alias bombs are refused.

Other keys are always strings, exactly as written (``2024:`` is the key ``"2024"``), and
timestamps stay the text written, as YAML 1.2 and JSON Schema-aware editors read them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

# Without types-PyYAML, mypy sees yaml as untyped; with it, these ignores are unused.
import yaml  # type: ignore[import-untyped,unused-ignore]
from yaml.constructor import SafeConstructor  # type: ignore[import-untyped,unused-ignore]
from yaml.events import (  # type: ignore[import-untyped,unused-ignore]
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import ScalarNode  # type: ignore[import-untyped,unused-ignore]
from yaml.resolver import Resolver  # type: ignore[import-untyped,unused-ignore]

from mvctl.errors import Place, SpecError
from mvctl.spec.positions import CHILDREN, KEY_LINE, Entry, NodePath, dotted

MAX_DEPTH = 100
"""Deeper nesting is refused: no real configuration needs it, and later code recurses."""

MAX_ALIAS_EXPANSION = 10_000_000
"""Characters of YAML text that aliases may repeat in total, counting aliases within
aliases: a guard against "billion laughs" documents that expand exponentially."""

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _MERGE_TAG, _MAP, _SEQ = (_TAG + t for t in ("timestamp", "merge", "map", "seq"))
_SCALAR_TAGS = {_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP}
# Resolved tags are mapped to these very objects so the hot loop compares with ``is``.
_CANONICAL = {tag: tag for tag in (*_SCALAR_TAGS, _MERGE_TAG)}
# YAML 1.1 reads these as booleans too; PyYAML does not, other YAML 1.1 tools do.
_BOOL_WORDS = frozenset({"y", "Y", "n", "N"})
_BOOL_VALUES: dict[str, bool] = SafeConstructor.bool_values


class YamlDocument(NamedTuple):
    """One file read: its value (None when unreadable), its entries and its problems."""

    value: Any
    entry: Entry | None
    errors: list[SpecError]
    reported: set[NodePath]
    """Paths already reported here; schema errors under them would only repeat the news."""


def read_yaml(data: bytes, file_name: str, file_index: int) -> YamlDocument:
    """Read one file's bytes. Never raises: every problem comes back as a SpecError.

    ``file_name`` is what errors show; ``file_index`` is stored in every entry so that
    positions from several files can share one tree.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start)
        error = SpecError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            place=Place(file_name, line, column),
            fix="Save the file as UTF-8.",
        )
        return YamlDocument(None, None, [error], set())
    return _Reader(text, file_name, file_index).read()


class _Abort(Exception):
    """Stop reading this file; the reason is already in the errors."""


class _Sentinel:
    """A mapping key that is not a real key: a dropped entry, or a ``<<`` merge."""


_SKIP = _Sentinel()
_MERGE = _Sentinel()
_SLOW = _Sentinel()


class _Frame:
    """A mapping or list being built."""

    __slots__ = (
        "anchor",
        "children",
        "column",
        "in_key",
        "is_map",
        "key",
        "key_column",
        "key_line",
        "label_keys",
        "label_values",
        "line",
        "merges",
        "path",
        "start_expanded",
        "start_index",
        "value",
        "want_key",
    )

    def __init__(
        self, is_map: bool, path: NodePath, line: int, column: int, anchor: str | None, in_key: bool
    ) -> None:
        self.is_map = is_map
        self.value: Any = {} if is_map else []
        self.children: Any = {} if is_map else []
        self.path = path
        self.line = line
        self.column = column
        self.anchor = anchor
        self.in_key = in_key
        self.want_key = is_map
        self.key: Any = None
        self.key_line = 0
        self.key_column = 0
        self.merges: list[tuple[Any, Any, int, int]] = []
        self.start_index = 0
        self.start_expanded = 0
        self.label_keys = False
        self.label_values = False
        depth = len(path)
        if depth == 3 and is_map and path[0] == "models":
            # Where version labels live: models.<m>.versions keys, models.<m>.aliases values.
            self.label_keys = path[2] == "versions"
            self.label_values = path[2] == "aliases"


class _Reader:
    """Builds one document's values and entries from the parser's events."""

    def __init__(self, text: str, file_name: str, file_index: int) -> None:
        self.text = text
        self.file_name = file_name
        self.file_index = file_index
        self.errors: list[SpecError] = []
        self.reported: set[NodePath] = set()
        self.frames: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, Any, str | None, int]] = {}
        self.open_anchors: set[str] = set()
        self.expanded = 0
        self.root: tuple[Any, Entry] | None = None
        self.documents = 0
        self.tag_cache: dict[str, str] = {}
        self.resolver: Any = Resolver()
        self.constructor: Any = SafeConstructor()

    def read(self) -> YamlDocument:
        parser: Any = yaml.CSafeLoader(self.text)
        get_event: Callable[[], Any] = parser.get_event
        frames = self.frames
        file_index = self.file_index
        tag_cache = self.tag_cache
        resolve = self.resolve
        try:
            while (event := get_event()) is not None:
                kind = type(event)
                if kind is ScalarEvent:
                    if not frames or event.anchor is not None or event.tag is not None:
                        self.scalar(event)
                        continue
                    text = event.value
                    tag = (tag_cache.get(text) or resolve(text)) if event.implicit[0] else _STR
                    parent = frames[-1]
                    mark = event.start_mark
                    line = mark.line + 1
                    column = mark.column + 1
                    if parent.want_key:
                        if tag is _STR and text not in parent.children and text not in _BOOL_WORDS:
                            parent.key = text
                            parent.key_line = line
                            parent.key_column = column
                            parent.want_key = False
                        else:
                            self.key(parent, event, tag, line, column)
                        continue
                    raw: str | None = None
                    value: Any = text
                    if tag is not _STR:
                        value = _SLOW if parent.label_values else _fast_value(text, tag)
                        if value is _SLOW:
                            self.scalar(event)
                            continue
                        raw = text
                    if not parent.is_map:
                        parent.value.append(value)
                        parent.children.append((file_index, line, column, line, column, None, raw))
                    elif type(parent.key) is str:
                        key = parent.key
                        parent.value[key] = value
                        parent.children[key] = (
                            file_index,
                            parent.key_line,
                            parent.key_column,
                            line,
                            column,
                            None,
                            raw,
                        )
                        parent.want_key = True
                    else:
                        self.deliver(value, line, column, None, raw, False)
                elif kind is MappingStartEvent or kind is SequenceStartEvent:
                    if (
                        not frames
                        or event.anchor is not None
                        or event.tag is not None
                        or len(frames) >= MAX_DEPTH
                    ):
                        self.start(event, kind is MappingStartEvent)
                        continue
                    parent = frames[-1]
                    if parent.is_map:
                        if parent.want_key or type(parent.key) is not str:
                            self.start(event, kind is MappingStartEvent)
                            continue
                        path = (*parent.path, parent.key)
                    else:
                        path = (*parent.path, len(parent.value))
                    mark = event.start_mark
                    frames.append(
                        _Frame(
                            kind is MappingStartEvent,
                            path,
                            mark.line + 1,
                            mark.column + 1,
                            None,
                            False,
                        )
                    )
                elif kind is MappingEndEvent or kind is SequenceEndEvent:
                    frame = frames.pop()
                    if frame.merges or frame.anchor is not None or frame.in_key or not frames:
                        self.end(frame, event)
                        continue
                    parent = frames[-1]
                    if not parent.is_map:
                        parent.value.append(frame.value)
                        parent.children.append(
                            (
                                file_index,
                                frame.line,
                                frame.column,
                                frame.line,
                                frame.column,
                                frame.children,
                                None,
                            )
                        )
                    elif type(parent.key) is str:
                        key = parent.key
                        parent.value[key] = frame.value
                        parent.children[key] = (
                            file_index,
                            parent.key_line,
                            parent.key_column,
                            frame.line,
                            frame.column,
                            frame.children,
                            None,
                        )
                        parent.want_key = True
                    else:
                        self.end(frame, event)
                elif kind is AliasEvent:
                    self.alias(event)
                elif kind is DocumentStartEvent:
                    self.document(event)
        except yaml.YAMLError as exc:
            self.syntax_error(exc)
        except _Abort:
            pass
        finally:
            parser.dispose()
        if self.root is None:
            return YamlDocument(None, None, self.errors, self.reported)
        return YamlDocument(self.root[0], self.root[1], self.errors, self.reported)

    # The careful paths --------------------------------------------------------------------

    def document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            mark = event.start_mark
            self.error(
                mark.line + 1,
                mark.column + 1,
                (),
                "a second YAML document starts here; a configuration file holds one",
                "Remove the '---' and merge the documents, or move the second into an included file.",
            )
            self.root = None
            raise _Abort

    def start(self, event: Any, is_map: bool) -> None:
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        frames = self.frames
        parent = frames[-1] if frames else None
        path = self.child_path(parent)
        if len(frames) >= MAX_DEPTH:
            self.error(
                line,
                column,
                path,
                f"nesting is deeper than {MAX_DEPTH} levels",
                "Flatten the structure; no setting needs this depth.",
            )
            self.root = None
            raise _Abort
        tag = event.tag
        if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
            self.bad_tag(line, column, path, tag)
        in_key = parent is not None and parent.want_key
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        frame = _Frame(is_map, path, line, column, event.anchor, in_key)
        frame.start_index = mark.index
        frame.start_expanded = self.expanded
        frames.append(frame)

    def end(self, frame: _Frame, event: Any) -> None:
        value, children = frame.value, frame.children
        if frame.merges:
            value, children = self.merge(frame)
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            size = event.end_mark.index - frame.start_index + self.expanded - frame.start_expanded
            self.anchors[frame.anchor] = (value, children, None, size)
        self.deliver(value, frame.line, frame.column, children, None, frame.in_key)

    def scalar(self, event: Any) -> None:
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        frames = self.frames
        parent = frames[-1] if frames else None
        tag = self.tag_of(event)
        if parent is not None and parent.want_key:
            self.key(parent, event, tag, line, column)
            return
        path = self.child_path(parent)
        value, raw = self.construct(event, tag, line, column, path)
        if (
            raw is not None
            and parent is not None
            and parent.label_values
            and (parent.path[-1] != "retrain" or parent.key == "from")
        ):
            self.label_error(line, column, path, raw, value)
            value, raw = raw, None
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, None, raw, len(event.value) + 1)
        self.deliver(value, line, column, None, raw, False)

    def alias(self, event: Any) -> None:
        mark = event.start_mark
        line, column = mark.line + 1, mark.column + 1
        frames = self.frames
        parent = frames[-1] if frames else None
        in_key = parent is not None and parent.want_key
        name = event.anchor
        found = self.anchors.get(name)
        if found is None:
            path = self.child_path(parent)
            if name in self.open_anchors:
                self.error(
                    line,
                    column,
                    path,
                    f"alias *{name} refers to the node that contains it",
                    "A node cannot include itself; copy the values you need.",
                )
            else:
                self.error(
                    line,
                    column,
                    path,
                    f"alias *{name} names no anchor defined above it",
                    f"Define '&{name}' before using '*{name}'.",
                )
            self.reported.add(path)
            found = (None, None, None, 1)
        value, children, raw, size = found
        self.expanded += size
        if self.expanded > MAX_ALIAS_EXPANSION:
            self.error(
                line,
                column,
                self.child_path(parent),
                f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} characters",
                "Use fewer nested aliases.",
            )
            self.root = None
            raise _Abort
        if in_key and parent is not None and isinstance(value, str) and raw is None:
            parent.key, parent.key_line, parent.key_column = value, line, column
            parent.want_key = False
            self.check_duplicate(parent, value, line, column)
            return
        self.deliver(value, line, column, children, raw, in_key)

    def child_path(self, parent: _Frame | None) -> NodePath:
        if parent is None:
            return ()
        if parent.is_map:
            key = parent.key
            if parent.want_key or type(key) is not str:
                return parent.path
            return (*parent.path, key)
        return (*parent.path, len(parent.value))

    def deliver(
        self, value: Any, line: int, column: int, children: Any, raw: str | None, in_key: bool
    ) -> None:
        """Hand a finished node to the mapping or list that holds it (or make it the root)."""
        frames = self.frames
        if not frames:
            self.root = (value, (self.file_index, line, column, line, column, children, raw))
            return
        parent = frames[-1]
        if not parent.is_map:
            parent.value.append(value)
            parent.children.append((self.file_index, line, column, line, column, children, raw))
            return
        if in_key:
            # A mapping or list used as a key: it was read to stay in step; drop the entry.
            self.error(
                line,
                column,
                parent.path,
                "a key must be plain text, not a mapping or a list",
                "Write the key as text.",
            )
            parent.key, parent.want_key = _SKIP, False
            return
        key = parent.key
        parent.want_key = True
        if key is _SKIP:
            return
        if key is _MERGE:
            parent.merges.append((value, children, line, column))
            return
        parent.value[key] = value
        parent.children[key] = (
            self.file_index,
            parent.key_line,
            parent.key_column,
            line,
            column,
            children,
            raw,
        )

    def key(self, parent: _Frame, event: Any, tag: str, line: int, column: int) -> None:
        """Take a scalar as the next key of ``parent``: always a string, as written."""
        text: str = event.value
        parent.want_key = False
        parent.key_line, parent.key_column = line, column
        if tag is _MERGE_TAG and event.tag is None:
            parent.key = _MERGE
            return
        path = (*parent.path, text)
        plain_untagged = event.tag is None and event.implicit[0]
        if tag == _BOOL or (plain_untagged and text in _BOOL_WORDS):
            self.error(
                line,
                column,
                path,
                f"key '{text}' is read by YAML as a boolean",
                f'Quote it ("{text}") or use the intended field name.',
            )
            self.reported.add(path)
        elif tag == _NULL:
            shown = f"key '{text}'" if text else "an empty key"
            self.error(
                line,
                column,
                path,
                f"{shown} is read by YAML as null",
                "Write the key as quoted text.",
            )
            self.reported.add(path)
        elif tag in (_INT, _FLOAT) and parent.label_keys:
            value, raw = self.construct(event, tag, line, column, path)
            if raw is not None:
                self.label_error(line, column, path, text, value)
        elif tag not in _SCALAR_TAGS:
            self.bad_tag(line, column, path, event.tag or tag)
        parent.key = text
        self.check_duplicate(parent, text, line, column)
        if event.anchor is not None:
            self.anchors[event.anchor] = (text, None, None, len(text) + 1)

    def check_duplicate(self, parent: _Frame, key: str, line: int, column: int) -> None:
        first = parent.children.get(key)
        if first is None:
            return
        path = (*parent.path, key)
        self.error(
            line,
            column,
            path,
            f"'{key}' appears twice (lines {first[KEY_LINE]} and {line}); keep one",
        )
        self.reported.add(path)
        parent.key = _SKIP

    def merge(self, frame: _Frame) -> tuple[dict[Any, Any], dict[Any, Entry]]:
        """Apply ``<<`` merge keys: explicit keys win, then earlier merged mappings."""
        value: dict[Any, Any] = {}
        children: dict[Any, Entry] = {}
        for merged, merged_children, line, column in frame.merges:
            sources: list[tuple[dict[Any, Any], dict[Any, Entry]]]
            if isinstance(merged, dict):
                sources = [(merged, merged_children)]
            elif isinstance(merged, list) and all(isinstance(item, dict) for item in merged):
                sources = [
                    (item, entry[CHILDREN])
                    for item, entry in zip(merged, merged_children, strict=True)
                ]
            else:
                self.error(
                    line,
                    column,
                    frame.path,
                    "'<<' merges a mapping or a list of mappings",
                    "Point '<<' at an anchored mapping, e.g. '<<: *defaults'.",
                )
                continue
            for source, source_children in sources:
                for key, item in source.items():
                    if key not in value:
                        value[key] = item
                        children[key] = source_children[key]
        value.update(frame.value)
        children.update(frame.children)
        return value, children

    def construct(
        self, event: Any, tag: str, line: int, column: int, path: NodePath
    ) -> tuple[Any, str | None]:
        """A scalar's value, and its raw text when YAML reads it as other than a string."""
        text: str = event.value
        if tag in (_STR, _TIMESTAMP):
            return text, None
        if tag == _NULL:
            return None, text
        if tag == _BOOL:
            if text.lower() in _BOOL_VALUES:
                return _BOOL_VALUES[text.lower()], text
        elif tag in (_INT, _FLOAT):
            node = ScalarNode(tag, text)
            try:
                if tag == _INT:
                    limit = _max_int_digits()
                    number = (
                        int(self.constructor.construct_yaml_int(node))
                        if len(text) <= limit
                        else None
                    )
                    if number is None or abs(number) >= 10**limit:
                        self.error(
                            line,
                            column,
                            path,
                            f"an integer of more than {limit} decimal digits cannot be hashed "
                            "or written as JSON",
                            "Quote it to hand it over as text.",
                        )
                        self.reported.add(path)
                        return text[:32] + "...", None
                    return number, text
                return self.constructor.construct_yaml_float(node), text
            except (ValueError, IndexError):
                pass
        else:
            self.bad_tag(line, column, path, event.tag or tag)
            return text, None
        shown = "!!" + tag[len(_TAG) :]
        self.error(
            line,
            column,
            path,
            f"'{text}' cannot be read as {shown}",
            "Remove the tag or fix the value.",
        )
        self.reported.add(path)
        return text, None

    def tag_of(self, event: Any) -> str:
        tag: str | None = event.tag
        if tag is not None:
            return _STR if tag == "!" else tag
        if not event.implicit[0]:
            return _STR
        text: str = event.value
        return self.tag_cache.get(text) or self.resolve(text)

    def resolve(self, text: str) -> str:
        """The implicit tag of plain text (cached: configurations repeat their values).

        Timestamps and tags other than the standard scalar ones (``=`` reads as !!value)
        are text here.
        """
        found = _CANONICAL.get(self.resolver.resolve(ScalarNode, text, (True, False)), _STR)
        if found is _TIMESTAMP:
            found = _STR
        self.tag_cache[text] = found
        return found

    # Problems -----------------------------------------------------------------------------

    def error(
        self, line: int, column: int, path: NodePath, what: str, fix: str | None = None
    ) -> None:
        self.errors.append(
            SpecError(
                what, place=Place(self.file_name, line, column), field=dotted(path) or None, fix=fix
            )
        )

    def bad_tag(self, line: int, column: int, path: NodePath, tag: str) -> None:
        shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
        self.error(
            line,
            column,
            path,
            f"tag '{shown}' is not supported",
            "Remove it; mvctl reads plain YAML: text, numbers, booleans, lists, mappings.",
        )
        self.reported.add(path)

    def label_error(self, line: int, column: int, path: NodePath, raw: str, value: Any) -> None:
        if isinstance(value, bool):
            read = f"the boolean {'true' if value else 'false'}"
        elif value is None:
            read = "null (no value)"
        else:
            read = f"the number {value}"
        shown = raw or "(empty)"
        self.error(
            line,
            column,
            path,
            f'version label {shown} is read by YAML as {read}; quote it: "{raw}"',
        )
        self.reported.add(path)

    def syntax_error(self, exc: yaml.YAMLError) -> None:
        self.root = None
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            mark = exc.problem_mark
            problem = exc.problem or "invalid YAML"
            if exc.context and exc.context_mark is not None:
                problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
            lines = self.text.splitlines()
            line_text = lines[mark.line] if 0 <= mark.line < len(lines) else ""
            if line_text[mark.column : mark.column + 1] == "\t" or "'\\t'" in problem:
                fix = "Indent with spaces, not tabs: YAML does not allow tabs for indentation."
            else:
                fix = "Check the indentation, quotes and brackets around here."
            self.error(mark.line + 1, mark.column + 1, (), f"YAML syntax error: {problem}", fix)
        elif isinstance(exc, yaml.reader.ReaderError):
            line, column = _line_column(self.text.encode("utf-8", "replace"), exc.position)
            self.error(
                line,
                column,
                (),
                f"YAML cannot read this file: {exc.reason} (character {exc.character!r})",
                "Remove the character or write it as an escape inside double quotes.",
            )
        else:
            self.error(1, 1, (), f"YAML cannot read this file: {exc}")


def _max_int_digits() -> int:
    """Python turns integers of more digits into text only by raising (hashes, JSON)."""
    return sys.get_int_max_str_digits() or _INT_DIGITS_DEFAULT


_INT_DIGITS_DEFAULT = 4300


def _fast_value(text: str, tag: str) -> Any:
    """Common numbers and booleans without PyYAML's constructor; ``_SLOW`` for the rest."""
    if tag is _INT:
        # A leading 0 means octal in YAML 1.1, and '_' or ':' need PyYAML's rules.
        if text.isdigit() and (text[0] != "0" or text == "0") and len(text) < 20:
            return int(text)
        return _SLOW
    if tag is _FLOAT:
        if "_" in text or ":" in text or text[-1:].isalpha():
            return _SLOW
        try:
            return float(text)
        except ValueError:
            return _SLOW
    if tag is _BOOL:
        return _BOOL_VALUES.get(text.lower(), _SLOW)
    if tag is _NULL:
        return None
    if tag is _TIMESTAMP:
        return text
    return _SLOW


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    offset = max(0, min(offset, len(data)))
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return line, column
