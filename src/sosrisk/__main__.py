"""``python -m sosrisk``: the same as the ``sosrisk`` command."""

from sosrisk.cli import main

main()
