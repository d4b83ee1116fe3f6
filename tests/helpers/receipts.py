"""SROIE-like receipts for the page-view tests and benchmark: tall, narrow thermal-printer pages.

Each receipt is a PNG drawn with a monospaced font and its page task, with one token per word and
the word's drawn box, so which words a test leaves out (the ones "OCR missed") is exact.
"""

from __future__ import annotations

import hashlib
import random
import re
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
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
    font = ImageFont.truetype(FONT, size)
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
