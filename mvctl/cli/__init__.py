"""The command line: click commands that parse options, call ops and render. The one place
errors are caught: MvctlError and bad options -> the message and exit 1; Ctrl-C -> 130;
anything else -> one 'internal error' line naming a log file that holds the traceback
(`--debug` re-raises).

Error messages and logged warnings quote user input (a file name, a key, a webhook's reply),
so they reach stderr with their control characters escaped, as everything the Console writes.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
import time
import traceback

import click

from mvctl.errors import MvctlError, SpecError, SpecErrors

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


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


def main(argv: list[str] | None = None) -> None:
    from mvctl.cli.app import cli

    _show_warnings()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MVCTL_DEBUG") == "1"
    try:
        code = cli.main(args=args, prog_name="mvctl", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        code = EXIT_INTERRUPTED
    except click.ClickException as error:
        # click exits 2 on a bad option, but 2 means "changes" to `plan --detailed-exitcode`.
        shown = io.StringIO()
        error.show(file=shown)
        _write_error(shown.getvalue().rstrip("\n"))
        code = EXIT_ERROR
    except MvctlError as error:
        if debug:
            raise
        _write_error(f"Error: {_error_message(error)}")
        code = EXIT_ERROR
    except Exception:
        if debug:
            raise
        code = _report_internal_error()
    sys.exit(code if isinstance(code, int) else 0)


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
