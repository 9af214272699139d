"""``python -m hub``: the same CLI as the ``anbu`` command."""

from hub.cli import main

main()
