"""The command layer's output helpers: one progress bar and one summary table for every command."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vnerteach.output import print_summary, progress_bar, stderr
from vnerteach.recipes.ocr import RateColumn


def _kinds(progress) -> list[type]:
    return [type(column) for column in progress.columns]


def test_a_progress_bar_counts_in_its_unit_or_shows_a_percentage_on_stderr():
    counted = progress_bar("OCR", "pages", rate=RateColumn(), eta=True)
    assert _kinds(counted) == [TextColumn, BarColumn, MofNCompleteColumn, TextColumn, RateColumn, TimeElapsedColumn,
                               TextColumn, TimeRemainingColumn]
    assert counted.columns[0].text_format == "[bold]OCR[/]" and counted.columns[3].text_format == "pages"
    assert counted.console is stderr and not counted.live.transient
    described = progress_bar(transient=True)
    assert _kinds(described) == [TextColumn, BarColumn, TextColumn, TimeElapsedColumn]
    assert described.columns[0].text_format == "{task.description}" and "percentage" in described.columns[2].text_format
    assert described.live.transient


def test_a_summary_is_a_titled_table_of_names_and_values_on_stderr():
    with stderr.capture() as captured:
        print_summary("Predict summary: out.jsonl", [("Pages and texts", 3), ("Failures", 0)])
    lines = captured.get().splitlines()
    assert " ".join(" ".join(lines[:2]).split()) == "Predict summary: out.jsonl"  # the title wraps over the table
    assert lines[3:5] == ["│ Pages and texts │ 3 │", "│ Failures        │ 0 │"]  # no header, the values right
