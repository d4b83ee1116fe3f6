"""Synthetic receipts for the demo: digital PDFs (text layer), scanned pages (OCR), and a few labelled.

    python -m vnerteach.samples.receipts samples/                        # three receipts
    python -m vnerteach.samples.receipts samples/ --count 24 --labelled 6  # the demo: labelled + to annotate

With ``--labelled N`` the first N receipts (digital) go to ``FOLDER/labelled/`` with their complete
annotations in ``FOLDER/labelled.jsonl`` (standing in for a few receipts labelled by hand: the
generator knows their fields), and the others to ``FOLDER/to-annotate/``.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

SHOPS = [("ACME Hardware Ltd", "12 Mill Road, Leeds LS1 4AB"), ("Blue Fern Cafe", "3 Harbour Street, Bristol BS1 5TT"),
         ("Northwind Books", "88 King Street, York YO1 9XL"), ("Corner Grocers", "7 Station Square, Bath BA1 1JA"),
         ("Riverside Pharmacy", "41 Bridge Street, Chester CH1 1NG"), ("Oak & Ivy Florists", "5 Market Place, Ely CB7 4NP")]
ITEMS = [("Hammer", 12.99), ("Box of nails", 3.49), ("Flat white", 3.10), ("Croissant", 2.40), ("Paperback", 8.99),
         ("Notebook", 4.50), ("Apples 1kg", 2.20), ("Olive oil", 6.75), ("Tape measure", 7.25), ("Sparkling water", 1.30)]
LABELS = ("COMPANY", "ADDRESS", "DATE", "TOTAL")


@dataclass
class Receipt:
    """One receipt page: its printed lines and the value of each field as printed."""

    lines: list[str]
    fields: dict[str, str]


def make_receipt(rng: random.Random, number: int) -> Receipt:
    """The lines of one receipt (shop, address, date, items, total) and its fields."""
    shop, address = SHOPS[number % len(SHOPS)]
    items = rng.sample(ITEMS, rng.randint(2, 4))
    total = f"{sum(price for _, price in items):.2f}"
    date = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    lines = [shop, address, f"Date {date}  Receipt No. {1000 + number}", ""] + [
        f"{name:<20} {price:>8.2f}" for name, price in items] + ["", f"TOTAL GBP {total:>12}"]
    return Receipt(lines, {"COMPANY": shop, "ADDRESS": address, "DATE": date, "TOTAL": total})


def _page(doc, lines: list[str]) -> None:
    page = doc.new_page(width=300, height=420)
    y = 40
    for i, line in enumerate(lines):
        page.insert_text((24, y), line, fontsize=13 if i == 0 else 10, fontname="cour")
        y += 22 if i == 0 else 16


def _digital(path: Path, receipts: list[Receipt]) -> None:
    import pymupdf

    doc = pymupdf.open()
    for receipt in receipts:
        _page(doc, receipt.lines)
    doc.save(path)


def _scanned(path: Path, receipt: Receipt) -> None:
    """A slightly rotated, noisy 200-dpi scan of the receipt, as a PNG."""
    import pymupdf
    from PIL import Image, ImageFilter

    doc = pymupdf.open()
    _page(doc, receipt.lines)
    pix = doc[0].get_pixmap(dpi=200, colorspace=pymupdf.csGRAY)
    scan = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    noise = Image.effect_noise(scan.size, 18).point(lambda v: 255 if v > 250 else v)
    scan = Image.blend(scan, noise.filter(ImageFilter.MinFilter(1)), 0.12)
    scan = scan.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    scan.save(path, dpi=(200, 200))


def make_samples(folder: Path, seed: int = 7, count: int = 3, *, first: int = 1,
                 scans: bool = True) -> dict[Path, list[Receipt]]:
    """Write ``count`` receipts numbered from ``first`` into ``folder``: digital PDFs (the second of two
    pages), every third a scan unless ``scans`` is false. Returns each file with its pages' receipts.

    A file already there is kept as it is: a page is known by its file's bytes (``sha256:...#page=n``),
    so writing it again would make its pages new questions and import the labelled ones twice.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[Path, list[Receipt]] = {}
    for number in range(first, first + count):
        if scans and number % 3 == 0:
            receipt = make_receipt(rng, number)
            path = folder / f"receipt-{number:02d}-scanned.png"
            if not path.exists():
                _scanned(path, receipt)
            made[path] = [receipt]
        else:
            receipts = [make_receipt(rng, number * 10 + page) for page in range(2 if number == 2 else 1)]
            path = folder / f"receipt-{number:02d}-digital.pdf"
            if not path.exists():
                _digital(path, receipts)
            made[path] = receipts
    return made


