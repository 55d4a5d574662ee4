"""`python -m mvctl` runs the command line."""

from mvctl.cli import main

main()
