"""Upright pages: which way a scanned page is turned, found by reading it, and the page read that way.

A rotation is the number of degrees (0, 90, 180, 270) the page image was turned clockwise to read it.
The page is first read as it is (the read it needs anyway): when it yields at least MIN_GOOD clearly
read words (confidence >= GOOD_CONF, three letters in a row) lying flat, it is upright, at no extra
cost. Otherwise the other turns are read in turn until one reads well: first 270 when the clear words
stand on end (Tesseract reads a page turned clockwise, sideways), then the turn Tesseract's orientation
detection (OSD, on a copy of at most OSD_SIDE pixels) suggests, then the rest. When none reads well,
the turn with clearly more flat clear words than the page as it is wins, else the page stays as it is.
OSD alone is no judge: on receipts it fails ("Too few characters") or errs with a confidence as high
as when it is right (bench/RESULTS.md, "Issue 22: upright pages").
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import Callable

ROTATIONS = (0, 90, 180, 270)
GOOD_CONF = 80.0
MIN_GOOD = 8
CLEAR_SHARE = 0.2  # of all words read: upside down, receipts still give ~9 "clear" words of 120-180 (5-7%)
OSD_SIDE = 2000
SKEW_MIN = 0.5  # degrees: straighten() leaves a smaller skew alone (measured, not used by default: see RESULTS)
_CLEAR = re.compile(r"[^\W\d_]{3}")  # three letters: digits 0, 1, 6, 8, 9 still read as digits upside down

SOURCES = ("read", "osd", "unsure", "annotator")
"""How a rotation was chosen: the page read well that way (read; osd: the turn OSD suggested), no turn
read well so the page was kept as it is (unsure), or an annotator turned it (annotator)."""


def check_rotation(value: object) -> int:
    """A rotation as 0, 90, 180 or 270; ValueError otherwise."""
    if type(value) is not int or value not in ROTATIONS:
        raise ValueError(f"a rotation is 0, 90, 180 or 270 degrees, not {str(value)[:40]!r}")
    return value


def turn(image, rotation: int):
    """The image turned clockwise by rotation degrees (a multiple of 90: no pixel is lost or blurred)."""
    from PIL import Image

    if rotation == 0:
        return image
    return image.transpose({90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                            270: Image.Transpose.ROTATE_90}[check_rotation(rotation)])


def straighten(image) -> tuple[object, float]:
    """The image with a skew of SKEW_MIN degrees or more corrected, and the skew (0.0 when left alone)."""
    from PIL import Image

    from .preprocess import estimate_skew

    skew = estimate_skew(image)
    if abs(skew) < SKEW_MIN:
        return image, 0.0
    white = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(-skew, resample=Image.BICUBIC, expand=False, fillcolor=white), skew


def clear_words(words) -> tuple[int, int]:
    """Words read clearly (confidence >= GOOD_CONF, three letters in a row): how many lie flat, how many stand on end."""
    flat = on_end = 0
    for w in words:
        if w.conf is None or w.conf < GOOD_CONF or not _CLEAR.search(w.text):
            continue
        x0, y0, x1, y1 = w.bbox
        if y1 - y0 > x1 - x0:
            on_end += 1
        else:
            flat += 1
    return flat, on_end


def reads_upright(words) -> bool:
    """Whether a page's words say it was read upright: enough clear words (MIN_GOOD, and CLEAR_SHARE of the words
    read), most of them flat."""
    flat, on_end = clear_words(words)
    return flat >= max(MIN_GOOD, CLEAR_SHARE * len(words)) and on_end * 3 <= flat


def osd_rotation(image) -> int | None:
    """The clockwise turn Tesseract's OSD suggests for the image (on a copy of at most OSD_SIDE pixels), or None."""
    import pytesseract
    from PIL import Image

    from .ocr import installed_languages

    try:
        if "osd" not in installed_languages():
            return None
        small = image.convert("L")
        factor = OSD_SIDE / max(small.size)
        if factor < 1:
            small = small.resize((max(1, round(small.width * factor)), max(1, round(small.height * factor))),
                                 Image.BILINEAR)
        found = pytesseract.image_to_osd(small, config="--psm 0 -c min_characters_to_try=10", timeout=60,
                                         output_type=pytesseract.Output.DICT)
        rotation = int(found.get("rotate", 0)) % 360
    except Exception:  # "Too few characters", a timeout, no Tesseract: no suggestion
        return None
    return rotation if rotation in ROTATIONS else None


@dataclass
class Upright:
    """A page image read upright: the image, its words, the rotation, how it was chosen, the skew corrected."""

    image: object
    words: list
    rotation: int
    source: str
    skew: float = 0.0
    scale: float = 1.0
    tried: tuple[int, ...] = ()


def read_upright(image, prepare: Callable[[object], tuple[object, float, float]],
                 read: Callable[[str], list], osd: bool = True) -> Upright:
    """Find the turn a page image reads well at and read it so.

    ``prepare(turned) -> (image, skew, scale)`` makes the image to read from a turned page (skew and
    preprocessing); ``read(png_path) -> words`` reads it. OSD is asked only when the page as it is reads badly.
    """
    tried: dict[int, Upright] = {}

    def attempt(rotation: int) -> Upright:
        made, skew, scale = prepare(turn(image, rotation))
        fd, tmp = tempfile.mkstemp(prefix="vnerteach-turn-", suffix=".png")
        os.close(fd)
        try:
            made.save(tmp, format="PNG", compress_level=1)
            words = read(tmp)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        tried[rotation] = Upright(made, words, rotation, "read", skew, scale)
        return tried[rotation]

    first = attempt(0)
    if reads_upright(first.words):
        return _done(first, tried)
    order = [270] if clear_words(first.words)[1] > clear_words(first.words)[0] else []
    hint = osd_rotation(image) if osd else None
    if hint and hint not in order:
        order.append(hint)
    order += [r for r in (90, 180, 270) if r not in order]
    for rotation in order:
        got = attempt(rotation)
        if reads_upright(got.words):
            got.source = "osd" if rotation == hint else "read"
            return _done(got, tried)
    base = clear_words(first.words)[0]
    best = max(tried.values(), key=lambda u: clear_words(u.words)[0])
    if best.rotation != 0 and clear_words(best.words)[0] >= max(3, 2 * base):
        best.source = "osd" if best.rotation == hint else "read"
        return _done(best, tried)
    first.source = "unsure"
    return _done(first, tried)


def _done(chosen: Upright, tried: dict[int, Upright]) -> Upright:
    chosen.tried = tuple(tried)
    return chosen
