"""Issue 22: upright pages and badly read pages. Receipts (SROIE) and forms (FUNSD) turned by 0/90/180/270 degrees
with Pillow are read upright (vnerteach.documents.upright.read_upright, Tesseract): is the turn found, what does
it cost in CPU (this process and Tesseract's) over reading the page as it is, and what do skew correction and the
poor-OCR flag do on the upright pages (skew: each upright page's skew of 0.5 degrees or more straightened and read
again, against reading it as it is).

    python bench/bench_upright.py --receipts 30 --forms 15 --workers 2
    python bench/bench_upright.py --quality-only --receipts 150 --forms 149 --workers 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import funsd_folder, own_cpu, sroie_image, sroie_keys

TURNS = (0, 90, 180, 270)


def one(path: str) -> dict:
    """One page: read as it is, read upright at each turn, skew and quality figures."""
    from PIL import Image

    from vnerteach.documents.ocr import limit_threads, ocr_words
    from vnerteach.documents.quality import quality
    from vnerteach.documents.upright import clear_words, read_upright, straighten

    limit_threads()

    def read(png: str) -> list:
        return ocr_words(png, "eng")

    def plain(image):
        return image, 0.0, 1.0

    page = Image.open(path).convert("RGB")
    out: dict = {"path": Path(path).name}
    with tempfile.TemporaryDirectory() as tmp:
        png = str(Path(tmp) / "p.png")
        page.save(png)
        t0 = own_cpu()
        words = read(png)
        out["plain_cpu"] = own_cpu() - t0
    q = quality((w.conf for w in words), "tesseract")
    out.update(mean=q.mean_conf, low=q.low_share, poor=q.poor, words=len(words), clear=clear_words(words)[0])
    t0 = own_cpu()
    straight, skew = straighten(page)
    out["skew_cpu"] = own_cpu() - t0
    out["skew"] = skew
    if skew:
        with tempfile.TemporaryDirectory() as tmp:
            png = str(Path(tmp) / "s.png")
            straight.save(png)
            words_s = read(png)
        qs = quality((w.conf for w in words_s), "tesseract")
        out.update(skew_mean=qs.mean_conf, skew_clear=clear_words(words_s)[0])
    for turn in TURNS:
        turned = page.rotate(turn, expand=True)  # counter-clockwise: reading it needs a clockwise turn of `turn`
        t0, w0 = own_cpu(), time.perf_counter()
        found = read_upright(turned, plain, read)  # as the default reads: no straightening
        out[f"t{turn}"] = {"rotation": found.rotation, "source": found.source, "tried": len(found.tried),
                           "cpu": own_cpu() - t0, "wall": time.perf_counter() - w0}
    return out


def quality_only(path: str) -> tuple[float | None, float | None]:
    """One page read as it is: its mean word confidence and share of low words."""
    from vnerteach.documents.ocr import limit_threads, ocr_words
    from vnerteach.documents.quality import quality

    limit_threads()
    q = quality((w.conf for w in ocr_words(path, "eng")), "tesseract")
    return q.mean_conf, q.low_share


def flag_grid(kind: str, pages: list[tuple]) -> None:
    """How many pages each pair of thresholds flags (mean under X, or low share over Y)."""
    from vnerteach.documents.quality import THRESHOLDS

    chosen = THRESHOLDS["tesseract"]

    pages = [(m, s) for m, s in pages if m is not None]
    means, lows = [m for m, _ in pages], [s for _, s in pages]
    print(f"\n## {kind}: {len(pages)} pages read as they are")
    print(f"mean word conf p10/p25/p50/p90: {pct(means, .1):.1f}/{pct(means, .25):.1f}/{pct(means, .5):.1f}/"
          f"{pct(means, .9):.1f}; low share p50/p75/p90: {pct(lows, .5):.2f}/{pct(lows, .75):.2f}/{pct(lows, .9):.2f}")
    print("| flagged when mean < / low share > | " + " | ".join(f"{y:.2f}" for y in (0.30, 0.35, 0.40, 0.45)) + " |")
    print("|---|---|---|---|---|")
    for x in (55, 60, 65):
        cells = [f"{sum(m < x or s > y for m, s in pages) / len(pages):.0%}" for y in (0.30, 0.35, 0.40, 0.45)]
        print(f"| {x} | " + " | ".join(cells) + " |")
    print(f"chosen (quality.py, Tesseract): mean < {chosen.mean:g} or low share > {chosen.share:g}: "
          f"{sum(m < chosen.mean or s > chosen.share for m, s in pages)}/{len(pages)} flagged")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def report(kind: str, rows: list[dict]) -> None:
    print(f"\n## {kind}: {len(rows)} pages")
    plain = statistics.mean(r["plain_cpu"] for r in rows)
    print(f"reading as it is: {plain:.2f} s CPU per page; skew estimate {statistics.mean(r['skew_cpu'] for r in rows):.3f} s")
    print("| turned by (ccw) | found | wrong | unsure kept | reads per page | CPU s/page | x reading as it is |")
    print("|---|---|---|---|---|---|---|")
    for turn in TURNS:
        got = [r[f"t{turn}"] for r in rows]
        right = sum(g["rotation"] == turn for g in got)
        unsure = sum(g["source"] == "unsure" for g in got)
        c = statistics.mean(g["cpu"] for g in got)
        print(f"| {turn} | {right}/{len(got)} | {len(got) - right} | {unsure} | "
              f"{statistics.mean(g['tried'] for g in got):.2f} | {c:.2f} | {c / plain:.2f} |")
    wrong = [(r["path"], t, r[f"t{t}"]["rotation"], r[f"t{t}"]["source"]) for r in rows for t in TURNS
             if r[f"t{t}"]["rotation"] != t]
    if wrong:
        print("wrong:", "; ".join(f"{p} turned {t} read at {g} ({s})" for p, t, g, s in wrong))
    skewed = [r for r in rows if r["skew"]]
    print(f"skew >= 0.5 deg on {len(skewed)}/{len(rows)} upright pages"
          + (f" (|skew| median {statistics.median(abs(r['skew']) for r in skewed):.2f}); corrected: mean conf "
             f"{statistics.mean(r['mean'] for r in skewed):.1f} -> {statistics.mean(r['skew_mean'] for r in skewed):.1f}, "
             f"clear words {sum(r['clear'] for r in skewed)} -> {sum(r['skew_clear'] for r in skewed)}"
             if skewed else ""))
    means = [r["mean"] for r in rows if r["mean"] is not None]
    lows = [r["low"] for r in rows if r["low"] is not None]
    print(f"mean word conf p10/p25/p50/p90: {pct(means, .1):.1f}/{pct(means, .25):.1f}/{pct(means, .5):.1f}/"
          f"{pct(means, .9):.1f}; low share (<60) p50/p75/p90: {pct(lows, .5):.2f}/{pct(lows, .75):.2f}/"
          f"{pct(lows, .9):.2f}; flagged poor: {sum(r['poor'] for r in rows)}/{len(rows)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--receipts", type=int, default=30)
    ap.add_argument("--forms", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quality-only", action="store_true",
                    help="only read the pages as they are: confidence distributions and the poor-OCR flag's thresholds")
    args = ap.parse_args()
    sets = {"receipts (SROIE)": [str(sroie_image(k)) for k in sroie_keys(args.receipts)],
            "forms (FUNSD)": sorted(str(p) for p in (funsd_folder() / "images").glob("*.png"))[:args.forms]}
    started = time.perf_counter()
    if args.quality_only:
        with ProcessPoolExecutor(args.workers) as pool:
            for kind, paths in sets.items():
                flag_grid(kind, list(pool.map(quality_only, paths)))
        print(f"\n{time.perf_counter() - started:.0f} s wall with {args.workers} workers")
        return
    with ProcessPoolExecutor(args.workers) as pool:
        results = {kind: list(pool.map(one, paths)) for kind, paths in sets.items()}
    for kind, rows in results.items():
        report(kind, rows)
    print(f"\n{time.perf_counter() - started:.0f} s wall with {args.workers} workers")


if __name__ == "__main__":
    main()
