"""Benchmark of vnerteach.documents: text-layer speed, OCR scaling and overhead, cache, SROIE recall, memory.

    .venv/bin/python bench/bench_documents.py            # everything (about 10 minutes on 2 cores)
    .venv/bin/python bench/bench_documents.py --sroie 30 # fewer SROIE receipts

Every figure is measured in the same run as its baseline. Corpora are generated into a temporary
directory (SROIE is read from common.data_dir(), never copied); the page cache lives there too.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import sroie_image, sroie_keys, sroie_lines
SROIE_CHOICES = ("", "deskew", "denoise", "binarize", "adaptive", "upscale", "upscale,denoise",
                 "grayscale,upscale,deskew,denoise")


def timed(fn, repeat: int = 1) -> float:
    """The best wall time of fn over repeat runs."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def digital_corpus(path: Path, pages: int, lines: int) -> None:
    """A digital PDF: lines of 10 words per page."""
    import pymupdf
    from tests.helpers.documents import lines_of_words, write_lines

    doc = pymupdf.open()
    template = pymupdf.open()
    write_lines(template.new_page(width=612, height=792), lines_of_words(1, lines, 10), y0=50, leading=17.5,
                fontsize=10)
    for _ in range(pages):
        doc.insert_pdf(template)
    doc.save(path)


def scans(folder: Path, n: int, dpi: int = 200) -> list[Path]:
    """n degraded page scans (PNG, 30 lines of text each, rotated 1 degree, noisy)."""
    import pymupdf
    from tests.helpers.documents import degrade, lines_of_words, render_gray, write_lines

    paths = []
    for i in range(n):
        doc = pymupdf.open()
        page = doc.new_page(width=612, height=792)
        write_lines(page, lines_of_words(100 + i, 30, 9), y0=70, leading=22, fontsize=11)
        path = folder / f"scan{i:03d}.png"
        degrade(render_gray(page, dpi), angle=1.0, seed=i).save(path)
        paths.append(path)
    return paths


def bench_digital(tmp: Path, pages: int) -> list[str]:
    import pymupdf

    from vnerteach.documents import DocumentOptions, iter_pages

    report = []
    for lines in (40, 15):
        path = tmp / f"digital{lines}.pdf"
        digital_corpus(path, pages, lines)
        cache = tmp / "cache-digital"
        cpu = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu[0]})  # one core

        def bare():
            with pymupdf.open(path) as doc:
                for page in doc:
                    page.get_text("words")

        def ours():
            for result in iter_pages(path, DocumentOptions(ocr="auto", workers=1, cache_dir=str(cache))):
                assert not result.ocr and len(result.words) == lines * 10

        try:
            first = timed(ours)
            base, mine = timed(bare, 3), timed(ours, 3)
        finally:
            os.sched_setaffinity(0, set(cpu))
        report += [
            f"digital PDF, {pages} pages x {lines * 10} words, one core:",
            f"  bare PyMuPDF get_text('words') loop : {pages / base:8.1f} pages/s",
            f"  iter_pages (words+boxes, first run) : {pages / first:8.1f} pages/s",
            f"  iter_pages (words+boxes, best of 3) : {pages / mine:8.1f} pages/s  "
            f"= {base / mine:.2f}x the bare loop (targets: >= 0.5x, >= 300 pages/s)",
        ]
    return report


def tesseract_direct(images: list[Path], out: Path) -> float:
    """Seconds to run the tesseract command (TSV output, one thread) on each image in turn."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t = time.perf_counter()
    for i, image in enumerate(images):
        subprocess.run(["tesseract", str(image), str(out / f"direct{i}"), "tsv"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def bench_ocr(tmp: Path, n: int) -> list[str]:
    import pymupdf

    from tests.helpers.documents import image_only_pdf
    from PIL import Image

    from vnerteach.documents import DocumentOptions, iter_documents

    images = scans(tmp, n)
    out = tmp / "tsv"
    out.mkdir()

    def run(paths, workers, cache=False, cache_dir=None, **kw):
        t = time.perf_counter()
        folder = cache_dir or Path(os.environ["VNERTEACH_HOME"]) / "cache"
        results = list(iter_documents(paths, DocumentOptions(workers=workers, cache=cache, cache_dir=str(folder), **kw)))
        assert all(r.ok and r.words for r in results), [str(r) for r in results if not r.ok]
        return time.perf_counter() - t

    direct = tesseract_direct(images, out)
    one = run(images, 1)
    two = run(images, 2, cache=True, cache_dir=tmp / "cache-ocr")
    cached = [run(images, 2, cache=True, cache_dir=tmp / "cache-ocr") for _ in range(5)]

    pdf = tmp / "scans.pdf"
    image_only_pdf(pdf, [Image.open(p) for p in images])
    rendered = []
    with pymupdf.open(pdf) as doc:
        for i, page in enumerate(doc):
            rendered.append(tmp / f"render{i:03d}.png")
            page.get_pixmap(dpi=200).save(rendered[-1])
    direct_pdf = tesseract_direct(rendered, out)
    one_pdf = run([pdf], 1, dpi=200)

    cache_rate = n / statistics.median(cached)
    return [
        f"OCR, {n} scanned pages (200 dpi letter, 30 lines, noise, 1 degree skew), no preprocessing:",
        f"  tesseract command directly (PNG files)  : {direct / n:6.2f} s/page",
        f"  iter_documents, 1 worker (PNG files)    : {one / n:6.2f} s/page  = {one / direct:.3f}x direct "
        f"(target <= 1.15x)",
        f"  tesseract command on the rendered pages : {direct_pdf / n:6.2f} s/page",
        f"  iter_documents, 1 worker (scanned PDF)  : {one_pdf / n:6.2f} s/page  = {one_pdf / direct_pdf:.3f}x "
        f"direct (render + PNG + OCR)",
        f"  pages/s with 1 worker {n / one:.3f}, with 2 workers {n / two:.3f}  = {one / two:.2f}x "
        f"(target >= 1.8x)",
        f"  second run from the cache ({n} pages, median of 5) : {cache_rate:7.1f} pages/s (target >= 200)",
    ]


def sroie_truth(key: str) -> Counter:
    """A receipt's gold words (box/) as alphanumeric upper-case tokens."""
    words = [parts[8] for parts in sroie_lines(key)]
    return Counter(re.findall(r"[0-9A-Z]+", " ".join(words).upper()))


