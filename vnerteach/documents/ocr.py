"""Tesseract through pytesseract: is it installed, its version, and the words of a page image."""

from __future__ import annotations

import functools
import os

from ..errors import DependencyError, InputError
from .results import Word

INSTALL_HINT = ("install it with `apt-get install tesseract-ocr` (Debian/Ubuntu), `brew install tesseract` "
                "(macOS) or `choco install tesseract` (Windows), or do without OCR (ocr='never')")
TIMEOUT = 600


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The installed Tesseract's version, e.g. '5.3.0'; DependencyError if it is not installed."""
    import pytesseract

    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError):
        raise DependencyError(f"Tesseract OCR is not installed or not on PATH: {INSTALL_HINT}") from None
    except SystemExit as e:  # pytesseract exits on a version it cannot parse
        raise DependencyError(f"unusable Tesseract: {e}; {INSTALL_HINT}") from None


@functools.lru_cache(maxsize=8)
def installed_languages() -> frozenset[str]:
    """The language packs Tesseract has (e.g. {'eng', 'osd'})."""
    import pytesseract

    tesseract_version()
    return frozenset(pytesseract.get_languages(config=""))


def check_tesseract(lang: str | None = None) -> str:
    """Tesseract's version if it is installed (with lang, e.g. 'eng+deu'); DependencyError otherwise."""
    version = tesseract_version()
    if lang:
        missing = [code for code in lang.split("+") if code not in installed_languages()]
        if missing:
            packages = " ".join(f"tesseract-ocr-{code.replace('_', '-').lower()}" for code in missing)
            raise DependencyError(f"Tesseract has no language data for {', '.join(missing)} (installed: "
                                  f"{', '.join(sorted(installed_languages()))}); install it with "
                                  f"`apt-get install {packages}`")
    return version


def limit_threads() -> None:
    """One OpenMP thread per Tesseract process: parallelism comes from processes (5-6x faster on 2 cores)."""
    os.environ["OMP_THREAD_LIMIT"] = "1"


def ocr_words(image, lang: str, path: str = "", page: int | None = None,
              config: str = "--psm 3") -> list[Word]:
    """The words Tesseract reads in a page image (file or Pillow image), in reading order; InputError if it fails."""
    import pytesseract

    try:
        data = pytesseract.image_to_data(image, lang=lang, config=config, timeout=TIMEOUT,
                                         output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError:
        raise DependencyError(f"Tesseract OCR is not installed or not on PATH: {INSTALL_HINT}") from None
    except (pytesseract.TesseractError, RuntimeError, OSError) as e:
        message = getattr(e, "message", None) or str(e)
        raise InputError(f"Tesseract failed: {str(message).strip()[:300]}", path or str(image),
                         page=page) from None
    return words_from_data(data)


def words_from_data(data: dict) -> list[Word]:
    """Words from pytesseract's image_to_data dict: level-5 rows with text, lines numbered per page."""
    words: list[Word] = []
    line, last = -1, None
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        if int(data["level"][i]) != 5 or not text:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        if key != last:
            line, last = line + 1, key
        x, y, w, h = (int(data[k][i]) for k in ("left", "top", "width", "height"))
        conf = float(data["conf"][i])
        for part in text.split():  # Tesseract words hold no spaces, but stay safe
            words.append(Word(part, (x, y, x + w, y + h), conf if conf >= 0 else None,
                              int(data["block_num"][i]), line))
    return words
