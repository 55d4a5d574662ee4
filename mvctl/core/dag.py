"""Order a model's steps so each runs after the steps it depends on.

The spec checks reject cycles with a message naming the steps; here a cycle is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def topological_order(names: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Steps in dependency order, ties broken by declaration order (so plans are stable)."""
    position = {name: index for index, name in enumerate(names)}
    remaining = {name: set(upstream.get(name, ())) for name in names}
    ordered: list[str] = []
    while remaining:
        ready = sorted((n for n, deps in remaining.items() if not deps), key=position.__getitem__)
        if not ready:
            raise ValueError(f"steps depend on each other in a cycle: {sorted(remaining)}")
        for name in ready:
            ordered.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return ordered
