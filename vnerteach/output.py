"""Terminal output for the command layer (cli.py, recipes): tables to stdout, one-line messages to stderr.

The library proper never prints; stdout stays clean for data such as `db-out`.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

stdout = Console()
stderr = Console(stderr=True)


def plural(count: int, word: str) -> str:
    """``1 answer``, ``2 answers``: a count with its noun."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def good(message: str) -> None:
    """A success line."""
    stderr.print(f"[green]✔[/] {escape(message)}", soft_wrap=True)


def info(message: str) -> None:
    """A neutral line."""
    stderr.print(f"[blue]ℹ[/] {escape(message)}", soft_wrap=True)


def warn(message: str) -> None:
    """A warning line."""
    stderr.print(f"[yellow]⚠[/] {escape(message)}", soft_wrap=True)


def fail(message: str) -> None:
    """An error line (the caller exits)."""
    stderr.print(f"[bold red]✘[/] {escape(message)}", soft_wrap=True)
