"""The command line: click commands that parse options, call ops and render. The one place
errors are caught: MvctlError -> its message and exit 1; SIGINT (Ctrl-C) -> 130 and SIGTERM
-> 143, after apply stopped its steps, closed its record and released the lock; anything else
-> one 'internal error' line naming a log file that holds the traceback (`--debug` re-raises).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from mvctl.errors import Interrupted, MvctlError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    from mvctl.cli.app import cli

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MVCTL_DEBUG") == "1"
    with _signals_stop_the_command():
        try:
            code = cli.main(args=args, prog_name="mvctl", standalone_mode=False)
        except click.exceptions.Abort as aborted:
            # click turns a KeyboardInterrupt (Interrupted is one) into Abort.
            stopped = aborted.__cause__
            if isinstance(stopped, Interrupted):
                sys.stderr.write(f"Stopped: {stopped}.\n")
                code = 128 + stopped.signum
            else:
                sys.stderr.write("Aborted.\n")
                code = EXIT_INTERRUPTED
        except click.ClickException as error:
            error.show()
            code = error.exit_code
        except MvctlError as error:
            if debug:
                raise
            sys.stderr.write(f"Error: {error.message}\n")
            code = EXIT_ERROR
        except Exception:
            if debug:
                raise
            code = _report_internal_error()
    sys.exit(code if isinstance(code, int) else 0)


@contextmanager
def _signals_stop_the_command() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread, so the command unwinds
    through its cleanup. A second signal while it does exits at once: everything mvctl
    writes survives a kill (the lock is taken over, the steps' watchdog stops them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            os.write(2, f"Stopped at once by a second {signal.Signals(signum).name}.\n".encode())
            os._exit(128 + signum)
        stopping = True
        raise Interrupted(signum)

    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {
        signum: signal.signal(signum, stop)
        for signum in STOP_SIGNALS
        # A signal ignored from the start (a background job of a script) stays ignored.
        if signal.getsignal(signum) != signal.SIG_IGN
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _report_internal_error() -> int:
    handle, path = tempfile.mkstemp(
        prefix=f"mvctl-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log"
    )
    with os.fdopen(handle, "w") as log:
        traceback.print_exc(file=log)
    kind = type(sys.exc_info()[1]).__name__
    sys.stderr.write(
        f"Internal error ({kind}): this is a bug in mvctl. The traceback is in {path}; "
        "please include it in a bug report, or re-run with --debug.\n"
    )
    return EXIT_ERROR
