"""The page view's figures, in headless Chromium at 1366x800 against the real server.

1. Time to first paint with the span in view: from the app taking the task (App.show) to the next
   animation frame, for SROIE-like receipts and for 2,000-box pages (span near the bottom), with
   the share of those questions whose span is fully inside the viewport.
2. Text OCR missed: from the pointerup that ends a box drawn over a missed amount to the frame
   that shows the new token marked, with the server (and its Tesseract) on one core.
3. Teach questions shown with their span fully in view: 20 receipts x (company, date, total) as
   binary questions, and 40 questions of the real ner.teach (blank model + patterns) on them.

Usage: python bench/bench_pageview.py   (needs Debian's chromium, playwright and Tesseract)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from tests.helpers import write_jsonl

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREEN = {"width": 1366, "height": 800}
IN_VIEW = """() => {
  const v = window.vnerteach.current.view, vp = v.viewport.getBoundingClientRect();
  const box = [vp.left, vp.top, vp.left + v.viewport.clientWidth, vp.top + v.viewport.clientHeight];
  const spans = [...document.querySelectorAll('.box.ent')].map((b) => b.getBoundingClientRect());
  return spans.length > 0 && spans.every((r) => r.left >= box[0] - 0.5 && r.top >= box[1] - 0.5
    && r.right <= box[2] + 0.5 && r.bottom <= box[3] + 0.5);
}"""


def pin_to_one_core(pid: int) -> None:
    """Every thread of a process (and so every process it starts later) on core 0."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {0})


def dense_questions(folder: Path, n: int) -> list[dict]:
    """2,000-box pages (bench_web's), each asking about three words near the bottom of the page."""
    from bench_web import dense_page

    pages = dense_page(folder, n)
    for i, task in enumerate(pages):
        first = (44 + i % 4) * 40 + 10 + i
        toks = task["tokens"]
        task["spans"] = [{"start": toks[first]["start"], "end": toks[first + 2]["end"], "token_start": first,
                          "token_end": first + 2, "label": "ORG", "score": 0.5}]
    return pages


def first_paint(page, url: str, n: int) -> tuple[list[float], int]:
    """showFrame (ms) of n questions, and how many had their span fully in view."""
    page.goto(url)
    in_view = 0
    for i in range(n):
        page.wait_for_function("n => window.vnerteach.history.length === n && window.vnerteach.current && "
                               "(window.vnerteach.perf.all.showFrame || []).length > n", arg=i, timeout=30_000)
        in_view += page.evaluate(IN_VIEW)
        page.keyboard.press("x")
    return page.evaluate("window.vnerteach.perf.all.showFrame")[:n], in_view


def serve(args: list[str], env: dict):
    from tests.helpers.web import ServedRecipe, free_port

    return ServedRecipe(args, env, free_port())


def paint_figures(ctx, tmp: Path, n: int = 20) -> dict:
    from tests.helpers.web import install_in_cache
    from tests.helpers.receipts import question, receipt

    img, home = tmp / "img", tmp / "home"
    receipts = [receipt(700 + i, img) for i in range(n)]
    for r in receipts:
        install_in_cache(r, img, home)
    env = {"VNERTEACH_DB": str(tmp / "paint.db"), "VNERTEACH_HOME": str(home)}
    out = {}
    src = write_jsonl(tmp / "receipts.jsonl", [question(r, "TOTAL") for r in receipts])
    served = serve(["mark", "paint-receipts", src, "--view-id", "ner", "--label", "TOTAL"], env)
    try:
        out["receipt"] = first_paint(ctx.new_page(), served.url + "/", n)
    finally:
        served.stop()
    dense = dense_questions(tmp / "dense", 12)
    for task in dense:
        install_in_cache(task, tmp / "dense", home)
    src = write_jsonl(tmp / "dense.jsonl", dense)
    served = serve(["mark", "paint-dense", src, "--view-id", "ner", "--label", "ORG"], env)
    try:
        out["dense"] = first_paint(ctx.new_page(), served.url + "/", 12)
    finally:
        served.stop()
    return out


