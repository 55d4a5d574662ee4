"""`python -m mvctl` runs the command line."""

from mvctl.cli import run

run()
