"""The cyclic garbage collector, set for what mvctl builds: large trees that hold no cycles.

A config of 10,000 versions, or a state snapshot of as many rows, is hundreds of thousands of
small objects and no reference cycle. The collector cannot know that: every collection after
they were built rescans them and finds nothing, a tenth of a large plan's time. So:

- ``tune_for_one_command``: the `mvctl` program, in a process of its own, freezes what start-up
  loaded out of all future collections, and collects young objects in batches of 50,000;
- ``built_to_last``: a tree that lives until the command ends (the config, the snapshot) is
  built with the collector paused, and in that process then frozen as well.

Reference counting still frees a frozen object once it is dropped; what freezing gives up is
the collection of cycles among frozen objects. So only the program freezes: a test process
that runs the CLI thousands of times would keep every such cycle.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_freezes_what_lasts = False


def tune_for_one_command() -> None:
    """Set the collector for one short command in this process (the `mvctl` entry point).

    With the default young generation (700 objects) a 10,000-version plan spends a quarter of
    its CPU time in collections that find nothing. What start-up loaded lives as long as the
    process, so it is frozen, and the young generation holds 50,000 objects: cycles are still
    collected, in larger batches.
    """
    global _freezes_what_lasts
    gc.freeze()
    gc.set_threshold(50_000, 50, 10)
    _freezes_what_lasts = True


@contextmanager
def built_to_last() -> Iterator[None]:
    """Build a large tree that lives until the command ends: no collection runs meanwhile,
    and, in a process tuned for one command, what exists once it is built is frozen, so no
    later collection rescans it. Elsewhere the collector is only paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if _freezes_what_lasts:
            gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
