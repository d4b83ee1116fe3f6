"""The README's picture of the page view: a sample receipt in ner.manual with spans, made in headless Chromium.

Usage: python bench/readme_screenshot.py [OUT.png]   (default: bench/readme/page-view.png)

It writes the demo's sample receipts to a temporary folder, serves `ner.manual` on them with
patterns that pre-highlight the company, date and total, opens the page in Debian's Chromium at
1200x760, waits for the page image, and saves a small PNG (about 100 KB) for the README.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from tests.helpers.web import ServedRecipe, free_port

from vnerteach.samples.receipts import make_samples  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PATTERNS = [{"label": "COMPANY", "pattern": [{"lower": "northwind"}, {"lower": "books"}]},
            {"label": "ADDRESS", "pattern": [{"text": "88"}, {"lower": "king"}, {"lower": "street,"},
                                             {"lower": "york"}, {"text": "YO1"}, {"text": "9XL"}]},
            {"label": "DATE", "pattern": [{"shape": "dddd-dd-dd"}]},
            {"label": "TOTAL", "pattern": [{"text": "18.29"}]}]


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        receipt = next(p for p in make_samples(tmp / "samples") if p.suffix == ".pdf")
        patterns = tmp / "patterns.jsonl"
        patterns.write_text("".join(json.dumps(p) + "\n" for p in PATTERNS), encoding="utf8")
        env = {"VNERTEACH_DB": str(tmp / "v.db"), "VNERTEACH_HOME": str(tmp / "home")}
        served = ServedRecipe(["ner.manual", "receipts", "blank:en", receipt, "--label", "COMPANY,ADDRESS,DATE,TOTAL",
                               "--patterns", patterns], env, free_port())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
                page = browser.new_page(viewport={"width": 1200, "height": 760})
                page.goto(served.url + "/")
                page.wait_for_selector(".page-img")
                page.wait_for_function("() => { const i = document.querySelector('.page-img');"
                                       " return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)
                page.keyboard.press("w")  # fit the width: the receipt's lines are at the top
                page.wait_for_timeout(300)
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), type="png")
                browser.close()
        finally:
            served.stop()
    from PIL import Image

    with Image.open(out) as image:  # a palette PNG: a tenth of the bytes, no visible loss for a UI
        image.convert("RGB").quantize(colors=128).save(out, optimize=True)
    print(f"{out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "readme" / "page-view.png")
