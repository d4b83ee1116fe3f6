"""The web view's figures: page render and span selection in headless Chromium; API latency and throughput.

1. A page image with 2,000 token boxes: time to build and lay out the view, and to update a
   20-token selection, measured in the page with performance.now() (the app's own timers).
2. /api/questions and /api/answers latency with 100,000 examples already in the dataset, under
   4 concurrent clients on loopback, against the real `vnerteach ner.manual` in a child process.
3. Answers stored per second through the API, one answer per request (4 clients and 1 client).

Usage: python bench/bench_web.py [EXAMPLES]   (needs Debian's chromium and playwright)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WORDS = ("the market rose after Apple and Siemens reported results in London Berlin while analysts "
         "from Goldman Sachs said growth in India would slow next year according to Reuters").split()


def dense_page(folder: Path, n_pages: int, lines: int = 50, per_line: int = 40) -> list[dict]:
    """Page tasks of lines x per_line words (2,000 boxes), one PNG shared by all, distinct image references."""
    from PIL import Image, ImageDraw, ImageFont

    width, height, line_h = 2480, 3508, 64
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)
    rng = random.Random(0)
    tokens, offset, n = [], 0, lines * per_line
    for li in range(lines):
        x, y = 80, 120 + li * line_h
        for _ in range(per_line):
            word = rng.choice(WORDS)[:6]
            draw.text((x, y), word, fill=0, font=font)
            x0, y0, x1, y1 = draw.textbbox((x, y), word, font=font)
            i = len(tokens)
            tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": i, "ws": i < n - 1,
                           "bbox": [x0 - 2, y0 - 3, x1 + 2, y1 + 3]})
            offset += len(word) + 1
            x = x1 + 14
    folder.mkdir(parents=True, exist_ok=True)
    key = "f" * 64
    image.save(folder / f"{key}.png")
    text = " ".join(t["text"] for t in tokens)
    return [{"text": text, "tokens": tokens, "width": width, "height": height, "image": f"sha256:{p:064x}#page=1",
             "meta": {"path": "dense.pdf", "page": p + 1, "pages": n_pages, "image_key": key}} for p in range(n_pages)]


def browser_figures(tmp: Path, pages: int = 12) -> dict[str, list[float]]:
    """Render and selection timings (ms) over several 2,000-box pages, read from the app's perf timers."""
    from playwright.sync_api import sync_playwright

    from vnerteach.loop.controller import Controller
    from vnerteach.web.images import folder_images
    from vnerteach.web.server import make_app
    from vnerteach.web.wsgi_server import bind
    from vnerteach.store import Store

    tasks = dense_page(tmp / "img", pages)
    store = Store(str(tmp / "render.db"))
    controller = Controller(store, {"dataset": "render", "stream": iter(tasks), "view_id": "ner_manual",
                                    "config": {"labels": ["ORG", "PERSON"]}, "total": pages})
    server, _ = bind(make_app(controller, images=folder_images(tmp / "img")), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    out: dict[str, list[float]] = {"render": [], "renderFrame": [], "select": [], "selectFrame": []}
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.goto(url)
        for n in range(pages):
            page.wait_for_function("n => window.vnerteach.perf.all.renderFrame && "
                                   "window.vnerteach.perf.all.renderFrame.length > n", arg=n, timeout=30_000)
            assert page.locator(".box").count() == 2000
            line = 5 + n  # 20 tokens of one line, by dragging from the first to the last
            a = page.locator(f'.box[data-i="{line * 40 + 3}"]').bounding_box()
            b = page.locator(f'.box[data-i="{line * 40 + 22}"]').bounding_box()
            page.mouse.move(a["x"] + 2, a["y"] + a["height"] / 2)
            page.mouse.down()
            page.mouse.move(b["x"] + 2, b["y"] + b["height"] / 2, steps=4)
            page.mouse.up()
            page.wait_for_function("n => (window.vnerteach.perf.all.selectFrame || []).length > n", arg=n)
            assert page.locator(".box.ent").count() == 20
            page.keyboard.press("a")
        perf = page.evaluate("window.vnerteach.perf.all")
        ctx.close()
    server.shutdown()
    server.server_close()
    controller.close()
    for key in out:
        out[key] = perf[key][:pages]
    return out


def make_database(path: Path, n: int) -> None:
    """A dataset of n annotated examples, as ner.manual writes them."""
    from vnerteach.store import Store
    from vnerteach.tasks import set_hashes

    rng = random.Random(1)

    def examples():
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(19)) + f" #{i}"
            yield set_hashes({"text": text, "spans": [{"start": 0, "end": 3, "label": "ORG"}], "answer": "accept",
                              "_session_id": "bench-old"})

    with Store(str(path)) as store:
        store.add_examples(examples(), ["bench"])


