"""Synthetic pages for the benches: digital PDFs and scans (PyMuPDF, Pillow), SROIE-like receipts with exact boxes.

A copy of the helpers of tests/doc_fixtures.py and tests/receipt_fixtures.py that the benches use (benches
do not import from tests/).
"""

from __future__ import annotations

import hashlib
import random
import re
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

VOCAB = ("invoice total amount payment account customer number order date balance service delivery "
         "address company office market report summary budget review project contract receipt table "
         "window garden river mountain station library museum hospital airport harbour village "
         "morning evening winter summer yellow purple silver orange").split()
NUMBERS = ("2024", "1850", "399", "72", "4711", "12345", "808", "61")
PDF_FONT = "helv"


def lines_of_words(seed: int, lines: int, per_line: int) -> list[list[str]]:
    """Deterministic lines of real words (and a few numbers), good for OCR."""
    rng = random.Random(seed)
    pool = VOCAB + list(NUMBERS)
    return [[rng.choice(pool) for _ in range(per_line)] for _ in range(lines)]


def write_lines(page, lines: list[list[str]], x0: float = 72, y0: float = 100, leading: float = 22,
                fontsize: float = 12) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Write words one by one on a page; the box of each as written (points, font ascender to descender)."""
    import pymupdf

    font = pymupdf.Font(PDF_FONT)
    space = font.text_length(" ", fontsize=fontsize)
    written = []
    for i, line in enumerate(lines):
        baseline, x = y0 + i * leading, x0
        for word in line:
            page.insert_text((x, baseline), word, fontname=PDF_FONT, fontsize=fontsize)
            width = font.text_length(word, fontsize=fontsize)
            written.append((word, (x, baseline - font.ascender * fontsize, x + width,
                                   baseline - font.descender * fontsize)))
            x += width + space
    return written


def render_gray(page, dpi: int):
    """A PDF page rendered by PyMuPDF as a Pillow grey image."""
    import pymupdf
    from PIL import Image

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


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


PAGE_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
RECEIPT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
AMOUNT = re.compile(r"^\d+\.\d\d$")
COMPANIES = ["SYARIKAT PERNIAGAAN GIN KEE", "MR. D.I.Y. (M) SDN BHD", "BOOK TA .K (TAMAN DAYA) SDN BHD",
             "GARDENIA BAKERIES (KL) SDN BHD", "UNIHAKKA INTERNATIONAL SDN BHD", "OJC MARKETING SDN BHD"]
STREETS = ["NO 290, JALAN AIR PANAS,", "LOT 1851-A & 1851-B, JALAN KPB 6,", "NO.5 55,57 & 59, JALAN SAGU 18,",
           "12, JALAN TAMPOI 7/4,", "NO 2 & 4, JALAN BAYU 4,"]
TOWNS = ["SETAPAK, 53200 KUALA LUMPUR.", "43300 SERI KEMBANGAN, SELANGOR", "81200 JOHOR BAHRU, JOHOR",
         "40150 SHAH ALAM, SELANGOR"]
ITEMS = ["WOOD SCREW 1\"", "PVC PIPE 20MM", "KOPI O", "ROTI BAKAR", "NASI LEMAK", "TEH TARIK", "A4 PAPER 70G",
         "GLUE STICK", "BATTERY AA 4S", "EXTENSION CORD", "HAND SOAP", "MINERAL WATER", "CABLE TIE 8\""]


def receipt_lines(rng: random.Random) -> tuple[list[str], dict[str, str]]:
    """The lines of one receipt and its fields (COMPANY, ADDRESS, DATE, TOTAL) as they are printed."""
    width = 42
    company = rng.choice(COMPANIES)
    street, town = rng.choice(STREETS), rng.choice(TOWNS)
    date = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2018"
    items = [(rng.choice(ITEMS), rng.randint(1, 4), rng.randint(100, 3000) / 100) for _ in range(rng.randint(4, 14))]
    total = round(sum(q * p for _, q, p in items), 2)
    cash = float(int(total) + rng.choice((1, 5, 10, 20)))
    center = lambda s: s.center(width).rstrip()  # noqa: E731
    row = lambda a, b: f"{a}{b:>{width - len(a)}}"  # noqa: E731
    lines = [center(company), center(f"(CO. REG. {rng.randint(10000, 999999)}-{rng.choice('ADHKU')})"),
             center(street), center(town), center(f"TEL: 03-{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"),
             center(f"GST ID: 000{rng.randint(100000000, 999999999)}"), "", center("TAX INVOICE"), "",
             row(f"INVOICE NO: CS{rng.randint(10000, 99999)}", f"DATE: {date}"), "CASHIER: USER", "-" * width,
             row("ITEM", "QTY   AMOUNT")]
    lines += [row(name, f"{q}   {q * p:.2f}") for name, q, p in items]
    lines += ["-" * width, row("TOTAL SALES (EXCL GST):", f"{total / 1.06:.2f}"),
              row("GST @6%:", f"{total - total / 1.06:.2f}"), row("ROUNDING:", "0.00"), "",
              row("TOTAL:", f"{total:.2f}"), row("CASH:", f"{cash:.2f}"), row("CHANGE:", f"{cash - total:.2f}"), "",
              center("THANK YOU. PLEASE COME AGAIN."), center("GOODS SOLD ARE NOT RETURNABLE")]
    fields = {"COMPANY": company, "ADDRESS": f"{street} {town}", "DATE": date, "TOTAL": f"{total:.2f}"}
    return lines, fields


def receipt(seed: int, folder: Path, *, missing=None, conf_seed: int | None = None, size: int = 17,
            leading: float = 1.5) -> dict:
    """A receipt's page task; its PNG is ``folder/<image_key>.png``. ``task["fields"]`` holds one span per field,
    ``task["lines"]`` the printed line of each token (``page_of`` leaves both out).

    ``leading`` is the line height in font sizes (1.5 leaves room between lines, 1.1 almost none).
    Words for which ``missing(word)`` is true are drawn but get no token (as if OCR had dropped them);
    ``conf_seed`` gives each token an OCR confidence in ``meta.conf`` (about one in eight under 50).
    """
    rng = random.Random(seed)
    lines, fields = receipt_lines(rng)
    font = ImageFont.truetype(RECEIPT_FONT, size)
    char_w = font.getlength("M")
    line_h = round(size * leading)
    margin = 28
    width = round(42 * char_w + 2 * margin)
    height = 2 * margin + line_h * len(lines)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    tokens, words = [], []
    for li, line in enumerate(lines):
        y = margin + li * line_h
        for m in re.finditer(r"\S+", line):
            x = margin + m.start() * char_w
            draw.text((x, y), m.group(), fill=0, font=font)
            if missing is not None and missing(m.group()):
                continue
            x0, y0, x1, y1 = draw.textbbox((x, y), m.group(), font=font)
            words.append((m.group(), [round(x0) - 2, round(y0) - 3, round(x1) + 2, round(y1) + 3], li))
    offset = 0
    for i, (word, box, _) in enumerate(words):
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": i, "ws": i < len(words) - 1,
                       "bbox": box})
        offset += len(word) + 1
    text = " ".join(w for w, _, _ in words)
    png = BytesIO()
    image.save(png, format="PNG")
    sha = hashlib.sha256(png.getvalue()).hexdigest()
    key = hashlib.sha256(f"{sha}:1".encode()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.png").write_bytes(png.getvalue())
    meta = {"path": str(folder / f"receipt-{seed}.png"), "page": 1, "pages": 1, "dpi": 200, "ocr": True,
            "image_key": key}
    if conf_seed is not None:
        crng = random.Random(conf_seed)
        meta["conf"] = [round(crng.uniform(10, 49), 1) if crng.random() < 0.125 else round(crng.uniform(80, 97), 1)
                        for _ in tokens]
    task = {"text": text, "tokens": tokens, "width": width, "height": height,
            "image": f"sha256:{sha}#page=1", "meta": meta}
    task["fields"] = {label: span for label, value in fields.items()
                      if (span := find_span(task, value, label)) is not None}
    task["lines"] = [li for _, _, li in words]
    return task


def find_span(task: dict, value: str, label: str) -> dict | None:
    """The span of the tokens spelling ``value`` (the last such run: a TOTAL comes after the subtotals)."""
    want = value.split()
    tokens = task["tokens"]
    found = None
    for i in range(len(tokens) - len(want) + 1):
        if [t["text"] for t in tokens[i:i + len(want)]] == want:
            found = i
    if found is None:
        return None
    last = found + len(want) - 1
    return {"start": tokens[found]["start"], "end": tokens[last]["end"], "token_start": found, "token_end": last,
            "label": label}


def question(task: dict, label: str, score: float = 0.5) -> dict:
    """A binary ner.teach-style question about one of the receipt's fields."""
    out = page_of(task)
    out["spans"] = [{**task["fields"][label], "score": score}]
    return out


