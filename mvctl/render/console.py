"""The Console: the one place output is written. Passed in, never a global.

On a terminal it renders rich markup in colour with live progress bars; when output is not a
TTY, or NO_COLOR is set, it writes the same text plain so CI logs stay stable and readable.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from mvctl.render.markup import strip


class Console:
    def __init__(
        self, out: IO[str] | None = None, err: IO[str] | None = None, *, color: bool | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        if color is None:
            color = (
                self.out.isatty()
                and "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb"
            )
        self.color = color
        self._rich: Any = None

    @property
    def rich(self) -> Any:
        """The rich console behind colour output, made on first use."""
        if self._rich is None:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=self.out, highlight=False, soft_wrap=True)
        return self._rich

    def print(self, markup: str = "") -> None:
        if self.color:
            self.rich.print(markup)
        else:
            self.out.write(strip(markup) + "\n")
            self.out.flush()

    def raw(self, text: str) -> None:
        """Text written exactly as given (Markdown, JSON)."""
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def json(self, data: Any) -> None:
        self.raw(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))

    def error(self, message: str) -> None:
        self.err.write(f"Error: {message}\n")
        self.err.flush()

    def note(self, message: str) -> None:
        """A side remark on stderr, so stdout stays machine-readable."""
        self.err.write(strip(message) + "\n")
        self.err.flush()
