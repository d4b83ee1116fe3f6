"""Issue 23's probes, points 1-10, run again against the released commands and a served recipe.

Usage: python bench/bench_rough_edges.py [--answers 2000]

Each probe runs `python -m vnerteach ...` (or a served recipe, a real PostgreSQL server, a Dask-less
listener) as a user would and is judged: the expected behaviour passes; a traceback, an HTML error
page, a hang or a wrong count is a defect. The load probe (point 3) runs 4 clients that keep the
tasks they hold across two SIGKILLs of the server (as the app's browser tabs do) and counts the
questions stored twice.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from vnerteach.store import connect  # noqa: E402

from tests.helpers.web import ServedRecipe, app_key, free_port, http, raw_http

RESULTS: list[tuple[str, bool, str]] = []


def probe(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok, detail))
    print(f"  {'ok    ' if ok else 'DEFECT'} {name}{': ' + detail if detail else ''}", flush=True)


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vnerteach", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def one_line(done: subprocess.CompletedProcess, rc: int) -> bool:
    said = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode == rc and len(said) == 1 and "Traceback" not in done.stderr


# --- 1. a PostgreSQL restart ---------------------------------------------------------------------------------


def postgres_restart(tmp: Path) -> None:
    from tests.helpers.postgres import PostgresServer, pg_bin, unavailable

    if unavailable():
        probe("1 PostgreSQL restart", False, f"not run: {unavailable()}")
        return
    server = PostgresServer(pg_bin())
    try:
        src = tmp / "pg.jsonl"
        src.write_text("".join(json.dumps({"text": f"Acme hired Anna {i}"}) + "\n" for i in range(5)))
        served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG", "--db", server.url()],
                              {"VNERTEACH_HOME": str(tmp / "home")}, free_port())
        session = http("GET", served.url + "/api/project")[1]["session"]
        tasks = http("GET", served.url + "/api/questions?n=3")[1]["tasks"]

        def answer(task):
            return http("POST", served.url + "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]})

        first = answer(tasks[0])[0]
        server.pause()
        away = answer(tasks[1])
        server.resume()
        back = answer(tasks[1])[0]
        code, _out, err = served.stop()
        probe("1 PostgreSQL restart", first == 200 and away[0] == 503 and isinstance(away[1], dict) and back == 200
              and code == 0 and "Traceback" not in err,
              f"before {first}, while away {away[0]} (JSON), after {back}, exit {code}")
    finally:
        server.stop()


# --- 2. numbers JSON cannot hold -------------------------------------------------------------------------------


def big_numbers(tmp: Path) -> None:
    src = tmp / "nums.jsonl"
    src.write_text('{"text": "first"}\n{"text": "inf", "score": 1e999}\n{"text": "big", "n": %s}\n{"text": "last"}\n'
                   % ("7" * 5000))
    env = {"VNERTEACH_DB": str(tmp / "nums.db"), "VNERTEACH_HOME": str(tmp / "home")}
    served = ServedRecipe(["ner.manual", "nums", "blank:en", src, "--label", "ORG"], env, free_port())
    try:
        key = app_key(served.url).encode()
        status, body = raw_http(served.port, b"GET /api/questions?n=10 HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                b"X-Vnerteach-App: " + key + b"\r\n\r\n")
        strict = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        texts = [t["text"] for t in strict["tasks"]]
        located = sum(f"{src}:{n}" in f for f in strict["progress"]["failures"] for n in (2, 3))
        probe("2 source line 1e999 / 5,000 digits", status == 200 and texts == ["first", "last"] and located == 2,
              f"served {texts}, {located} of 2 bad lines named by file:line")
        session = strict["tasks"][0]["_session_id"]
        payload = ('{"session": "%s", "answers": [{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": 2, '
                   '"x": %s}]}' % (session, "9" * 100_000)).encode()
        status, body = raw_http(served.port, b"POST /api/answers HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Vnerteach-App: "
                                + key + b"\r\nContent-Type: application/json\r\nContent-Length: "
                                + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        probe("2 API body with a 100,000-digit number", status == 400 and b"digits" in body, f"HTTP {status}")
    finally:
        served.stop()
    for name, line in (("1e999", '{"text": "x", "score": 1e999}'), ("5,000 digits", '{"text": "x", "n": %s}' % ("7" * 5000))):
        path = tmp / "one.jsonl"
        path.write_text(line + "\n")
        done = run("db-in", "bad", path, "--db", tmp / "dbin.db")
        probe(f"2 db-in of {name}", one_line(done, 1) and f"{path}:1" in done.stderr, done.stderr.strip()[:100])


# --- 3. answered twice after two kills ---------------------------------------------------------------------------


class Tab:
    """An annotator's browser tab: its session and the tasks it holds survive a server's death and restart."""

    def __init__(self, base: str, acked: list, refused: Counter):
        self.base, self.acked, self.refused = base, acked, refused
        self.session: str | None = None
        self.held: list[dict] = []

    def work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.session is None:
                    self.session = http("GET", self.base + "/api/project")[1]["session"]
                if not self.held:
                    code, body = http("GET", self.base + "/api/questions?n=10", timeout=30)
                    self.held = list(body.get("tasks", [])) if code == 200 else []
                    if not self.held:
                        time.sleep(0.05)
                        continue
                task = self.held[0]
                code, body = http("POST", self.base + "/api/answers",
                                  {"session": self.session, "answers": [{**task, "answer": "accept"}]}, timeout=30)
                if code == 200:
                    self.held.pop(0)
                    result = body["results"][0]
                    if result["status"] == "stored":
                        self.acked.append(int(task["_task_hash"]))
                    else:
                        self.refused[result["reason"][:40]] += 1
            except OSError:
                time.sleep(0.1)  # the server is down: keep the tasks and the session, try again


def kills(tmp: Path, answers: int) -> None:
    db = tmp / "kills.db"
    src = tmp / "kills.jsonl"
    src.write_text("".join(json.dumps({"text": f"Sentence {i} about Acme"}) + "\n" for i in range(answers + 500)))
    env = {"VNERTEACH_DB": str(db), "VNERTEACH_HOME": str(tmp / "home")}
    port = free_port()
    args = ["ner.manual", "kills", "blank:en", src, "--label", "ORG"]
    acked: list[int] = []
    refused: Counter = Counter()
    stop = threading.Event()
    served = ServedRecipe(args, env, port)
    tabs = [Tab(served.url, acked, refused) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for tab in tabs:
            pool.submit(tab.work, stop)
        for point in (answers // 4, answers // 2):
            while len(acked) < point:
                time.sleep(0.01)
            os.kill(served.proc.pid, signal.SIGKILL)
            served.proc.communicate(timeout=30)
            served = ServedRecipe(args, env, port)  # the same address: the tabs carry on
        while len(acked) < answers:
            time.sleep(0.01)
        stop.set()
    served.stop()
    with connect(str(db)) as store:
        stored = [e["_task_hash"] for e in store.iter_examples("kills")]
    twice = sum(n > 1 for n in Counter(stored).values())
    missing = len(set(acked) - set(stored))
    probe("3 answered twice after two SIGKILLs (4 clients)", twice == 0 and missing == 0,
          f"{len(acked)} acknowledged, {len(stored)} stored, stored twice {twice}, acknowledged but lost {missing}, "
          f"refused as answered by another session {sum(refused.values())}")


# --- 4, 5, 8, 9, 10 ---------------------------------------------------------------------------------------------


def review_empty(tmp: Path) -> None:
    from vnerteach.loop.controller import Controller
    from vnerteach.datasets.review import check_review_answer
    from vnerteach.tasks import set_hashes

    with connect(str(tmp / "review.db")) as store:
        task = set_hashes({"text": "Tim Cook runs Apple", "versions": [
            {"answer": "accept", "spans": [{"start": 0, "end": 8, "label": "PERSON"}]}]})
        c = Controller(store, {"dataset": "final", "stream": iter([task]), "view_id": "review",
                               "validate_answer": check_review_answer})
        result = c.answer([{**task, "spans": [], "answer": "accept"}])["results"][0]
        c.close()
    probe("4 review: empty accept where the versions had entities", result["status"] == "refused", result["status"])


def demo_twice(tmp: Path) -> None:
    env = {"VNERTEACH_HOME": str(tmp / "home"), "VNERTEACH_DB": ""}
    said = []
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "vnerteach.samples.receipts", tmp / "demo", "--count", "9", "--labelled",
                        "3"], cwd=ROOT, capture_output=True, check=True, env={**os.environ, **env})
        said.append(run("db-in", "receipts", tmp / "demo" / "labelled.jsonl", "--db", tmp / "demo.db", env=env).stderr)
    probe("5 make demo twice", "Imported 0 examples" in said[1], said[1].strip()[:80])


def headers(tmp: Path) -> None:
    src = tmp / "h.jsonl"
    src.write_text('{"text": "hello"}\n')
    env = {"VNERTEACH_DB": str(tmp / "h.db"), "VNERTEACH_HOME": str(tmp / "home")}
    served = ServedRecipe(["ner.manual", "h", "blank:en", src, "--label", "ORG"], env, free_port())
    try:
        key = app_key(served.url).encode()
        for name in (b"Origin", b"Sec-Fetch-Site", b"Host"):
            head = b"Host: 127.0.0.1\r\n" if name != b"Host" else b""
            status, body = raw_http(served.port, b"GET /api/project HTTP/1.0\r\n" + head + b"X-Vnerteach-App: " + key
                                    + b"\r\n" + name + b": \xff\xfe\r\n\r\n")
            probe(f"8 non-UTF-8 {name.decode()} header", status < 500 and body.startswith(b"{"), f"HTTP {status}")
        status, project = http("GET", served.url + "/api/project?session=%C3%A5lice")
        probe("10 the name ålice echoed as typed", "'ålice'" in json.dumps(project, ensure_ascii=False), f"HTTP {status}")
    finally:
        served.stop()


def postgres_urls(tmp: Path) -> None:
    for url in ("postgresql://", "postgresql://localhost:99999/x", "postgresql://[::1:"):
        done = run("stats", "--db", url)
        probe(f"9 stats --db {url}", one_line(done, 2), done.stderr.strip()[:90])


# --- 6. a scheduler that is not Dask -----------------------------------------------------------------------------


def scheduler(tmp: Path) -> None:
    from PIL import Image, ImageDraw

    scans = tmp / "scans"
    scans.mkdir(exist_ok=True)
    image = Image.new("L", (500, 100), 255)
    ImageDraw.Draw(image).text((10, 40), "Total 9.45", fill=0)
    image.save(scans / "a.png")
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        for address in (f"tcp://127.0.0.1:{listener.getsockname()[1]}", "garbage://x"):
            start = time.monotonic()
            done = run("ocr", scans, "--scheduler", address, env={"VNERTEACH_HOME": str(tmp / "home")}, timeout=120)
            probe(f"6 ocr --scheduler {address.split(':')[0]}:// (not Dask)",
                  one_line(done, 2) and "Exception ignored" not in done.stderr,
                  f"{time.monotonic() - start:.0f} s, rc {done.returncode}")
    finally:
        listener.close()


# --- 7. a flood of region OCR --------------------------------------------------------------------------------------


def region_flood(tmp: Path) -> None:
    from tests.helpers.web import install_in_cache
    from tests.helpers.web import page_task

    img = tmp / "img"
    task = page_task(["Total 12.50 paid"], img, name="r.png")
    install_in_cache(task, img, tmp / "home")
    src = tmp / "pages.jsonl"
    src.write_text(json.dumps(task) + "\n" + json.dumps({**page_task(["Other"], img, name="o.png")}) + "\n")
    install_in_cache(json.loads(src.read_text().splitlines()[1]), img, tmp / "home")
    env = {"VNERTEACH_DB": str(tmp / "flood.db"), "VNERTEACH_HOME": str(tmp / "home")}
    served = ServedRecipe(["ner.manual", "flood", "blank:en", src, "--label", "TOTAL"], env, free_port())
    most = 0
    try:
        body = {"image_key": task["meta"]["image_key"], "box": [40, 40, 600, 120]}
        with ThreadPoolExecutor(100) as pool:
            flood = [pool.submit(http, "POST", served.url + "/api/ocr-region", body, None, 60) for _ in range(100)]
            time.sleep(0.3)
            start = time.monotonic()
            code, _ = http("GET", served.url + "/api/questions?n=1")
            waited = time.monotonic() - start
            for _ in range(20):
                found = subprocess.run(["pgrep", "-c", "tesseract"], capture_output=True, text=True).stdout.strip()
                most = max(most, int(found or 0))
                time.sleep(0.05)
            codes = Counter(f.result()[0] for f in flood)
    finally:
        served.stop()
    probe("7 100 region OCR requests at once", code == 200 and most <= 2 and set(codes) <= {200, 429},
          f"/api/questions in {waited:.2f} s, tesseract processes at most {most}, answers {dict(codes)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=2000, help="answers of the load probe (point 3)")
    args = parser.parse_args(argv)
    print(f"python bench/bench_rough_edges.py --answers {args.answers}   ({os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')})")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for step in (postgres_restart, big_numbers, review_empty, demo_twice, scheduler, region_flood, headers,
                     postgres_urls):
            step(tmp)
        kills(tmp, args.answers)
    defects = [name for name, ok, _ in RESULTS if not ok]
    print(f"{len(RESULTS)} probes, {len(defects)} defects{': ' + '; '.join(defects) if defects else ''}")


if __name__ == "__main__":
    main()