def page_of(task: dict) -> dict:
    """The page task alone, without the test's field spans and line numbers."""
    return {k: v for k, v in task.items() if k not in ("fields", "lines")}


def _font(size: int):
    try:
        return ImageFont.truetype(PAGE_FONT, size)
    except OSError:
        return ImageFont.load_default()


def page_task(lines: list[str], folder: Path, page: int = 1, pages: int = 1, name: str = "scan.png",
              width: int = 1000, line_height: int = 56, size: int = 30) -> dict:
    """A page task like the documents engine makes: a PNG (saved as ``folder/<image_key>.png``) and boxed tokens."""
    height = 80 + line_height * max(1, len(lines)) + 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(size)
    tokens, offset = [], 0
    words = [(li, w) for li, line in enumerate(lines) for w in line.split()]
    x = 60
    for n, (li, word) in enumerate(words):
        if n and words[n - 1][0] != li:
            x = 60
        y = 60 + li * line_height
        draw.text((x, y), word, fill="black", font=font)
        x0, y0, x1, y1 = draw.textbbox((x, y), word, font=font)
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": n, "ws": n != len(words) - 1,
                       "bbox": [x0 - 2, y0 - 3, x1 + 2, y1 + 3]})
        offset += len(word) + 1
        x = x1 + size // 2
    png = BytesIO()
    image.save(png, format="PNG")
    sha = hashlib.sha256(png.getvalue() + name.encode()).hexdigest()
    key = hashlib.sha256(f"{sha}:{page}".encode()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.png").write_bytes(png.getvalue())
    return {"text": " ".join(w for _, w in words), "tokens": tokens, "width": width, "height": height,
            "image": f"sha256:{sha}#page={page}",
            "meta": {"path": str(folder / name), "page": page, "pages": pages, "dpi": 300, "ocr": False,
                     "image_key": key}}
