"""What a page becomes: a PageResult with its words, or a PageFailure that says what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..failures import TaskFailure


class Word(NamedTuple):
    """One word: its text, box [x0, y0, x1, y1] in page-image pixels, OCR confidence, block, line."""

    text: str
    bbox: tuple[int, int, int, int]
    conf: float | None
    block: int
    line: int


@dataclass
class PageResult:
    """One page of a document turned into words with boxes in the pixels of its page image."""

    path: str
    page: int
    pages: int
    width: int
    height: int
    dpi: float | None
    ocr: bool
    sha256: str
    image_key: str
    kind: str
    preprocess: tuple[str, ...] = ()
    skew: float = 0.0
    scale: float = 1.0
    cached: bool = False
    words: list[Word] = field(default_factory=list)
    retried: bool = False  # OCR read no word at first: OCR'd again with stronger preprocessing
    rotation: int = 0  # degrees the page image was turned clockwise to read it
    rotation_source: str | None = None  # how the turn was chosen (upright.SOURCES); None: not looked for
    engine: str = "tesseract"  # the OCR engine that read an OCR'd page (options.OCR_ENGINES)

    @property
    def render_dpi(self) -> int | None:
        """The dpi a PDF page was rendered at, before any upscaling (None for image files)."""
        if self.kind != "pdf" or not self.dpi:
            return None
        return round(self.dpi / self.scale)

    @property
    def ok(self) -> bool:
        """True: this is a page, not a failure."""
        return True


@dataclass
class PageFailure(TaskFailure):
    """A document or page that could not be read; page is None when the whole file failed."""
