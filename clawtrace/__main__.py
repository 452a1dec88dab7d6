"""``python -m clawtrace``: the same as the ``clawtrace`` command."""

from clawtrace.cli import main

main()
