"""Terminal output for the command layer (cli.py, recipes): tables to stdout; messages, progress bars and summaries
to stderr.

The library proper never prints; stdout stays clean for data such as `db-out`.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

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


def progress_bar(title: str | None = None, unit: str | None = None, *, rate: ProgressColumn | None = None,
                 eta: bool = False, transient: bool = False) -> Progress:
    """A command's progress bar on stderr: title or task description, bar, count of ``unit`` or percent, times."""
    columns: list[Any] = [TextColumn(f"[bold]{title}[/]" if title else "{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn(), TextColumn(unit)] if unit else [TextColumn("{task.percentage:>3.0f}%")]
    columns += [rate] if rate is not None else []
    columns += [TimeElapsedColumn()] + ([TextColumn("ETA"), TimeRemainingColumn()] if eta else [])
    return Progress(*columns, console=stderr, transient=transient, refresh_per_second=4)


def print_summary(title: str, rows: Iterable[tuple[str, Any]]) -> None:
    """A command's summary at its end, on stderr: a titled table of what it counted, one name and value a row."""
    table = Table(title=title, show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    stderr.print(table)

