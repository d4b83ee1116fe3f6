"""RapidOCR (PP-OCR models in ONNX, the optional extra `vnerteach[rapidocr]`): the words of a page image."""

from __future__ import annotations

import functools
import unicodedata

from ..errors import DependencyError, InputError
from .results import Word

INSTALL_HINT = "install it with `pip install 'vnerteach[rapidocr]'`, or use --ocr-engine tesseract"
GAP = 0.3  # a gap between characters wider than this share of the line's height starts a new word


def rapidocr_version() -> str:
    """The installed rapidocr-onnxruntime's version; DependencyError if it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import rapidocr_onnxruntime  # noqa: F401
        return version("rapidocr-onnxruntime")
    except (ImportError, PackageNotFoundError):
        raise DependencyError(f"RapidOCR is not installed: {INSTALL_HINT}") from None


@functools.lru_cache(maxsize=1)
def load_engine():
    """One RapidOCR per process, on one thread: parallelism comes from processes, as with Tesseract."""
    rapidocr_version()
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def rapid_words(image, path: str = "", page: int | None = None) -> list[Word]:
    """The words RapidOCR reads in a page image (file path or Pillow image), line by line; InputError if it fails."""
    import numpy as np

    if not isinstance(image, str):
        image = np.asarray(image.convert("RGB"))
    try:
        lines, _ = load_engine()(image, return_word_box=True)
    except DependencyError:
        raise
    except Exception as e:  # onnxruntime and OpenCV raise their own types
        raise InputError(f"RapidOCR failed: {str(e).strip()[:300]}", path or "image", page=page) from None
    return words_from_lines(lines or [])


def words_from_lines(lines: list) -> list[Word]:
    """Words from RapidOCR's lines (box, text, score, character boxes, characters, scores): split at spaces and gaps."""
    words: list[Word] = []
    for number, (box, text, score, *rest) in enumerate(lines):
        height = max(p[1] for p in box) - min(p[1] for p in box)
        char_boxes, chars, scores = rest if len(rest) == 3 and rest[0] else _apportion(box, text, score)
        current: list[tuple[str, list, float]] = []
        last_right = None
        for char, cbox, score in zip(chars, char_boxes, scores):
            xs, ys = [p[0] for p in cbox], [p[1] for p in cbox]
            if not char.strip() or (last_right is not None and min(xs) - last_right > GAP * height):
                _flush(words, current, number)
                current = []
            if char.strip():
                current.append((char, [min(xs), min(ys), max(xs), max(ys)], float(score)))
            last_right = max(xs)
        _flush(words, current, number)
    return words


def _apportion(box, text: str, score: float) -> tuple[list, str, list]:
    """Character boxes for a line RapidOCR gave no per-character output for: its box split evenly by character."""
    x0, x1 = min(p[0] for p in box), max(p[0] for p in box)
    y0, y1 = min(p[1] for p in box), max(p[1] for p in box)
    step = (x1 - x0) / max(len(text), 1)
    boxes = [[[x0 + i * step, y0], [x0 + (i + 1) * step, y1]] for i in range(len(text))]
    return boxes, text, [score] * len(text)


def _flush(words: list[Word], chars: list[tuple[str, list, float]], line: int) -> None:
    """Append the word made of chars (text, box, score), if any: its box spans theirs, its confidence their mean (0-100)."""
    if not chars:
        return
    boxes = [b for _, b, _ in chars]
    bbox = (int(min(b[0] for b in boxes)), int(min(b[1] for b in boxes)),
            int(max(b[2] for b in boxes)), int(max(b[3] for b in boxes)))
    conf = round(100 * sum(s for _, _, s in chars) / len(chars), 2)
    words.append(Word(unicodedata.normalize("NFKC", "".join(c for c, _, _ in chars)), bbox, conf, line, line))
