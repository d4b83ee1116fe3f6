"""SIGKILL at random moments of a model save (issue 11): how many kills leave a model that spacy.load cannot load.

Runs the real commands in child processes: `ner.batch-train -o MODEL` into an existing model folder
and into a new one, and `ner.teach --model-out MODEL` stopped with SIGTERM (the save on exit)
over an existing model. The bench watches the output's folder; once the save starts changing it,
it waits a random time within the save's duration (first to last change, the longest of 3 uncut
runs, +20%) and sends SIGKILL. Each outcome is
classified by the files left at MODEL: the old model, the new one, none, another mix that loads,
or unloadable. Goal: 0 broken (mixed, unloadable, or an existing model gone). Usage: python bench/bench_reliability_save.py [N]
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

VNERTEACH = [sys.executable, "-m", "vnerteach"]
PEOPLE = ("Alice Baker", "Bruno Costa", "Chen Wei", "Dana Eklund", "Emil Faure", "Fatima Ali", "Goran Horvat")
CITIES = ("Paris", "Berlin", "Lagos", "Lima", "Oslo", "Quito", "Rome", "Seoul", "Tunis", "Vienna")


def tasks(n: int, seed: int) -> list[dict]:
    """Complete annotations of sentences with one person and one city."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        person, city = rng.choice(PEOPLE), rng.choice(CITIES)
        text = f"{person} flew to {city} on Monday . Ref {i}"
        out.append({"text": text, "answer": "accept", "spans": [
            {"start": 0, "end": len(person), "label": "PERSON"},
            {"start": text.index(city), "end": text.index(city) + len(city), "label": "CITY"}]})
    return out


def tree(folder: Path) -> dict[str, str] | None:
    """SHA-256 of every file under folder; None without a folder."""
    if not folder.is_dir():
        return None
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def snapshot(parent: Path) -> tuple:
    """Names, sizes and times of everything under parent: any write changes it."""
    found = []
    for root, dirs, files in os.walk(parent):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            found.append((root, name, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(found))


def run_until_save(start: list[str], parent: Path, delay: float | None, trigger=None) -> dict:
    """Start a command; once it starts writing under parent, SIGKILL it after ``delay`` s (None: let it finish)."""
    before = snapshot(parent)
    proc = subprocess.Popen(start, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if trigger is not None:
        trigger(proc)
    began = last = None
    while proc.poll() is None:
        now = snapshot(parent)
        if now != before:
            before, last = now, time.monotonic()
            if began is None:
                began = last
                if delay is not None:
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    break
        time.sleep(0.0005)
    proc.wait()
    return {"began": began, "last": last, "code": proc.returncode}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_when_serving(port: int):
    """A trigger that sends SIGTERM (the save of --model-out on exit) once the web view answers."""
    def trigger(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
    return trigger


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    import spacy

    from vnerteach.store import connect
    from vnerteach.tasks import set_hashes

    work = Path(tempfile.mkdtemp(prefix="bench-save-"))
    db = work / "train.db"
    with connect(str(db)) as store:
        store.add_examples([set_hashes(t) for t in tasks(60, 1)], ["old"])
        store.add_examples([set_hashes(t) for t in tasks(60, 2)], ["new"])
    source = work / "texts.jsonl"
    source.write_text("".join(json.dumps({"text": t["text"]}) + "\n" for t in tasks(50, 3)))
    refs = work / "refs"
    refs.mkdir()
    for name in ("old", "new"):
        subprocess.run([*VNERTEACH, "ner.batch-train", name, "-o", str(refs / name), "-n", "2", "--eval-split", "0",
                        "--db", str(db)], check=True, capture_output=True)
    parent = work / "out"
    target = parent / "model"

    def batch_train() -> tuple[list[str], None]:
        return [*VNERTEACH, "ner.batch-train", "new", "-o", str(target), "-n", "2", "--eval-split", "0",
                "--db", str(db)], None

    def model_out() -> tuple[list[str], object]:
        port = free_port()
        return [*VNERTEACH, "ner.teach", "loop", str(refs / "new"), str(source), "--label", "PERSON,CITY",
                "--model-out", str(target), "--port", str(port), "--db", str(db)], stop_when_serving(port)

    scenarios = [("ner.batch-train, existing folder", batch_train, True),
                 ("ner.batch-train, new folder", batch_train, False),
                 ("ner.teach --model-out, existing folder", model_out, True)]
    rng = random.Random(11)
    old = tree(refs / "old")
    rows = []
    for title, command, existing in scenarios:
        def reset() -> None:
            shutil.rmtree(parent, ignore_errors=True)
            parent.mkdir()
            if existing:
                shutil.copytree(refs / "old", target)

        spans = []
        for _ in range(3):  # the save's duration varies with the disk's load (fsync): take the longest of 3
            reset()
            cmd, trigger = command()
            timing = run_until_save(cmd, parent, None, trigger)
            assert timing["code"] == 0 and timing["began"] is not None, f"{title}: the uncut run failed"
            spans.append(timing["last"] - timing["began"])
        new, span = tree(target), max(spans) * 1.2  # a little past the last change
        counts = {"old": 0, "new": 0, "none": 0, "mixed": 0, "unloadable": 0}
        for _ in range(n):
            reset()
            cmd, trigger = command()
            run_until_save(cmd, parent, rng.uniform(0, span), trigger)
            state = tree(target)
            if state is None:
                counts["none"] += 1
                continue
            try:
                spacy.load(target)
            except Exception:
                counts["unloadable"] += 1
                continue
            counts["old" if state == old else "new" if state == new else "mixed"] += 1
        rows.append((title, n, f"{span * 1000:.0f} ms", counts, existing))
    shutil.rmtree(work, ignore_errors=True)

    head = ("save", "kills", "save time", "old", "new", "none", "mixed", "unloadable")
    widths = [38, 5, 9, 4, 4, 4, 5, 10]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for title, kills, span, c, _ in rows:
        cells = (title, kills, span, c["old"], c["new"], c["none"], c["mixed"], c["unloadable"])
        print("  ".join(str(v).ljust(w) for v, w in zip(cells, widths)))
    broken = sum(c["mixed"] + c["unloadable"] + (c["none"] if existing else 0) for *_, c, existing in rows)
    print(f"models left broken (mixed, unloadable, or an existing one gone): {broken} (goal 0)")


if __name__ == "__main__":
    main()
