"""Durations and sizes as a config writes them: `90s`, `10m`, `1h30m`; `512MiB`, `2GiB`.

A plain number is taken as it is (seconds, bytes). ``format_duration`` writes seconds back
the way a person would have written them, so a timeout message reads "timed out after 10m".
"""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}


def parse_duration(value: int | float | str) -> float:
    """Seconds in ``value``: a number of seconds or a duration such as `90s`, `10m`, `1h30m`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as '90s' or '10m'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        if not _DURATION.match(text):
            raise ValueError(
                f"{value!r} is not a duration: write seconds (90) or a number with a unit "
                "(ms, s, m, h, d) such as '90s', '10m' or '1h30m'"
            )
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))
    if not seconds > 0:
        raise ValueError(f"a duration must be more than zero, not {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` the way a config says it: 600 -> '10m', 90 -> '90s', 1.5 -> '1.5s'."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_size(value: int | str) -> int:
    """Bytes in ``value``: a number of bytes or a size such as '512MiB', '2GiB', '1.5GB'."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or text such as '512MiB' or '2GiB'")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value.strip())
        if match is None:
            raise ValueError(
                f"{value!r} is not a size: write bytes (1048576) or a number with a unit "
                "(KB, MB, GB, TB, KiB, MiB, GiB, TiB) such as '512MiB' or '2GiB'"
            )
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if size < 0:
        raise ValueError(f"a size cannot be negative, not {value!r}")
    return size


def format_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that keeps one decimal: '2.0 GiB'."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
