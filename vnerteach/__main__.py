"""``python -m vnerteach``: the same as the ``vnerteach`` command."""

from .cli import main

main()
