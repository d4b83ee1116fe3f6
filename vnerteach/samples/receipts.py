"""Synthetic receipts for the demo: digital PDFs (text layer) and a scanned page (image, OCR needed).

    python -m vnerteach.samples.receipts samples/
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SHOPS = [("ACME Hardware Ltd", "12 Mill Road, Leeds LS1 4AB"), ("Blue Fern Cafe", "3 Harbour Street, Bristol BS1 5TT"),
         ("Northwind Books", "88 King Street, York YO1 9XL"), ("Corner Grocers", "7 Station Square, Bath BA1 1JA")]
ITEMS = [("Hammer", 12.99), ("Box of nails", 3.49), ("Flat white", 3.10), ("Croissant", 2.40), ("Paperback", 8.99),
         ("Notebook", 4.50), ("Apples 1kg", 2.20), ("Olive oil", 6.75), ("Tape measure", 7.25), ("Sparkling water", 1.30)]


def receipt_lines(rng: random.Random, number: int) -> list[str]:
    """The text lines of one receipt: shop, address, date, items, total."""
    shop, address = SHOPS[number % len(SHOPS)]
    items = rng.sample(ITEMS, rng.randint(2, 4))
    total = sum(price for _, price in items)
    date = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    return [shop, address, f"Date {date}  Receipt No. {1000 + number}", ""] + [
        f"{name:<20} {price:>8.2f}" for name, price in items] + ["", f"TOTAL GBP {total:>12.2f}"]


def _page(doc, lines: list[str]) -> None:
    page = doc.new_page(width=300, height=420)
    y = 40
    for i, line in enumerate(lines):
        page.insert_text((24, y), line, fontsize=13 if i == 0 else 10, fontname="cour")
        y += 22 if i == 0 else 16


def make_samples(folder: Path, seed: int = 7) -> list[Path]:
    """Write two digital receipts (one of two pages) and one scanned receipt into ``folder``."""
    import pymupdf
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number, pages in ((1, 1), (2, 2)):
        doc = pymupdf.open()
        for page in range(pages):
            _page(doc, receipt_lines(rng, number * 10 + page))
        path = folder / f"receipt-{number}-digital.pdf"
        doc.save(path)
        made.append(path)
    doc = pymupdf.open()
    _page(doc, receipt_lines(rng, 3))
    pix = doc[0].get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    scan = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    noise = Image.effect_noise(scan.size, 18).point(lambda v: 255 if v > 250 else v)
    scan = Image.blend(scan, noise.filter(ImageFilter.MinFilter(1)), 0.12)
    scan = scan.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    path = folder / "receipt-3-scanned.png"
    scan.save(path, dpi=(200, 200))
    made.append(path)
    return made


def main(argv: list[str] | None = None) -> None:
    """Write the sample receipts into a folder and print their paths."""
    parser = argparse.ArgumentParser(prog="python -m vnerteach.samples.receipts",
                                     description="Write synthetic receipts (digital PDFs and a scan) for the demo.")
    parser.add_argument("folder", nargs="?", default="samples", type=Path, help="where to write them (default: samples)")
    args = parser.parse_args(argv)
    for made in make_samples(args.folder):
        print(made)


if __name__ == "__main__":
    main()