def call(method: str, url: str, body: dict | None = None) -> tuple[float, dict]:
    from tests.helpers.web import APP_HEADER, app_key

    data = json.dumps(body).encode() if body is not None else None
    headers = {APP_HEADER: app_key(url.split("/api/")[0]) or ""}
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**headers, "Content-Type": "application/json"} if data else headers)
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        payload = json.loads(r.read())
    return (time.perf_counter() - start) * 1000, payload


def api_figures(tmp: Path, examples: int, seconds: float = 12.0) -> dict:
    """Latency of questions and answers with 4 clients; answers per second with 4 clients and 1."""
    from tests.helpers.web import ServedRecipe, free_port

    db = tmp / "api.db"
    make_database(db, examples)
    src = tmp / "source.jsonl"
    with open(src, "w") as f:
        for i in range(60_000):
            f.write(json.dumps({"text": f"New sentence {i} about Apple and Siemens in Berlin"}) + "\n")
    env = {"VNERTEACH_DB": str(db), "VNERTEACH_HOME": str(tmp / "home")}
    served = ServedRecipe(["ner.manual", "bench", "blank:en", src, "--label", "ORG"], env, free_port())
    base = served.url
    project = call("GET", base + "/api/project")[1]
    session = project["session"]
    results: dict = {"questions": [], "answers": [], "dataset": project["progress"]["dataset"]}
    lock = threading.Lock()

    def client(stop_at: float, record: bool) -> int:
        done = 0
        while time.perf_counter() < stop_at:
            ms, batch = call("GET", base + f"/api/questions?session={session}&n=10")
            if record:
                with lock:
                    results["questions"].append(ms)
            for task in batch["tasks"]:
                answer = {**task, "answer": "accept", "spans": [{"start": 13, "end": 18, "token_start": 3,
                                                                  "token_end": 3, "label": "ORG"}]}
                ms, _ = call("POST", base + "/api/answers", {"session": session, "answers": [answer]})
                done += 1
                if record:
                    with lock:
                        results["answers"].append(ms)
                if time.perf_counter() >= stop_at:
                    break
        return done

    def run(clients: int, duration: float, record: bool) -> float:
        stop_at = time.perf_counter() + duration
        counts: list[int] = []
        threads = [threading.Thread(target=lambda: counts.append(client(stop_at, record))) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts) / (time.perf_counter() - start)

    try:
        run(2, 1.0, False)  # warm-up
        results["rate4"] = run(4, seconds, True)
        results["rate1"] = run(1, seconds / 2, False)
    finally:
        served.stop()
    return results


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(examples: int = 100_000) -> None:
    print(f"python bench/bench_web.py {examples}   ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, "
          f"{subprocess.run([CHROMIUM, '--version'], capture_output=True, text=True).stdout.strip()})")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        perf = browser_figures(tmp)
        print("\nPage view, 2,000 token boxes on a 2480x3508 page (ms, in the page, performance.now()):")
        print(f"{'measure':<44} {'median':>7} {'max':>7}  aim")
        rows = [("render: build boxes + style + layout", "render", 200),
                ("render: to the next animation frame", "renderFrame", 200),
                ("select 20 tokens: span update + layout", "select", 50),
                ("select 20 tokens: to the next animation frame", "selectFrame", 50)]
        for name, key, aim in rows:
            values = perf[key]
            print(f"{name:<44} {statistics.median(values):>7.1f} {max(values):>7.1f}  < {aim} "
                  f"({'met' if max(values) < aim else 'NOT met'}; {len(values)} pages)")
        api = api_figures(tmp, examples)
        print(f"\nAPI on loopback, {api['dataset']:,} examples in the dataset at the start, "
              f"4 concurrent clients (ms per request):")
        print(f"{'route':<22} {'requests':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  aim")
        for route in ("questions", "answers"):
            v = api[route]
            print(f"{'/api/' + route:<22} {len(v):>8} {pct(v, 50):>6.1f} {pct(v, 95):>6.1f} {pct(v, 99):>6.1f} "
                  f"{max(v):>7.1f}  p99 < 50 ({'met' if pct(v, 99) < 50 else 'NOT met'})")
        print(f"\nAnswers stored per second (one answer per request): 4 clients {api['rate4']:,.0f}/s, "
              f"1 client {api['rate1']:,.0f}/s  (aim >= 300/s: "
              f"{'met' if min(api['rate4'], api['rate1']) >= 300 else 'NOT met'})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