def region_figures(ctx, tmp: Path, n: int = 12) -> tuple[list[float], int]:
    """regionFrame (ms) for n boxes drawn over a receipt's missed TOTAL amount, the text OCR read confirmed with Enter
    as soon as it shows; how many read it exactly."""
    from tests.helpers.web import install_in_cache
    from tests.helpers.receipts import AMOUNT, page_of, receipt

    img, home = tmp / "img-missed", tmp / "home"
    tasks, totals = [], []
    for i in range(n):
        full = receipt(800 + i, tmp / "full")
        missed = receipt(800 + i, img, missing=lambda w: bool(AMOUNT.match(w)))
        install_in_cache(missed, img, home)
        tasks.append(page_of(missed))
        totals.append(full["tokens"][full["fields"]["TOTAL"]["token_start"]])
    env = {"VNERTEACH_DB": str(tmp / "region.db"), "VNERTEACH_HOME": str(home)}
    served = serve(["ner.manual", "region", "blank:en", write_jsonl(tmp / "missed.jsonl", tasks), "--label", "TOTAL"], env)
    pin_to_one_core(served.proc.pid)
    page = ctx.new_page()
    exact = 0
    try:
        page.goto(served.url + "/")
        for i, total in enumerate(totals):
            page.wait_for_function("n => window.vnerteach.history.length === n && window.vnerteach.current", arg=i)
            b = total["bbox"]
            box = [b[0] - 8, b[1] - 5, b[2] + 8, b[3] + 5]
            page.evaluate("([x, y]) => { const v = window.vnerteach.current.view;"
                          " v.scrollPageTo(x, y, v.viewport.clientWidth / 2, v.viewport.clientHeight / 2); }",
                          [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            corners = page.evaluate("(b) => { const v = window.vnerteach.current.view, r = v.stage.getBoundingClientRect();"
                                    " return [r.left + b[0] * v.zoom, r.top + b[1] * v.zoom, r.left + b[2] * v.zoom,"
                                    " r.top + b[3] * v.zoom]; }", box)
            page.mouse.move(corners[0], corners[1])
            page.mouse.down()
            page.mouse.move(corners[2], corners[3], steps=6)
            page.mouse.up()
            page.wait_for_selector(".region-read input", timeout=30_000)  # what OCR read, to confirm (Enter)
            page.keyboard.press("Enter")
            page.wait_for_function("n => (window.vnerteach.perf.all.regionFrame || []).length > n", arg=i, timeout=30_000)
            got = page.evaluate("() => { const c = window.vnerteach.current; return c.task.text.slice(c.spans[0].start, c.spans[0].end); }")
            exact += got == total["text"]
            page.keyboard.press("a")
        return page.evaluate("window.vnerteach.perf.all.regionFrame")[:n], exact
    finally:
        served.stop()


def teach_figures(ctx, tmp: Path) -> dict:
    """Binary questions on 20 receipts (3 fields each) and 40 of the real ner.teach: how many were shown in view."""
    from tests.helpers.web import install_in_cache
    from tests.helpers.receipts import page_of, question, receipt

    img, home = tmp / "img-teach", tmp / "home"
    receipts = [receipt(900 + i, img) for i in range(20)]
    for r in receipts:
        install_in_cache(r, img, home)
    env = {"VNERTEACH_DB": str(tmp / "teach.db"), "VNERTEACH_HOME": str(home)}
    out = {}
    questions = [question(r, label) for r in receipts for label in ("COMPANY", "DATE", "TOTAL")]
    served = serve(["mark", "fields", write_jsonl(tmp / "fields.jsonl", questions), "--view-id", "ner",
                    "--label", "COMPANY,DATE,TOTAL"], env)
    try:
        _, out["fields"] = first_paint(ctx.new_page(), served.url + "/", len(questions))
    finally:
        served.stop()
    out["fields_n"] = len(questions)
    patterns = write_jsonl(tmp / "patterns.jsonl", [
        {"label": "TOTAL", "pattern": [{"TEXT": {"REGEX": r"^\d+\.\d\d$"}}]},
        {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^\d\d/\d\d/\d{4}$"}}]}])
    served = serve(["ner.teach", "teach", "blank:en", write_jsonl(tmp / "receipts.jsonl", [page_of(r) for r in receipts]),
                    "--label", "TOTAL,DATE", "--patterns", patterns], env)
    try:
        _, out["teach"] = first_paint(ctx.new_page(), served.url + "/", 40)
    finally:
        served.stop()
    out["teach_n"] = 40
    return out


def row(name: str, values: list[float], aim: float) -> str:
    return (f"{name:<52} {statistics.median(values):>7.1f} {max(values):>7.1f}  < {aim:g} "
            f"({'met' if max(values) < aim else 'NOT met'}; {len(values)} pages)")


def main() -> None:
    from playwright.sync_api import sync_playwright

    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"python bench/bench_pageview.py   ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, {version})")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        ctx = p.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport=SCREEN)
        paint = paint_figures(ctx, tmp)
        region, exact = region_figures(ctx, tmp)
        teach = teach_figures(ctx, tmp)
        ctx.close()
    print("\nFirst paint with the span in view, from the app taking the task to the next frame (ms):")
    print(f"{'page':<52} {'median':>7} {'max':>7}  aim")
    for key, name in (("receipt", "SROIE-like receipt (~110 boxes), span TOTAL"),
                      ("dense", "2,000 boxes on 2480x3508, span near the bottom")):
        values, in_view = paint[key]
        print(row(name, values, 200) + f"; span in view {in_view}/{len(values)}")
    print("\nBox drawn over a missed amount -> new token shown and marked (ms; server and Tesseract on one core):")
    print(f"{'':<52} {'median':>7} {'max':>7}  aim")
    print(row("pointerup -> frame with the token marked", region, 1500) + f"; read exactly {exact}/{len(region)}")
    print("\nTeach questions shown with their span fully inside the viewport (goal 100%):")
    print(f"  20 receipts x COMPANY, DATE, TOTAL (binary questions): {teach['fields']}/{teach['fields_n']} "
          f"({100 * teach['fields'] / teach['fields_n']:.0f}%)")
    print(f"  ner.teach blank:en + patterns on the 20 receipts:      {teach['teach']}/{teach['teach_n']} "
          f"({100 * teach['teach'] / teach['teach_n']:.0f}%)")


if __name__ == "__main__":
    main()
