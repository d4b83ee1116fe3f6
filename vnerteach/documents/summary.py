"""Corpus accounting for the `ocr` command: page counts up front (for an ETA) and the summary after."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .quality import THRESHOLDS
from .results import PageFailure, PageResult


def count_pages(paths: Iterable[Path], password: str | None = None) -> int:
    """Pages in the documents, read from their headers (a file that cannot be read counts as one)."""
    from .detect import file_kind

    total = 0
    for path in paths:
        try:
            if file_kind(path) == "pdf":
                from .pdf import mupdf

                with mupdf().open(path, filetype="pdf") as doc:
                    total += doc.page_count or 1
            else:
                from PIL import Image

                with Image.open(path) as image:
                    total += getattr(image, "n_frames", 1) or 1
        except Exception:  # counting is a hint for the progress bar; the real read reports the error
            total += 1
    return total


@dataclass
class CorpusStats:
    """What a run over a corpus did: pages by kind, failures, time."""

    documents: int = 0
    pages: int = 0
    digital: int = 0
    ocr: int = 0
    cached: int = 0
    retried: int = 0
    empty: int = 0
    poor: int = 0  # OCR pages read badly (quality.py)
    turned: int = 0  # OCR pages read turned (rotation other than 0)
    engines: set = field(default_factory=set)  # the engines that read the OCR pages (their thresholds are shown)
    failures: list[PageFailure] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def items(self) -> int:
        """Pages read plus failures recorded."""
        return self.pages + len(self.failures)

    def add(self, result: PageResult | PageFailure) -> None:
        """Count one page or failure."""
        if isinstance(result, PageFailure):
            self.failures.append(result)
            return
        self.pages += 1
        self.ocr += result.ocr
        self.digital += not result.ocr
        self.cached += result.cached
        self.retried += result.retried
        self.empty += result.ocr and not result.words
        if result.ocr:
            from .quality import quality

            self.poor += quality((w.conf for w in result.words), result.engine).poor
            self.engines.add(result.engine)
            self.turned += bool(result.rotation)

    def rows(self) -> list[tuple[str, str]]:
        """The summary as (name, value) rows."""
        seconds = time.perf_counter() - self.started
        return [("Documents", str(self.documents)), ("Pages", str(self.pages)),
                ("Digital pages (text layer)", str(self.digital)), ("OCR pages", str(self.ocr)),
                ("From cache", str(self.cached)),
                ("Retried with stronger preprocessing (no words)", str(self.retried)),
                ("OCR pages still without words", str(self.empty)),
                ("OCR pages read badly" + (" (" + "; ".join(f"{e}: {THRESHOLDS[e].describe()}"
                                                            for e in sorted(self.engines)) + ")" if self.engines else ""),
                 str(self.poor)),
                ("OCR pages read turned upright", str(self.turned)), ("Failures", str(len(self.failures))),
                ("Time", f"{seconds:.1f} s"), ("Pages/s", f"{self.pages / seconds:.1f}" if seconds else "-")]
