"""Generated documents for the documents tests: digital PDFs written with PyMuPDF, scans made with Pillow."""

from __future__ import annotations

import random
from pathlib import Path

VOCAB = ("invoice total amount payment account customer number order date balance service delivery "
         "address company office market report summary budget review project contract receipt table "
         "window garden river mountain station library museum hospital airport harbour village "
         "morning evening winter summer yellow purple silver orange").split()
NUMBERS = ("2024", "1850", "399", "72", "4711", "12345", "808", "61")
FONT = "helv"


def lines_of_words(seed: int, lines: int, per_line: int) -> list[list[str]]:
    """Deterministic lines of real words (and a few numbers), good for OCR."""
    rng = random.Random(seed)
    pool = VOCAB + list(NUMBERS)
    return [[rng.choice(pool) for _ in range(per_line)] for _ in range(lines)]


def write_lines(page, lines: list[list[str]], x0: float = 72, y0: float = 100, leading: float = 22,
                fontsize: float = 12) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Write words one by one on a page; the box of each as written (points, font ascender to descender)."""
    import pymupdf

    font = pymupdf.Font(FONT)
    space = font.text_length(" ", fontsize=fontsize)
    written = []
    for i, line in enumerate(lines):
        baseline, x = y0 + i * leading, x0
        for word in line:
            page.insert_text((x, baseline), word, fontname=FONT, fontsize=fontsize)
            width = font.text_length(word, fontsize=fontsize)
            written.append((word, (x, baseline - font.ascender * fontsize, x + width,
                                   baseline - font.descender * fontsize)))
            x += width + space
    return written


def digital_pdf(path: Path, pages: int = 3, lines: int = 6, per_line: int = 7) -> list[list]:
    """A multi-page PDF with a text layer; the words written on each page with their boxes in points."""
    import pymupdf

    doc = pymupdf.open()
    written = []
    for n in range(pages):
        page = doc.new_page(width=612, height=792)
        written.append(write_lines(page, lines_of_words(n, lines, per_line)))
    doc.save(path)
    doc.close()
    return written


def render_gray(page, dpi: int):
    """A PDF page rendered by PyMuPDF as a Pillow grey image."""
    import pymupdf
    from PIL import Image

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def ink_box(clean, box: tuple[float, float, float, float], pad: int = 3) -> tuple[int, int, int, int]:
    """The tight box of the dark pixels of a clean rendering inside a word's box (pixels)."""
    import numpy as np

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    region = np.asarray(clean.crop((x0, y0, x1 + pad, y1 + pad))) < 128
    ys, xs = np.nonzero(region)
    return x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1


def degrade(clean, angle: float, seed: int = 0, sigma: float = 14.0):
    """A 'scan' of a clean page with Pillow and NumPy: rotated by angle degrees, grey noise, speckle."""
    import numpy as np
    from PIL import Image

    rotated = clean.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)
    rng = np.random.default_rng(seed)
    a = np.asarray(rotated, dtype=np.float64) + rng.normal(0, sigma, rotated.size[::-1])
    speckle = rng.random(a.shape) < 0.001
    a[speckle] = 0
    return Image.fromarray(a.clip(0, 255).astype(np.uint8), "L")


def scanned_page(dpi: int = 200, angle: float = 2.0, seed: int = 7, lines: int = 14, per_line: int = 7):
    """A degraded scan of a generated page, and its true words with tight boxes in the scan's unrotated pixels."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    written = write_lines(page, lines_of_words(seed, lines, per_line), y0=110, leading=26, fontsize=13)
    clean = render_gray(page, dpi)
    doc.close()
    scale = dpi / 72
    truth = [(w, ink_box(clean, tuple(v * scale for v in box))) for w, box in written]
    return degrade(clean, angle, seed), truth


def image_only_pdf(path: Path, images, dpi: int = 200) -> None:
    """A PDF whose pages are only images (no text layer), each filling a letter page."""
    import io

    import pymupdf

    doc = pymupdf.open()
    for image in images:
        page = doc.new_page(width=612, height=792)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        page.insert_image(page.rect, stream=buf.getvalue())
    doc.save(path)
    doc.close()


def iou(a, b) -> float:
    """Intersection over union of two [x0, y0, x1, y1] boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def word_recall(found: list[str], truth: list[str]) -> float:
    """Share of true words found (multiset match on exact text)."""
    from collections import Counter

    got, want = Counter(found), Counter(truth)
    return sum(min(n, got[w]) for w, n in want.items()) / max(1, sum(want.values()))


def text_image(text_lines: list[str], size=(900, 300), fontsize: float = 14, dpi: int = 150):
    """A small clean grey image (size in pixels) of a few lines of text, rendered through PyMuPDF."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=size[0] * 72 / dpi, height=size[1] * 72 / dpi)
    write_lines(page, [line.split() for line in text_lines], x0=12, y0=12 + fontsize, leading=fontsize * 1.6,
                fontsize=fontsize)
    image = render_gray(page, dpi)
    doc.close()
    return image


def faint_receipt(path, lightest: int = 225, noise: float = 6.0, seed: int = 2):
    """A thermal-print-like scan: very light grey text on white with sensor noise, which plain OCR reads nothing from."""
    import numpy as np
    from PIL import Image

    ink = np.asarray(text_image(["TOTAL 12.50 CASH 20.00", "CHANGE 7.50 THANK YOU"], size=(700, 200), fontsize=12,
                                dpi=150).convert("L")).astype(float)
    faint = lightest + ink / 255.0 * (255 - lightest) + np.random.default_rng(seed).normal(0, noise, ink.shape)
    Image.fromarray(np.clip(faint, 0, 255).astype("uint8")).save(path)
    return path


TTF = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = ["INVOICE NUMBER 20417 DATED MARCH", "DELIVERY ADDRESS HARBOUR STREET", "QUANTITY ORDERED TWELVE BOXES",
         "PAYMENT RECEIVED WITH THANKS", "TOTAL AMOUNT DUE 148.50 EUROS", "CUSTOMER SERVICE TELEPHONE 5550199"]


def drawn_page(path, lines=LINES, size=(900, 520), fontsize=30, turned_ccw: int = 0):
    """A clean white page of text drawn with DejaVu Sans, turned counter-clockwise by turned_ccw degrees (Pillow)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(TTF, fontsize)
    for i, line in enumerate(lines):
        draw.text((30, 30 + i * fontsize * 1.6), line, font=font, fill=0)
    image.rotate(turned_ccw, expand=True).save(path)
    return path
