"""The `ocr` command: a corpus of images and PDFs becomes page tasks with word boxes, in parallel."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

from rich.progress import ProgressColumn
from rich.table import Table
from rich.text import Text

from vnerteach import Arg, Opt, recipe
from vnerteach.documents import DocumentOptions, PageFailure, iter_documents, page_task
from vnerteach.documents.summary import CorpusStats, count_pages
from vnerteach.files import atomic_file, check_output
from vnerteach.errors import VnerteachError
from vnerteach.output import print_summary, progress_bar, stderr, warn
from vnerteach.sources import document_paths


@recipe("ocr")
def ocr(
    source: Annotated[str, Arg("An image, a PDF, a folder of them, or a JSONL of {\"path\": ...} lines")],
    output: Annotated[Path | None, Opt("JSONL file for the page tasks (default: stdout)", "-o")] = None,
    recursive: Annotated[bool, Opt("Read subfolders too")] = False,
    documents: DocumentOptions = DocumentOptions(),
    strict: Annotated[bool, Opt("Exit with 1 if any document or page failed")] = False,
) -> None:
    """OCR a corpus of images and PDFs into page tasks with word boxes (JSONL), in parallel and cached.

    Digital PDF pages take their words from the text layer; scanned pages are rendered, cleaned up
    and OCR'd with Tesseract in worker processes. A file or page that fails is recorded and
    reported in the summary, and the run goes on.

    Example: vnerteach ocr receipts/ --output receipts.jsonl --preprocess grayscale,deskew --workers 2

    On a Dask cluster: vnerteach ocr receipts/ --output receipts.jsonl --scheduler tcp://10.0.0.5:8786
    """
    if output is not None:
        check_output(output)
    paths = list(document_paths(source, recursive))
    results = iter_documents(paths, documents)  # checks options and Tesseract first
    stats = CorpusStats(documents=len(paths))
    try:
        with atomic_file(output) if output else nullcontext(sys.stdout) as sink, \
                progress_bar("OCR", "pages", rate=RateColumn(), eta=True) as progress:
            bar = progress.add_task("pages", total=count_pages(paths, documents.password))
            for result in results:
                stats.add(result)
                if not isinstance(result, PageFailure):
                    sink.write(_dumps(page_task(result)) + "\n")
                progress.update(bar, advance=1, total=max(stats.items, progress.tasks[0].total or 0))
    finally:
        sys.stdout.flush()
    _print_summary(stats, output)
    if strict and stats.failures:
        raise VnerteachError(f"{len(stats.failures)} documents or pages failed (--strict)")


def _dumps(task: dict) -> str:
    return json.dumps(task, ensure_ascii=False, separators=(",", ":"))


class RateColumn(ProgressColumn):
    """Pages per second since the start: the same measure as the summary's, not a recent window."""

    def render(self, task) -> Text:
        rate = task.completed / task.elapsed if task.completed and task.elapsed else None
        return Text(f"{rate:.1f} pages/s" if rate else "… pages/s")


def _print_summary(stats: CorpusStats, output: Path | None) -> None:
    print_summary("OCR summary" + (f": {output}" if output else ""), stats.rows())
    if stats.failures:
        failed = Table(title="Failures", show_lines=False)
        for column in ("File", "Page", "Error"):
            failed.add_column(column, overflow="fold")
        for failure in stats.failures[:50]:
            failed.add_row(failure.path, str(failure.page or "-"), failure.error)
        stderr.print(failed)
        if len(stats.failures) > 50:
            warn(f"... and {len(stats.failures) - 50} more failures")