def labelled_tasks(made: dict[Path, list[Receipt]], cache_dir: Path) -> list[dict]:
    """Page tasks of these files (read as the recipes read them, pages cached in cache_dir) with every field as an
    accepted span."""
    from vnerteach.documents import DocumentOptions, iter_documents, page_task
    from vnerteach.tasks import set_hashes

    pages = [receipt for receipts in made.values() for receipt in receipts]
    tasks = []
    for receipt, result in zip(pages, iter_documents(list(made), DocumentOptions(workers=1, cache_dir=str(cache_dir)))):
        task = page_task(result)
        task["spans"] = [span for label, value in receipt.fields.items()
                         if (span := _field_span(task, label, value)) is not None]
        task.update(answer="accept", _view_id="ner_manual")
        tasks.append(set_hashes(task))
    return tasks


def _field_span(task: dict, label: str, value: str) -> dict | None:
    """The span of the last place ``value`` is printed on the page, if it falls on token boundaries."""
    from vnerteach.errors import TaskError
    from vnerteach.tasks import span_tokens

    start = task["text"].rfind(value)
    if start < 0:
        return None
    span = {"start": start, "end": start + len(value), "label": label}
    try:
        first, last = span_tokens(span, task["text"], task["tokens"])
    except TaskError:
        return None
    return {**span, "token_start": first, "token_end": last}


def main(argv: list[str] | None = None) -> None:
    """Write the sample receipts into a folder (and a few labelled ones) and print their paths."""
    from vnerteach.paths import page_cache_dir

    parser = argparse.ArgumentParser(prog="python -m vnerteach.samples.receipts",
                                     description="Write synthetic receipts (digital PDFs and scans) for the demo.")
    parser.add_argument("folder", nargs="?", default="samples", type=Path, help="where to write them (default: samples)")
    parser.add_argument("--count", type=int, default=3, help="how many receipts to write (default: 3)")
    parser.add_argument("--labelled", type=int, default=0, metavar="N",
                        help="put the first N in FOLDER/labelled/ with their annotations in FOLDER/labelled.jsonl, "
                             "the others in FOLDER/to-annotate/")
    args = parser.parse_args(argv)
    if not 0 <= args.labelled < args.count:
        parser.error(f"--labelled must be from 0 to {args.count - 1} (one less than --count)")
    if not args.labelled:
        for path in make_samples(args.folder, count=args.count):
            print(path)
        return
    labelled = make_samples(args.folder / "labelled", count=args.labelled, scans=False)
    rest = make_samples(args.folder / "to-annotate", seed=8, count=args.count - args.labelled, first=args.labelled + 1)
    with open(args.folder / "labelled.jsonl", "w", encoding="utf8") as f:
        for task in labelled_tasks(labelled, page_cache_dir()):
            f.write(json.dumps(task, ensure_ascii=False) + "\n")
    print(f"{len(labelled)} labelled receipts in {args.folder / 'labelled'} (annotations: "
          f"{args.folder / 'labelled.jsonl'}), {len(rest)} to annotate in {args.folder / 'to-annotate'}")

if __name__ == "__main__":
    main()
