"""The Console: the one place output is written. Passed in, never a global.

On a terminal it renders rich markup in colour with live progress bars; when output is not a
TTY, or NO_COLOR is set, it writes the same text plain so CI logs stay stable and readable
(FORCE_COLOR asks for colour in a CI log that renders it).
Whatever it writes, coloured or plain, passes through ``visible`` first: a control character
or bidi override that reached it inside a value is shown as an escape, never obeyed (a CI log
viewer renders ANSI as a terminal does). Only ``passthrough`` writes bytes as they are, and
only when the output is not a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, Any

from mvctl.render.markup import strip
from mvctl.render.terminal import json_text, visible


def color_wanted(terminal: bool, env: Mapping[str, str]) -> bool:
    """Colour unless NO_COLOR is set to something (no-color.org: an empty value does not
    count); else colour when FORCE_COLOR is set to something (force-color.org), even into a
    pipe; else colour on a terminal that is not TERM=dumb. `--no-color` wins over all."""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return terminal and env.get("TERM") != "dumb"


class Console:
    def __init__(
        self, out: IO[str] | None = None, err: IO[str] | None = None, *, color: bool | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.terminal = self.out.isatty()
        self.color = color_wanted(self.terminal, os.environ) if color is None else color
        self._rich: Any = None

    @property
    def rich(self) -> Any:
        """The rich console behind colour output, made on first use."""
        if self._rich is None:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(
                file=self.out,
                highlight=False,
                soft_wrap=True,
                emoji=False,
                force_terminal=self.color,
            )
        return self._rich

    def print(self, markup: str = "") -> None:
        markup = visible(markup, lines=True)
        if self.color:
            self.rich.print(markup)
        else:
            self.out.write(strip(markup) + "\n")
            self.out.flush()

    def raw(self, text: str) -> None:
        """Text that is not markup (Markdown, JSON), written as given but for unsafe characters."""
        text = visible(text, lines=True)
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def passthrough(self, text: str) -> None:
        """Text from a step (its log): byte for byte into a file or a pipe, so it can be kept
        as it was; escaped like everything else when the output is a terminal."""
        self.out.write(visible(text, lines=True) if self.terminal else text)
        self.out.flush()

    def json(self, data: Any) -> None:
        self.raw(json_text(data))

    def error(self, message: str) -> None:
        self.err.write(f"Error: {visible(message, lines=True)}\n")
        self.err.flush()

    def note(self, message: str) -> None:
        """A side remark on stderr, so stdout stays machine-readable."""
        self.err.write(strip(visible(message, lines=True)) + "\n")
        self.err.flush()