def bench_sroie(limit: int):
    from vnerteach.documents import DocumentOptions, iter_documents

    images = [sroie_image(k) for k in sroie_keys(limit)]
    if not images:
        yield "SROIE: no receipts found"
        return
    truth = {p.stem: sroie_truth(p.stem) for p in images}
    yield (f"SROIE, {len(images)} receipts: OCR word recall vs ground truth (alphanumeric tokens, "
           f"case-insensitive), 2 workers:")
    for choice in SROIE_CHOICES:
        hit = total = 0
        t = time.perf_counter()
        folder = Path(os.environ["VNERTEACH_HOME"]) / "cache"
        for r in iter_documents(images, DocumentOptions(preprocess=choice, cache=False, workers=2, cache_dir=str(folder))):
            assert r.ok, str(r)
            want = truth[Path(r.path).stem]
            got = Counter(re.findall(r"[0-9A-Z]+", " ".join(w.text for w in r.words).upper()))
            hit += sum(min(n, got[w]) for w, n in want.items())
            total += sum(want.values())
        yield (f"  {choice or '(none)':34s} recall {hit / total:.4f}   "
               f"{(time.perf_counter() - t) / len(images):.2f} s/receipt")


def bench_memory(tmp: Path, images: list[Path]) -> list[str]:
    """1,000 pages (980 digital, 20 scanned) in a child process: its peak RSS and its workers'."""
    import pymupdf

    from tests.helpers.documents import lines_of_words, write_lines

    path = tmp / "thousand.pdf"
    doc = pymupdf.open()
    for i in range(1000):
        page = doc.new_page(width=612, height=792)
        if i % 50 == 49:
            page.insert_image(page.rect, filename=str(images[(i // 50) % len(images)]))
        else:
            write_lines(page, lines_of_words(i % 7, 40, 10), y0=50, leading=17.5, fontsize=10)
    doc.save(path)
    doc.close()
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(path), str(tmp / "cache-mem")],
                         check=True, capture_output=True, text=True).stdout.strip()
    return [out]


def memory_child(pdf: str, cache: str) -> None:
    from vnerteach.documents import DocumentOptions, iter_documents

    t = time.perf_counter()
    n = ocr = 0
    for r in iter_documents([pdf], DocumentOptions(workers=2, dpi=200, cache_dir=cache)):
        assert r.ok, str(r)
        n += 1
        ocr += r.ocr
    elapsed = time.perf_counter() - t
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"memory, {n} pages of one PDF ({ocr} OCR'd, 2 workers) in {elapsed:.1f} s: peak RSS main {main:.0f} MB, "
          f"largest worker {child:.0f} MB, main + 2 workers <= {main + 2 * child:.0f} MB (target < 1024 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="digital PDF pages")
    parser.add_argument("--scans", type=int, default=10, help="scanned pages for the OCR figures")
    parser.add_argument("--sroie", type=int, default=150, help="SROIE receipts (0: skip)")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    from vnerteach.documents import tesseract_version

    print(f"# bench_documents: {os.cpu_count()} cores, Tesseract {tesseract_version()}, Python "
          f"{sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["VNERTEACH_HOME"] = str(tmp / "home")
        for line in bench_digital(tmp, args.pages):
            print(line, flush=True)
        for line in bench_ocr(tmp, args.scans):
            if line:
                print(line, flush=True)
        for line in bench_memory(tmp, sorted(tmp.glob("scan*.png"))):
            print(line, flush=True)
    if args.sroie:
        for line in bench_sroie(args.sroie):
            print(line, flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
