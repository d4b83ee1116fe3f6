"""OCR of one region of a page image: the words an annotator boxed because the page's OCR missed them."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .ocr import ocr_words
from .results import Word

TEXT_HEIGHT = 24  # pixels of a row of ink: smaller text is upscaled to it (exact on the receipt benchmark)
MAX_SCALE = 4.0
BORDER = 12  # white pixels around the crop: Tesseract misses glyphs touching the image's edge
MIN_SIDE = 4
MAX_PIXELS = 40_000_000  # of the upscaled crop


def check_box(box: object, width: int, height: int) -> tuple[int, int, int, int]:
    """The box [x0, y0, x1, y1] as whole pixels clipped to the image; InputError if it is not a box on it."""
    if (not isinstance(box, (list, tuple)) or len(box) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e9
                       for v in box)):
        raise InputError("the region must be [x0, y0, x1, y1] in page pixels")
    x0, y0 = max(0, int(min(box[0], box[2]))), max(0, int(min(box[1], box[3])))
    x1, y1 = min(width, int(max(box[0], box[2]) + 0.999)), min(height, int(max(box[1], box[3]) + 0.999))
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        raise InputError(f"the region {list(box)} is not on the {width}x{height} page or too small to read")
    return x0, y0, x1, y1


def text_rows(gray) -> list[int]:
    """Heights of the runs of pixel rows that hold ink (dark pixels), in a greyscale crop."""
    import numpy as np

    a = np.asarray(gray)
    low, high = int(a.min()), int(a.max())
    if high - low < 48:  # no contrast: nothing written here
        return []
    rows = (a < (low + high) / 2).any(axis=1)
    heights, run = [], 0
    for ink in rows:
        if ink:
            run += 1
        elif run:
            heights.append(run)
            run = 0
    if run:
        heights.append(run)
    return [h for h in heights if h > 2]


def ocr_region(image_path: str | Path, box: object, lang: str = "eng") -> list[Word]:
    """The words Tesseract reads inside ``box`` of a page image, with boxes in the page image's pixels.

    The crop is upscaled so its text is about TEXT_HEIGHT pixels high and read as one line
    (``--psm 7``) when it holds one row of ink, as a block (``--psm 6``) otherwise.
    """
    from PIL import Image, ImageOps

    with Image.open(image_path) as image:
        x0, y0, x1, y1 = check_box(box, image.width, image.height)
        crop = image.crop((x0, y0, x1, y1)).convert("L")
    rows = text_rows(crop)
    if not rows:
        return []
    typical = sorted(rows)[len(rows) // 2]
    scale = min(MAX_SCALE, max(1.0, TEXT_HEIGHT / typical))
    if crop.width * crop.height * scale * scale > MAX_PIXELS:
        scale = max(1.0, (MAX_PIXELS / (crop.width * crop.height)) ** 0.5)
    if scale > 1:
        crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.LANCZOS)
    crop = ImageOps.expand(crop, BORDER, fill=255)
    words = ocr_words(crop, lang, str(image_path), config=f"--psm {7 if len(rows) == 1 else 6}")
    return [w._replace(bbox=_to_page(w.bbox, scale, x0, y0, x1, y1)) for w in words]


def _to_page(bbox: tuple, scale: float, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int]:
    """A box in the padded, upscaled crop's pixels as a box in the page's pixels, inside the region."""
    def back(v: float, origin: int, low: int, high: int) -> int:
        return min(high, max(low, origin + round((v - BORDER) / scale)))

    return back(bbox[0], x0, x0, x1), back(bbox[1], y0, y0, y1), back(bbox[2], x0, x0, x1), back(bbox[3], y0, y0, y1)
