"""The command line: click commands that parse options, call ops and render. The one place
errors are caught: MvctlError and bad options -> the message and exit 1; Ctrl-C -> 130;
anything else -> one 'internal error' line naming a log file that holds the traceback
(`--debug` re-raises).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback

import click

from mvctl.errors import MvctlError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> None:
    from mvctl.cli.app import cli

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
        error.show()
        code = EXIT_ERROR
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
