"""RapidOCR (PP-OCR models in ONNX, the optional extra `vnerteach[rapidocr]`): the words of a page image."""

from __future__ import annotations

import functools

from ..errors import DependencyError, InputError
from .lines import Char, Line, even_chars, ink_of, words_from_lines
from .results import Word

INSTALL_HINT = "install it with `pip install 'vnerteach[rapidocr]'`, or use --ocr-engine tesseract"


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
    from PIL import Image

    if isinstance(image, str):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    else:
        image = image.convert("RGB")
    try:
        found, _ = load_engine()(np.asarray(image), return_word_box=True)
    except DependencyError:
        raise
    except Exception as e:  # onnxruntime and OpenCV raise their own types
        raise InputError(f"RapidOCR failed: {str(e).strip()[:300]}", path or "image", page=page) from None
    return words_from_lines([line_of(*item) for item in found or []], ink_of(image))


def line_of(box, text: str, score: float, *rest) -> Line:
    """A Line from one of RapidOCR's results: box, text, score and (with word boxes) character boxes, characters, scores."""
    bbox = (min(p[0] for p in box), min(p[1] for p in box), max(p[0] for p in box), max(p[1] for p in box))
    if len(rest) == 3 and rest[0]:
        char_boxes, chars, scores = rest
        return Line(bbox, [Char(c, (min(p[0] for p in b), min(p[1] for p in b), max(p[0] for p in b),
                                    max(p[1] for p in b)), float(s)) for c, b, s in zip(chars, char_boxes, scores)])
    return Line(bbox, even_chars(bbox, text, float(score)))
