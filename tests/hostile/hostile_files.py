"""Hypothesis strategies for hostile file contents: model files mutated from the real ones
the template trained (skops archives, safetensors files), data files (CSV, Parquet, NPZ) and
saved plans.

Mutations work at every level a reader parses: raw bytes (random, truncated, flipped), the
container (zip members dropped, renamed, added, bombed; the safetensors length prefix), and
the structure inside (skops' schema.json nodes, .npy headers, safetensors' JSON header, CSV
cells, a plan's JSON with its hash recomputed so that only the promise check stands between
the file and apply).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import struct
import zipfile
from typing import Any

from hypothesis import strategies as st

from tests.hostile.hostile_values import texts
from tests.hostile.standing import EVIL_MODULE

EVIL_MODULE_NAMES = [(EVIL_MODULE, "Model"), (EVIL_MODULE, "run")]
"""Names whose import would create the case's CANARY."""

DANGEROUS_TYPES = [
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("os", "system"),
    ("numpy", "load"),
    ("subprocess", "Popen"),
    ("importlib", "import_module"),
    ("functools", "partial"),
    ("operator", "attrgetter"),
    ("pickle", "loads"),
    ("sklearn.tree._tree", "Tree"),
    ("builtins", "object"),
    ("builtins", "type"),
    *EVIL_MODULE_NAMES,
]
LOADERS = [
    "ObjectNode",
    "FunctionNode",
    "MethodNode",
    "PartialNode",
    "OperatorFuncNode",
    "ReduceNode",
    "ConstructorFromReduceNode",
    "NdArrayNode",
    "DictNode",
    "ListNode",
    "TupleNode",
    "JsonNode",
    "TypeNode",
    "SparseMatrixNode",
    "RandomStateNode",
    "BunchNode",
    "NoSuchNode",
]
json_numbers = st.one_of(
    st.integers(), st.floats(), st.sampled_from([2**64, 10**400, -1, 0, True, None])
)
"""Numbers as JSON holds them, NaN and infinities included (Python writes them)."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=6,
)


def flip(data: bytes, positions: list[tuple[int, int]]) -> bytes:
    changed = bytearray(data)
    for where, value in positions:
        if changed:
            changed[where % len(changed)] = value
    return bytes(changed)


@st.composite
def byte_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "truncate", "flip", "append", "empty"]))
    if kind == "random":
        return draw(st.binary(max_size=4096))
    if kind == "truncate":
        return original[: draw(st.integers(0, max(0, len(original) - 1)))]
    if kind == "flip":
        return flip(
            original, draw(st.lists(st.tuples(st.integers(0), st.integers(0, 255)), max_size=8))
        )
    if kind == "append":
        return original + draw(st.binary(min_size=1, max_size=64))
    return b""


# -- skops -----------------------------------------------------------------------------------


def nodes(value: Any) -> list[dict[str, Any]]:
    """Every dict in a skops schema, the root included."""
    found, pending = [], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


@st.composite
def schema_mutations(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    for _ in range(draw(st.integers(1, 3))):
        node = draw(st.sampled_from(nodes(schema)))
        kind = draw(st.sampled_from(["type", "loader", "value", "delete", "add", "json"]))
        if kind == "type":
            node["__module__"], node["__class__"] = draw(
                st.sampled_from(DANGEROUS_TYPES) | st.tuples(texts, texts)
            )
        elif kind == "loader":
            node["__loader__"] = draw(st.sampled_from(LOADERS) | texts)
        elif kind == "value" and node:
            node[draw(st.sampled_from(sorted(node)))] = draw(json_values)
        elif kind == "delete" and node:
            del node[draw(st.sampled_from(sorted(node)))]
        elif kind == "add":
            node[draw(texts)] = draw(json_values)
        elif kind == "json":
            node.update({"is_json": True, "content": draw(texts), "__loader__": "JsonNode"})
    return schema


def npy_member(draw: st.DrawFn) -> bytes:
    """A .npy member: a real array of an odd type, or a header that lies."""
    import numpy as np

    kind = draw(st.sampled_from(["array", "header", "object"]))
    if kind == "array":
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        dtype = draw(st.sampled_from(["f8", "i8", "c16", "U3", "S2", "bool", "f2", "u1", "M8[s]"]))
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(shape, dtype=dtype))
        return buffer.getvalue()
    if kind == "object":
        return b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = draw(
        st.sampled_from(
            [
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
                "{'descr': '<f8', 'fortran_order': True, 'shape': (-1,), }",
                "{'descr': [('a', '<f8')] * 10000, 'fortran_order': False, 'shape': (1,), }",
                "__import__('os').system('touch CANARY')",
                "{'descr': '<f8'}",
            ]
        )
        | texts
    ).encode("utf-8", "surrogatepass")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(16)


def member_name(text: str) -> str:
    """A name zipfile can write (it cuts a name at NUL)."""
    return text.split("\x00")[0] or "x"


@st.composite
def skops_files(draw: st.DrawFn, original: bytes) -> bytes:
    """The real skops archive, mutated at one level: bytes, zip members or schema nodes."""
    level = draw(st.sampled_from(["bytes", "schema", "members", "schema", "members"]))
    if level == "bytes":
        return draw(byte_mutations(original))
    source = zipfile.ZipFile(io.BytesIO(original))
    members = {name: source.read(name) for name in source.namelist()}
    if level == "schema":
        schema = json.loads(members["schema.json"])
        members["schema.json"] = json.dumps(draw(schema_mutations(schema))).encode()
    else:
        kind = draw(st.sampled_from(["drop", "npy", "rename", "add", "bomb", "schema-bytes"]))
        arrays = sorted(name for name in members if name != "schema.json")
        if kind == "drop":
            members.pop(draw(st.sampled_from(sorted(members))))
        elif kind == "npy" and arrays:
            members[draw(st.sampled_from(arrays))] = npy_member(draw)
        elif kind == "rename" and arrays:
            members[member_name(draw(texts))] = members.pop(draw(st.sampled_from(arrays)))
        elif kind == "add":
            name = draw(st.sampled_from(["../../outside/zipslip", "/abs", "CANARY"]) | texts)
            members[member_name(name)] = draw(st.binary(max_size=64))
        elif kind == "bomb":
            members["schema.json"] = b"[" * draw(st.integers(1, 200_000))
        else:
            members["schema.json"] = draw(byte_mutations(members["schema.json"]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- safetensors -----------------------------------------------------------------------------


@st.composite
def safetensors_files(draw: st.DrawFn, original: bytes) -> bytes:
    """The real safetensors file with its header, its length prefix or its bytes changed."""
    (length,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + length])
    data = original[8 + length :]
    level = draw(st.sampled_from(["bytes", "header", "header", "length", "data"]))
    if level == "bytes":
        return draw(byte_mutations(original))
    if level == "header":
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["dtype", "shape", "offsets", "metadata", "tensor", "raw"]))
            tensor = header.setdefault("w", {})
            if kind == "dtype":
                tensor["dtype"] = draw(
                    st.sampled_from(["F64", "F16", "BF16", "I8", "U8", "BOOL", "F8_E4M3", "F128"])
                    | texts
                )
            elif kind == "shape":
                tensor["shape"] = draw(st.lists(json_numbers | st.integers(-5, 2**40), max_size=4))
            elif kind == "offsets":
                tensor["data_offsets"] = draw(
                    st.lists(json_numbers | st.integers(-5, 2**64), max_size=3)
                )
            elif kind == "metadata":
                header["__metadata__"] = draw(
                    st.dictionaries(
                        st.sampled_from(["mvctl.module", "mvctl.format", "mvctl.module_args"])
                        | texts,
                        st.sampled_from([f"{m}.{c}" for m, c in EVIL_MODULE_NAMES]) | json_values,
                        max_size=3,
                    )
                )
            elif kind == "tensor":
                header[draw(texts)] = draw(json_values)
            else:
                raw = draw(byte_mutations(json.dumps(header).encode()))
                return struct.pack("<Q", len(raw)) + raw + data
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + data
    if level == "length":
        value = draw(st.sampled_from([0, 1, 7, length - 1, length + 1, 2**63, 2**64 - 1]))
        return struct.pack("<Q", value) + original[8:]
    return original[: 8 + length] + draw(st.binary(max_size=64))


# -- data files ------------------------------------------------------------------------------

cells = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e999", "", " ", "0x10", "1_0", "\u0663", "True"]),
    st.floats().map(repr),
    st.integers().map(str),
    texts,
)


@st.composite
def csv_files(draw: st.DrawFn, original: str) -> bytes:
    """The real hold-out CSV with cells, the header or lines changed, or its bytes broken."""
    rows = list(csv.reader(io.StringIO(original)))
    kind = draw(st.sampled_from(["cells", "header", "lines", "bytes", "long"]))
    if kind == "bytes":
        return draw(byte_mutations(original.encode()))
    if kind == "cells":
        for _ in range(draw(st.integers(1, 5))):
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(cells)
    elif kind == "header":
        rows[0] = draw(st.lists(texts | st.sampled_from(rows[0]), max_size=7))
    elif kind == "lines":
        operation = draw(st.sampled_from(["keep-header", "ragged", "duplicate"]))
        if operation == "keep-header":
            rows = rows[:1]
        elif operation == "ragged":
            rows[draw(st.integers(1, len(rows) - 1))].append("extra")
        else:
            rows = rows + rows[1:] * draw(st.integers(1, 3))
    else:
        rows[1][0] = "9" * draw(st.integers(100_000, 300_000))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def parquet_files(draw: st.DrawFn) -> bytes:
    """A Parquet file whose columns are odd types, or one whose bytes were damaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = draw(st.integers(0, 5))
    kinds = {
        "float": pa.array([1.5] * rows),
        "int": pa.array([1] * rows),
        "text": pa.array(["a"] * rows),
        "null": pa.array([None] * rows, type=pa.float64()),
        "list": pa.array([[1.0, 2.0]] * rows),
        "struct": pa.array([{"a": 1}] * rows),
        "bool": pa.array([True] * rows),
        "binary": pa.array([b"\x00\xff"] * rows),
        "timestamp": pa.array([0] * rows, type=pa.timestamp("s")),
        "decimal": pa.array([None] * rows, type=pa.decimal128(5, 2)),
        "dictionary": pa.array(["a"] * rows).dictionary_encode(),
        "huge": pa.array([1e308] * rows),
    }
    columns = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["f0", "f1", "f2", "f3", "churned"]) | texts,
                st.sampled_from(sorted(kinds)),
            ),
            min_size=1,
            max_size=6,
        )
    )
    try:
        table = pa.table({name: kinds[kind] for name, kind in columns})
    except (pa.ArrowException, ValueError):
        table = pa.table({"f0": kinds["float"]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    if draw(st.integers(0, 3)) == 0:
        return draw(byte_mutations(buffer.getvalue()))
    return buffer.getvalue()


def odd_array(kind: str, rows: int) -> Any:
    import numpy as np

    if kind == "float":
        return np.zeros((rows, 4))
    if kind == "int":
        return np.arange(rows)
    if kind == "text":
        return np.array(["a"] * rows)
    if kind == "object":
        return np.array([{"a": 1}] * max(rows, 1), dtype=object)
    if kind == "nan":
        return np.full((rows, 4), np.nan)
    if kind == "3d":
        return np.zeros((rows, 2, 2))
    if kind == "empty":
        return np.zeros((0,))
    return np.array(5.0)


@st.composite
def npz_files(draw: st.DrawFn) -> bytes:
    """An NPZ archive of odd arrays under the names the config reads, or broken bytes."""
    import numpy as np

    arrays: dict[str, Any] = {}
    for name in draw(
        st.lists(st.sampled_from(["X_test", "y_test", "X", "y", "other"]) | texts, max_size=4)
    ):
        kind = draw(st.sampled_from(["float", "int", "text", "object", "nan", "3d", "empty", "0d"]))
        rows = draw(st.integers(0, 6))
        arrays[member_name(name.replace("/", "_"))] = odd_array(kind, rows)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    if draw(st.integers(0, 2)) == 0:
        return draw(byte_mutations(buffer.getvalue()))
    return buffer.getvalue()


# -- saved plans -----------------------------------------------------------------------------


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += places(item, (*path, index))
    return found


@st.composite
def plan_files(draw: st.DrawFn, original: str) -> tuple[bytes, bool]:
    """A saved plan changed at one place (and its hash recomputed, or not), or as text; and
    whether the plan it holds is still the same."""
    from mvctl.core.hashing import canonical_json, sha256_hex
    from mvctl.core.plan import BODY_KEYS

    document = json.loads(original)
    kind = draw(st.sampled_from(["value", "value", "delete", "add", "move", "text"]))
    if kind == "text":
        text = draw(
            st.sampled_from(
                [
                    original.replace('"serial": ', '"serial": 1e999, "x": '),
                    original.replace('"serial": ', '"serial": NaN, "x": '),
                    original[:-2] + ', "hash": "0"}',
                    "\ufeff" + original,
                    "[" * 100_000,
                    original.replace("{", "{" * 3, 1),
                ]
            )
            | st.just(original).flatmap(
                lambda text: byte_mutations(text.encode()).map(
                    lambda data: data.decode("utf-8", "replace")
                )
            )
        )
        return text.encode("utf-8", "surrogatepass"), same_body(text, original)
    path = draw(st.sampled_from(places(document)[1:]))
    holder = document
    for key in path[:-1]:
        holder = holder[key]
    last = path[-1]
    if kind == "value":
        holder[last] = draw(json_values | json_numbers)
    elif kind == "delete":
        del holder[last]
    elif kind == "add":
        target = holder[last]
        if isinstance(target, dict):
            target[draw(texts)] = draw(json_values)
        elif isinstance(target, list):
            target.append(draw(json_values))
    elif isinstance(holder, list) and len(holder) > 1:
        holder.insert(0, holder.pop())
    if draw(st.booleans()):
        with contextlib.suppress(ValueError, TypeError):  # NaN, or a body made unhashable
            document["hash"] = sha256_hex(
                canonical_json({name: document[name] for name in BODY_KEYS if name in document})
            )
    text = json.dumps(document, indent=2, allow_nan=True)
    return text.encode("utf-8", "surrogatepass"), same_body(text, original)


def same_body(text: str, original: str) -> bool:
    """Whether ``text`` still holds the plan ``original`` holds (what its hash covers)."""
    from mvctl.core.plan import BODY_KEYS

    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(document, dict):
        return False
    saved = json.loads(original)
    return all(
        json.dumps(document.get(name), sort_keys=True) == json.dumps(saved[name], sort_keys=True)
        for name in BODY_KEYS
    )
