"""Lines read by the PP-OCR engines to words: cut at the spaces they read and at the spaces printed between words.

The recognisers of RapidOCR and PP-OCRv5 read a text line at a time and often leave out a space
that is plainly printed ("SELANGORDARULEHSAN", "TOTAL:9.00"). The page itself says where the words
are: a run of paper-only columns across the line wider than a share of its text height is a
space. Such a gap cuts the line at the character boundary it falls on.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from .results import Word

GAP = 0.3
"""A run of empty columns at least this share of the line's text height is a space between words
(bench/bench_ocr_decision.py --gaps: with NUMBER_GAP, the best field ceilings and word recall on SROIE)."""
NUMBER = frozenset("0123456789.,/-:")
NUMBER_GAP = 1.5
"""A gap between two of these, one a digit, is a space only if this many times wider: a tabular '1' or '.'
leaves wide gaps inside amounts ("12.50"), yet a date and a time are apart ("09/03/2018 21:28")."""
NARROW = frozenset("Iil|!'")
"""Letters so narrow that a fixed-width or letter-spaced font leaves wide gaps beside them ("Wor l d"): a gap
beside one is a space only if NUMBER_GAP times wider."""
SPREAD = 2.0
"""A space is also at least this many times the line's typical gap between letters (letter-spaced fonts)."""
CLINGING = frozenset(":;,.)%!?"), frozenset("(")
"""Narrow marks that cling to the word before (after) them, however wide their cell in a fixed-width font."""
VERSION = "gaps3"
"""Names this way of making words, in the OCR cache key: a change here must not reuse cached words."""


class Char(NamedTuple):
    """One character of a line as read: text, box (x0, y0, x1, y1) in page pixels, recogniser score (0-1)."""

    text: str
    box: tuple[float, float, float, float]
    score: float


class Line(NamedTuple):
    """One text line as read: its axis-aligned box in page pixels and its characters in reading order."""

    box: tuple[float, float, float, float]
    chars: list[Char]


def even_chars(box, text: str, score: float) -> list[Char]:
    """Characters of a line read without their places: the box shared evenly between them."""
    x0, y0, x1, y1 = box
    step = (x1 - x0) / max(len(text), 1)
    return [Char(c, (x0 + i * step, y0, x0 + (i + 1) * step, y1), score) for i, c in enumerate(text)]


def ink_of(image):
    """The dark pixels of a page image (Pillow image or path) as a boolean NumPy array, by Otsu's threshold."""
    import numpy as np
    from PIL import Image

    from .preprocess import otsu_threshold

    if isinstance(image, str):
        with Image.open(image) as opened:
            gray = np.asarray(opened.convert("L"))
    else:
        gray = np.asarray(image.convert("L"))
    return gray < otsu_threshold(gray)


def words_from_lines(lines: list[Line], ink=None, gap: float = GAP) -> list[Word]:
    """Words of lines: cut at spaces read, gaps between character boxes and (given the page's ink) spaces printed."""
    words: list[Word] = []
    for number, line in enumerate(lines):
        chars, height = line.chars, line.box[3] - line.box[1]
        cuts = {i for i, c in enumerate(chars) if not c.text.strip()}
        cuts |= {i for i in range(1, len(chars)) if chars[i].box[0] - chars[i - 1].box[2] > gap * height}
        if ink is not None and len(line.chars) > 1:
            cuts |= printed_spaces(line, ink, gap)
        current: list[Char] = []
        for i, char in enumerate(line.chars):
            if i in cuts:
                _flush(words, current, number)
                current = []
            if char.text.strip():
                current.append(char)
        _flush(words, current, number)
    return words


def printed_spaces(line: Line, ink, gap: float = GAP) -> set[int]:
    """Indices of the characters a printed space comes before: one per wide run of empty columns in the line."""
    import numpy as np

    height, width = ink.shape
    x0, y0 = max(0, int(line.box[0])), max(0, int(line.box[1]))
    x1, y1 = min(width, int(round(line.box[2]))), min(height, int(round(line.box[3])))
    band = ink[y0:y1, x0:x1]
    if band.size == 0:
        return set()
    rows = band.sum(axis=1)
    if rows.max() == 0:
        return set()
    text_rows = np.flatnonzero(rows >= 0.03 * rows.max())
    text_height = text_rows[-1] - text_rows[0] + 1
    inked = np.flatnonzero(band[text_rows[0]:text_rows[-1] + 1].any(axis=0))
    if len(inked) < 2 or text_height < 4:
        return set()
    centres = [(c.box[0] + c.box[2]) / 2 for c in line.chars]
    pitch = (centres[-1] - centres[0]) / max(len(centres) - 1, 1)
    cuts: set[int] = set()
    widths = np.diff(inked) - 1
    if not (widths > 0).any():
        return set()
    least = max(gap * text_height, SPREAD * float(np.median(widths[widths > 0])))
    for k in np.flatnonzero(widths >= least):
        middle = x0 + (inked[k] + inked[k + 1]) / 2
        boundary = min(range(1, len(centres)), key=lambda b: abs((centres[b - 1] + centres[b]) / 2 - middle))
        wider = _wider("".join(c.text for c in line.chars[max(0, boundary - 2):boundary]), line.chars[boundary].text)
        if abs((centres[boundary - 1] + centres[boundary]) / 2 - middle) <= max(pitch, 1.0) and \
                widths[k] >= wider * least:
            cuts.add(boundary)
    return cuts


def _wider(before: str, after: str) -> float:
    """How many times wider than a space between words a gap must be to be a space, given the (up to two)
    characters before it and the one after: never inside a decimal ("9.00", "1,250") or at a clinging mark."""
    if after in CLINGING[0] or before[-1:] in CLINGING[1] or (
            len(before) == 2 and before[0].isdigit() and before[1] in ".," and after.isdigit()):
        return float("inf")
    before = before[-1:]
    if before in NUMBER and after in NUMBER and (before.isdigit() or after.isdigit()):
        return NUMBER_GAP
    return NUMBER_GAP if before in NARROW or after in NARROW else 1.0


def unconfuse(text: str) -> str:
    """A word with its zeros and O's as its other characters say: 'C0.', 'N0:', 'INV0ICE' are letters, '1O.50' a number.

    The PP-OCR recognisers read Latin and Chinese with one alphabet and often take one for the other; a
    word is changed only when every other character is of one kind (letters, or digits and marks).
    """
    if "0" in text and not any(c.isdigit() and c != "0" for c in text) and any(c.isalpha() and c.isupper() for c in text) \
            and not any(c.islower() for c in text):
        return text.replace("0", "O")
    if "O" in text and any(c.isdigit() for c in text) and all(c.isdigit() or c in ".,O-/:" for c in text):
        return text.replace("O", "0")
    return text


def _flush(words: list[Word], chars: list[Char], line: int) -> None:
    """Append the word made of chars, if any: its box spans theirs, its confidence their mean (0-100)."""
    if not chars:
        return
    bbox = (int(min(c.box[0] for c in chars)), int(min(c.box[1] for c in chars)),
            int(round(max(c.box[2] for c in chars))), int(round(max(c.box[3] for c in chars))))
    conf = round(100 * sum(c.score for c in chars) / len(chars), 2)
    words.append(Word(unconfuse(unicodedata.normalize("NFKC", "".join(c.text for c in chars))), bbox, conf, line, line))
