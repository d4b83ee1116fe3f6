"""How documents are read: one settings type for the command line, sources, the page planner and the OCR workers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import UsageError
from ..flags import option as _opt
from .preprocess import parse_preprocess

if TYPE_CHECKING:
    from .page_images import PageImages

OCR_MODES = ("auto", "always", "never")
OCR_ENGINES = ("ppocrv5", "tesseract", "rapidocr")
DEFAULT_ENGINE = "ppocrv5"
"""The engine with the best `predict --fields` on receipts (bench/bench_ocr_decision.py; docs/documents.md, "OCR engines")."""


@dataclass(frozen=True)
class DocumentOptions:
    """How pages are read; a recipe parameter of this type becomes one flag per field, a new setting one field."""

    dpi: int = _opt(300, "Resolution PDF pages are rendered at for OCR and display")
    ocr: str = _opt("auto", "auto: OCR pages without a text layer; always; never")
    min_text: int = _opt(10, "A PDF page with fewer text-layer characters is OCR'd")
    preprocess: str = _opt("", "Image steps before OCR, comma-separated: grayscale, upscale, deskew, denoise, and binarize or adaptive")
    ocr_engine: str = _opt(DEFAULT_ENGINE, "OCR engine of scanned pages: ppocrv5 (PP-OCRv5, the default), tesseract (--lang), or rapidocr (PP-OCRv4, pip install 'vnerteach[rapidocr]')")
    lang: str = _opt("eng", "Tesseract language(s), e.g. eng or eng+deu")
    password: str | None = _opt(None, "Password of encrypted PDFs")
    cache: bool = _opt(True, "Use the page cache: pages read before are not read again")
    cache_dir: str | None = _opt(None, "Folder of the page cache (default: cache in $VNERTEACH_HOME)")
    workers: int | None = _opt(None, "OCR worker processes (default: number of cores); with --scheduler, sizes the pages in flight (default: the cluster's threads)")
    turn: bool = _opt(True, "Turn scanned pages upright before OCR (pages turned by 90, 180 or 270 degrees)")
    scheduler: str | None = _opt(None, "OCR on a Dask cluster: its scheduler's address, e.g. tcp://10.0.0.5:8786 (pip install 'vnerteach[cluster]')")

    @property
    def steps(self) -> tuple[str, ...]:
        """The preprocessing steps in application order (UsageError for an unknown one)."""
        return parse_preprocess(self.preprocess)

    def cache_root(self) -> Path:
        """The page cache folder, resolved; UsageError when none was given (the command layer fills it)."""
        if self.cache_dir is None:
            raise UsageError("no page cache folder: DocumentOptions.cache_dir is not set")
        return Path(self.cache_dir).expanduser().resolve()

    def _make_cache(self) -> None:
        """The page cache folder made if missing; UsageError naming it when it cannot be (a file, no permission)."""
        root = self.cache_root()
        if root.exists() and not root.is_dir():
            raise UsageError(f"cache_dir {self.cache_dir}: not a folder (the page cache is a folder)")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cache_dir {self.cache_dir}: cannot use it as the page cache folder "
                             f"({e.strerror or type(e).__name__})") from None

    def page_images(self) -> PageImages | None:
        """How the server finds a page image by key: from the cache, re-made with this password if need be. None
        without a cache folder: such options read no document (check refuses them), so there is no page image."""
        from .page_images import PageImages

        return None if self.cache_dir is None else PageImages(self.cache_root(), self.password)

    def region_reader(self) -> Callable[[Path, object], list]:
        """How the server reads a region of a page image that OCR missed: Tesseract with this language."""
        from .region import ocr_region

        return partial(ocr_region, lang=self.lang)

    def page_turner(self) -> Callable[[dict], dict]:
        """How the server reads a page task again turned a further 90 degrees (the page view's rotate key)."""
        from .turning import turn_task

        return partial(turn_task, options=self)

    def check(self) -> str | None:
        """Fail before any work starts on a bad value, no cache folder or a missing OCR engine; engine and version when
        OCR may run."""
        self._make_cache()
        parse_preprocess(self.preprocess)
        if self.ocr not in OCR_MODES:
            raise UsageError(f"ocr must be one of {', '.join(OCR_MODES)}, not {self.ocr!r}")
        dpi = self.dpi
        if not isinstance(dpi, int) or isinstance(dpi, bool) or not 20 <= dpi <= 1200:
            raise UsageError(f"dpi must be a whole number from 20 to 1200, not {dpi!r}")
        if self.min_text < 0:
            raise UsageError(f"min_text must be 0 or more, not {self.min_text!r}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"workers must be 1 or more, not {self.workers!r}")
        if self.ocr_engine not in OCR_ENGINES:
            raise UsageError(f"ocr_engine must be one of {', '.join(OCR_ENGINES)}, not {self.ocr_engine!r}")
        if self.scheduler is not None:
            from .cluster import require_distributed

            if not self.scheduler.strip():
                raise UsageError("scheduler must be a Dask scheduler's address, e.g. tcp://10.0.0.5:8786, not ''")
            require_distributed()
        if self.ocr == "never":
            return None
        if self.ocr_engine == "rapidocr":
            from .lines import VERSION
            from .rapid import rapidocr_version

            return f"rapidocr {rapidocr_version()} {VERSION}"
        if self.ocr_engine == "ppocrv5":
            from .lines import VERSION
            from .ppocr import ppocr_version

            return f"ppocrv5 {ppocr_version()} {VERSION}"
        from .ocr import check_tesseract

        return f"tesseract {check_tesseract(self.lang)}"
