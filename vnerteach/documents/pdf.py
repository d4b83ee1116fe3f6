"""PDF pages with PyMuPDF: open (with a password), words of the text layer, and rendering."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..errors import InputError
from .results import Word


@cache
def mupdf():
    """pymupdf, with MuPDF's own messages sent to stderr: stdout may be carrying JSONL (``ocr | db-in``)."""
    import pymupdf

    pymupdf.set_messages(fd=2)
    return pymupdf


def mupdf_messages() -> str:
    """What MuPDF reported since the last call (errors and warnings), for a failure record."""
    pymupdf = mupdf()
    text = pymupdf.TOOLS.mupdf_warnings()
    pymupdf.TOOLS.reset_mupdf_warnings()
    return " ".join(text.split("\n")[:3]) if text else ""


def open_pdf(path: Path, password: str | None = None):
    """An open pymupdf Document; InputError for a damaged file or a missing or wrong password."""
    pymupdf = mupdf()
    mupdf_messages()
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # pymupdf raises FileDataError, RuntimeError, ValueError ... for bad files
        raise InputError(f"cannot open the PDF: {e}", path) from None
    if doc.needs_pass:
        if password is None:
            doc.close()
            raise InputError("encrypted PDF: give its password with --password", path)
        if not doc.authenticate(password):
            doc.close()
            raise InputError("encrypted PDF: the password given is wrong", path)
    if doc.page_count == 0:
        doc.close()
        raise InputError("the PDF has no pages", path)
    return doc


def pixel_size(page, dpi: float) -> tuple[int, int]:
    """Width and height in pixels of the page rendered at dpi (exactly what get_pixmap makes)."""
    pymupdf = mupdf()

    irect = (page.rect * pymupdf.Matrix(dpi / 72, dpi / 72)).irect
    return irect.width, irect.height


def text_words(page, dpi: float) -> list[Word]:
    """The words of the page's text layer in reading order, boxed in pixels of the page at dpi."""
    raw = page.get_text("words")
    raw.sort(key=lambda w: (w[5], w[6], w[7]))
    scale = dpi / 72
    m = page.rotation_matrix
    rotated = page.rotation % 360 != 0
    words: list[Word] = []
    line, last = -1, None
    for x0, y0, x1, y1, text, block, line_no, _ in raw:
        if rotated:  # text coordinates are of the unrotated page; pixels are of the rotated one
            ax, ay = x0 * m.a + y0 * m.c + m.e, x0 * m.b + y0 * m.d + m.f
            bx, by = x1 * m.a + y1 * m.c + m.e, x1 * m.b + y1 * m.d + m.f
            x0, x1, y0, y1 = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        if (block, line_no) != last:
            line, last = line + 1, (block, line_no)
        words.append(Word(text, (round(x0 * scale), round(y0 * scale), round(x1 * scale), round(y1 * scale)),
                          None, block, line))
    return words


def render(page, dpi: float):
    """The page rendered at dpi as a Pillow image: mode L when the page has no colour, else RGB."""
    import numpy as np
    from PIL import Image

    pix = page.get_pixmap(dpi=dpi, alpha=False)
    rgb = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return Image.fromarray(np.ascontiguousarray(rgb[..., 0]), "L")  # a grey scan: a third of the bytes
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
