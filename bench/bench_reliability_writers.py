"""Writers on one database (issue 11, point 5): errors and acknowledged against stored answers.

1. Two `vnerteach ner.manual` sessions (two datasets) on one SQLite file, 4 HTTP clients on
   loopback (2 per session), 1,000 answers in all, one per request: HTTP errors (goal 0),
   answers acknowledged against answers stored, and answers stored twice (goal 0).
2. One session killed with SIGKILL at three points under load from 4 clients (after 25, 150
   and 400 acknowledged answers of its run), restarted on the same database each time:
   acknowledged answers missing from the store (goal 0); stored but not acknowledged answers
   are ones committed as the kill cut their response (the browser sends them again, idempotently).

Usage: python bench/bench_reliability_writers.py
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from vnerteach.store import connect  # noqa: E402

from tests.helpers.web import ServedRecipe, annotate, free_port

CLIENTS = 4
KILL_AFTER = (25, 150, 400)


def source(path: Path, name: str, n: int) -> Path:
    with open(path, "w", encoding="utf8") as f:
        for i in range(n):
            f.write(json.dumps({"text": f"{name} sentence {i} about Acme and Siemens in Berlin"}) + "\n")
    return path


def recipe(dataset: str, src: Path) -> list:
    return ["ner.manual", dataset, "blank:en", src, "--label", "ORG"]


def two_sessions(tmp: Path, total: int = 1000) -> None:
    db = tmp / "two.db"
    env = {"VNERTEACH_DB": str(db), "VNERTEACH_HOME": str(tmp / "home")}
    names = ("alpha", "beta")
    servers = {name: ServedRecipe(recipe(name, source(tmp / f"{name}.jsonl", name, total)), env, free_port())
               for name in names}
    acked: dict[str, list[int]] = {name: [] for name in names}
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(annotate, servers[names[i % 2]].url, total // CLIENTS, time.monotonic() + 300,
                               acked[names[i % 2]]) for i in range(CLIENTS)]
        statuses = sum((f.result() for f in futures), Counter())
    seconds = time.perf_counter() - start
    for served in servers.values():
        served.stop()
    errors = sum(n for code, n in statuses.items() if code != 200)
    print(f"two sessions, one SQLite file, {CLIENTS} clients, {total} answers: {seconds:.1f} s "
          f"({sum(map(len, acked.values())) / seconds:.0f} answers/s)")
    print(f"  requests {sum(statuses.values())}, errors {errors} (goal 0): {dict(statuses)}")
    with connect(str(db)) as store:
        for name in names:
            stored = [e["_task_hash"] for e in store.iter_examples(name)]
            twice = len(stored) - len(set(stored))
            print(f"  {name}: acknowledged {len(acked[name])}, stored {len(stored)}, stored twice {twice}, "
                  f"acknowledged but not stored {len(set(acked[name]) - set(stored))}")


def killed(tmp: Path) -> None:
    db = tmp / "killed.db"
    env = {"VNERTEACH_DB": str(db), "VNERTEACH_HOME": str(tmp / "home")}
    src = source(tmp / "killed.jsonl", "killed", 3000)
    acked: list[int] = []
    print(f"SIGKILL under load ({CLIENTS} clients), restarted on the same database each time:")
    for point in KILL_AFTER:
        served = ServedRecipe(recipe("killed", src), env, free_port())
        before = len(acked)
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(annotate, served.url, 10_000, time.monotonic() + 120, acked) for _ in range(CLIENTS)]
            deadline = time.monotonic() + 120
            while len(acked) - before < point and time.monotonic() < deadline:
                time.sleep(0.001)
            os.kill(served.proc.pid, signal.SIGKILL)
            served.proc.communicate(timeout=30)
            statuses = sum((f.result() for f in futures), Counter())
        with connect(str(db)) as store:
            stored = {e["_task_hash"] for e in store.iter_examples("killed")}
        missing = set(acked) - stored
        print(f"  killed after {point:>3} acknowledged: acknowledged {len(acked)}, stored {len(stored)}, "
              f"acknowledged but not stored {len(missing)} (goal 0), stored but not acknowledged "
              f"{len(stored - set(acked))}; errors {sum(n for c, n in statuses.items() if c not in (200, 'gone'))}")


def main() -> None:
    print(f"python bench/bench_reliability_writers.py   ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})")
    with tempfile.TemporaryDirectory() as tmp:
        two_sessions(Path(tmp))
        killed(Path(tmp))


if __name__ == "__main__":
    main()
