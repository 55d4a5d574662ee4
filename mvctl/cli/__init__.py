"""The command line: click commands that parse options, call ops and render. The one place
errors are caught: an MvctlError -> its message and exit 1 (3 for conflicts), a bad option ->
click's message and exit 1; SIGINT (Ctrl-C) -> 130 and SIGTERM -> 143, after apply stopped
its steps, closed its record and released the lock; anything else -> one 'internal error'
line naming a log file that holds the traceback (`--debug` re-raises). The codes come from
``mvctl.exit_codes``.

Under `--json` a failure is JSON too: the same message goes to stderr, and stdout holds one
error document (``schemas/error.schema.json``) with the fix and the exit code, so stdout
always parses. Whether `--json` was asked is read from the command line before click parses
it, so that a bad option is reported as JSON as well.

Error messages and logged warnings quote user input (a file name, a key, a webhook's reply),
so they reach stderr with their control characters escaped, as everything the Console writes.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from mvctl import clock
from mvctl.collector import tune_for_one_command
from mvctl.errors import Interrupted, MvctlError, SpecError, SpecErrors
from mvctl.exit_codes import ExitCode, for_error

if TYPE_CHECKING:
    from mvctl.render.shapes import ErrorJson

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _WarningsOnStderr(logging.Handler):
    """mvctl's logged warnings (a notification not delivered) on the current stderr, escaped."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write_error(self.format(record))
        except Exception:
            self.handleError(record)


def _write_error(text: str) -> None:
    from mvctl.render.terminal import visible

    sys.stderr.write(visible(text, lines=True) + "\n")
    sys.stderr.flush()


def _error_message(error: MvctlError) -> str:
    """A config problem on one line each (a YAML key with a newline in it cannot forge a line);
    other messages may span lines (a failed command's output)."""
    if not isinstance(error, SpecError):
        return error.message
    from mvctl.render.terminal import visible

    errors = error.errors if isinstance(error, SpecErrors) else (error,)
    return "\n".join(visible(each.message) for each in errors)


def _show_warnings() -> None:
    """Route the ``mvctl`` loggers to stderr once; a delivery thread may log after main ends."""
    logger = logging.getLogger("mvctl")
    if not any(isinstance(handler, _WarningsOnStderr) for handler in logger.handlers):
        logger.addHandler(_WarningsOnStderr())


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for `--json` (before a `--`, after which all is data)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _json_of_error(error: MvctlError, code: ExitCode) -> None:
    from mvctl.render.errors import mvctl_error_json

    _print_json(mvctl_error_json(error, code))


def _json_of_failure(
    kind: str, message: str, fix: str | None, code: ExitCode, *, log: str | None = None
) -> None:
    from mvctl.render.errors import error_json

    _print_json(error_json(kind, message, fix, code, log=log))


def _print_json(document: ErrorJson) -> None:
    """The error document on stdout (the renderers are imported only when one is needed)."""
    from mvctl.render.terminal import json_text

    sys.stdout.write(json_text(document) + "\n")
    sys.stdout.flush()


def run() -> None:
    """The `mvctl` program: ``main`` in a process of its own (tests call ``main`` in theirs)."""
    tune_for_one_command()
    main()


def main(argv: list[str] | None = None) -> None:
    from mvctl.cli.app import cli

    _show_warnings()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MVCTL_DEBUG") == "1"
    as_json = _wants_json(args)
    code: Any
    with _signals_stop_the_command():
        try:
            code = cli.main(args=args, prog_name="mvctl", standalone_mode=False)
        except click.exceptions.Abort as aborted:
            # click turns a KeyboardInterrupt (Interrupted is one) into Abort.
            stopped = aborted.__cause__
            if isinstance(stopped, Interrupted):
                code = _stopped(as_json, f"Stopped: {stopped}.", for_error(stopped))
            elif isinstance(stopped, EOFError):
                # ... and an EOFError too (a prompt's own ends in Abort without one): escaped
                # from a reader of a damaged file, it is a bug, not the user stopping mvctl.
                if debug:
                    raise stopped from None
                code = _report_internal_error(stopped, as_json)
            else:
                code = _stopped(as_json, "Aborted.", ExitCode.INTERRUPTED)
        except click.ClickException as error:
            # click exits 2 on a bad option, but 2 means "changes" to `plan --detailed-exitcode`.
            shown = io.StringIO()
            error.show(file=shown)
            _write_error(shown.getvalue().rstrip("\n"))
            if as_json:
                fix = (
                    f"Run `{error.ctx.command_path} --help` for its options."
                    if isinstance(error, click.UsageError) and error.ctx is not None
                    else None
                )
                _json_of_failure("UsageError", error.format_message(), fix, ExitCode.ERROR)
            code = ExitCode.ERROR
        except MvctlError as error:
            if debug:
                raise
            code = for_error(error)
            _write_error(f"Error: {_error_message(error)}")
            if as_json:
                _json_of_error(error, code)
        except Exception as error:
            if debug:
                raise
            code = _report_internal_error(error, as_json)
    sys.exit(int(code) if isinstance(code, int) else ExitCode.OK)


def _stopped(as_json: bool, message: str, code: ExitCode) -> ExitCode:
    sys.stderr.write(message + "\n")
    if as_json:
        _json_of_failure("Interrupted", message, None, code)
    return code


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


def _report_internal_error(error: BaseException, as_json: bool) -> ExitCode:
    handle, path = tempfile.mkstemp(
        prefix=f"mvctl-crash-{clock.now().strftime('%Y%m%d-%H%M%S')}-", suffix=".log"
    )
    with os.fdopen(handle, "w") as log:
        traceback.print_exception(error, file=log)
    kind = type(error).__name__
    fix = f"The traceback is in {path}; please include it in a bug report, or re-run with --debug."
    sys.stderr.write(f"Internal error ({kind}): this is a bug in mvctl. {fix}\n")
    if as_json:
        _json_of_failure(
            "InternalError",
            f"internal error ({kind}): this is a bug in mvctl",
            fix,
            ExitCode.ERROR,
            log=path,
        )
    return ExitCode.ERROR
