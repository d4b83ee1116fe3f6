"""Named annotators on one server (issue 15, point 2): 4 annotators, 2,000 answers, overlap off and on, both backends.

One `ner.manual` server per run (a real child process), 4 annotators as HTTP clients on loopback
(served.annotate_as: `/?session=NAME`, one answer per request); the fourth takes a first
batch and leaves it unanswered for longer than `--idle-timeout` (an idle browser tab), then comes
back as a reloaded app. Without overlap the source has 2,000 tasks, each to go to one annotator;
with overlap 500 tasks, each to be answered by all four. Checked against the database afterwards:
no acknowledged answer lost, no task answered twice by one annotator, none left unasked.

Usage: python bench/bench_annotators.py [--answers 2000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import common  # noqa: F401 (the repository root on sys.path, for tests.helpers)
from tests.helpers.postgres import PostgresServer, pg_bin
from tests.helpers import write_jsonl
from tests.helpers.web import ServedRecipe, annotate_as, free_port
from vnerteach.store import connect
from vnerteach.tasks import TASK_HASH, set_hashes

TEAM = {"alice": 0.0, "bob": 0.0, "carol": 0.0, "dave": 4.0}  # seconds each leaves a first batch unanswered
IDLE_S = 2.0


def run(tmp: Path, db: str, answers: int, overlap: bool) -> dict:
    """One served session with the team; the invariants and the rate."""
    n = answers // len(TEAM) if overlap else answers
    tasks = [{"text": f"Sentence {i} about Acme and Siemens in Berlin"} for i in range(n)]
    src = write_jsonl(tmp / f"tasks-{n}.jsonl", tasks)
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG", "--idle-timeout", str(IDLE_S),
                           *["--feed-overlap"] * overlap], {"VNERTEACH_DB": db, "VNERTEACH_HOME": str(tmp)}, free_port())
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(len(TEAM)) as pool:
            futures = {name: pool.submit(annotate_as, served.url, name, time.monotonic() + 900, away)
                       for name, away in TEAM.items()}
            acked = {name: f.result() for name, f in futures.items()}
        elapsed = time.perf_counter() - start
    finally:
        code, _, err = served.stop()
    if code != 0:
        raise SystemExit(f"the server failed: {err}")
    hashes = {set_hashes(t)[TASK_HASH] for t in tasks}
    with connect(db) as store:
        stored = {name: Counter(eg[TASK_HASH] for eg in store.iter_examples(f"news-{name}"))
                  if f"news-{name}" in store else Counter() for name in TEAM}
        in_dataset = store.count("news")
    lost = sum(len(set(got) - set(stored[name])) for name, got in acked.items())
    twice = sum(c - 1 for per in stored.values() for c in per.values() if c > 1)
    twice += sum(len(got) - len(set(got)) for got in acked.values())
    if overlap:
        unasked = sum(len(hashes - set(got)) for got in acked.values())
    else:
        unasked = len(hashes - {h for got in acked.values() for h in got})
    total = sum(len(got) for got in acked.values())
    return {"answers": total, "in_dataset": in_dataset, "elapsed": elapsed, "lost": lost, "twice": twice,
            "unasked": unasked, "per": {name: len(got) for name, got in acked.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    print(f"python bench/bench_annotators.py --answers {args.answers} --backends {args.backends}   "
          f"({os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f})")
    print(f"team: {', '.join(f'{n} (away {a:g} s with a batch)' if a else n for n, a in TEAM.items())}; "
          f"--idle-timeout {IDLE_S:g}")
    server = PostgresServer(pg_bin(), settings="-c synchronous_commit=off") if "postgresql" in backends else None
    rates: dict[tuple[str, bool], float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for overlap in (False, True):
                for backend in backends:
                    db = str(Path(tmp) / f"{backend}-{overlap}.db") if backend == "sqlite" else server.create_database()
                    r = run(Path(tmp), db, args.answers, overlap)
                    rates[backend, overlap] = r["answers"] / r["elapsed"]
                    print(f"{backend:<10} overlap {'on ' if overlap else 'off'}  {r['answers']:5d} answers "
                          f"({', '.join(f'{n} {c}' for n, c in r['per'].items())}), {r['in_dataset']} in the dataset, "
                          f"{r['elapsed']:6.1f} s, {rates[backend, overlap]:5.0f} answers/s;  lost {r['lost']}, "
                          f"answered twice by one annotator {r['twice']}, left unasked {r['unasked']}")
    finally:
        if server is not None:
            server.stop()
    if "postgresql" in backends and "sqlite" in backends:
        for overlap in (False, True):
            print(f"overlap {'on ' if overlap else 'off'}: postgresql / sqlite answers/s "
                  f"{rates['postgresql', overlap] / rates['sqlite', overlap]:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
