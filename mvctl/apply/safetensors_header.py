"""A safetensors file's header, checked whole before anything trusts it.

The format is an 8-byte little-endian header length, a JSON header and the tensor bytes. The
header says where each tensor lies; a file whose ranges overlap, leave gaps, run past the end
or leave bytes over is refused, as is a dtype the format does not define, a shape whose size
is not its byte range, or metadata that is not text to text. This runs in plain Python, so a
file is checked when it is registered (`mvctl validate` and `plan` too), without torch.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvctl.errors import UnsafeArtifactError

MAX_HEADER_BYTES = 100_000_000
"""The safetensors library's own limit on the header's length."""
LENGTH_BYTES = 8
MAX_TENSOR_BITS = 8 * 2**64
"""No file can hold more; a shape asking for more is not multiplied out further."""
METADATA_KEY = "__metadata__"
TENSOR_FIELDS = frozenset({"dtype", "shape", "data_offsets"})
DTYPE_BITS = {
    "BOOL": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
}
"""Every dtype the safetensors format defines, with its size in bits."""


@dataclass(frozen=True)
class SafetensorsHeader:
    metadata: dict[str, str]
    tensors: dict[str, tuple[int, int]]
    """Each tensor's byte range (begin, end) in the data that follows the header."""


def looks_like_safetensors(path: Path) -> bool:
    """Whether the file starts the way a safetensors file does: a length that fits, then '{'."""
    with path.open("rb") as handle:
        head = handle.read(LENGTH_BYTES + 1)
        size = handle.seek(0, 2)
    if len(head) <= LENGTH_BYTES:
        return False
    (length,) = struct.unpack("<Q", head[:LENGTH_BYTES])
    return 0 < length <= min(MAX_HEADER_BYTES, size - LENGTH_BYTES) and head[8:9] == b"{"


def read_header(path: Path, what: str, shown: Path | None = None) -> SafetensorsHeader:
    """The file's header, after checking it describes the file exactly; else raise naming why
    and the file (``shown``, by default ``path``)."""

    def refuse(why: str) -> UnsafeArtifactError:
        return UnsafeArtifactError(
            f"{what} ({shown or path}) is not a valid safetensors file: {why}",
            fix="Save the weights again with safetensors (safetensors.torch.save_file).",
        )

    with path.open("rb") as handle:
        prefix = handle.read(LENGTH_BYTES)
        if len(prefix) < LENGTH_BYTES:
            raise refuse(f"it is {len(prefix)} bytes long, shorter than the header length")
        (length,) = struct.unpack("<Q", prefix)
        size = handle.seek(0, 2)
        if length > MAX_HEADER_BYTES:
            raise refuse(f"its header length {length} is over the limit of {MAX_HEADER_BYTES}")
        if length > size - LENGTH_BYTES:
            raise refuse(f"its header length {length} runs past the end of the file ({size} bytes)")
        handle.seek(LENGTH_BYTES)
        raw = handle.read(length)
    header = _parse(raw, refuse)
    data_bytes = size - LENGTH_BYTES - length
    metadata = _metadata(header.pop(METADATA_KEY, {}), refuse)
    tensors = {name: _tensor_range(name, info, refuse) for name, info in header.items()}
    _check_layout(tensors, data_bytes, refuse)
    return SafetensorsHeader(metadata, tensors)


def _parse(raw: bytes, refuse: Any) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
        return dict(pairs)

    def no_constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant
        )
    except UnicodeDecodeError as error:
        raise refuse("its header is not UTF-8 text") from error
    except (ValueError, RecursionError) as error:
        raise refuse(f"its header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise refuse(f"its header is a JSON {type(header).__name__}, not an object")
    return header


def _metadata(value: Any, refuse: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise refuse(f"its {METADATA_KEY} is not a map of text to text")
    return value


def _tensor_range(name: str, info: Any, refuse: Any) -> tuple[int, int]:
    if not isinstance(info, dict) or set(info) != TENSOR_FIELDS:
        raise refuse(f"tensor {name!r} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in DTYPE_BITS:
        raise refuse(f"tensor {name!r} has the unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise refuse(f"tensor {name!r} has the shape {shape!r}, not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise refuse(f"tensor {name!r} has the data_offsets {offsets!r}, not [begin, end]")
    begin, end = offsets
    bits = _bits(shape, DTYPE_BITS[dtype], cap=MAX_TENSOR_BITS)
    if end < begin:
        raise refuse(
            f"tensor {name!r} has data_offsets [{begin}, {end}] that end before they begin"
        )
    if bits != 8 * (end - begin):
        needs = (
            "more than that"
            if bits > MAX_TENSOR_BITS
            else f"{bits // 8} bytes"
            if bits % 8 == 0
            else f"{bits} bits, not a whole number of bytes"
        )
        raise refuse(
            f"tensor {name!r} ({dtype} {shape}) has data_offsets [{begin}, {end}] holding "
            f"{end - begin} bytes, but it needs {needs}"
        )
    return begin, end


def _bits(shape: list[int], bits_per_item: int, cap: int) -> int:
    """The tensor's size in bits, or cap + 1 once it exceeds ``cap`` (a crafted shape's product
    could have millions of digits)."""
    if 0 in shape:
        return 0
    total = bits_per_item
    for size in shape:
        total *= size
        if total > cap:
            return cap + 1
    return total


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_layout(tensors: dict[str, tuple[int, int]], data_bytes: int, refuse: Any) -> None:
    """The ranges must tile the data exactly: from 0, each where the last ended, to the end."""
    position, previous = 0, None
    for name, (begin, end) in sorted(tensors.items(), key=lambda item: item[1]):
        if begin < position:
            raise refuse(f"tensor {name!r} overlaps tensor {previous!r} (byte {begin})")
        if begin > position:
            raise refuse(f"there is a gap of {begin - position} bytes before tensor {name!r}")
        if end > data_bytes:
            raise refuse(
                f"tensor {name!r} ends at byte {end} of the data, but the file holds only "
                f"{data_bytes} bytes of data (truncated)"
            )
        position, previous = end, name
    if position != data_bytes:
        raise refuse(f"{data_bytes - position} bytes follow the last tensor's data")
