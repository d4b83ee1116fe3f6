"""PostgreSQL against SQLite in one run (issue 15, point 1): db-in / db-out tasks/s and peak memory, answers/s.

1. For each size N: `vnerteach db-in`, `db-in` again (every task a duplicate) and `db-out` of N plain
   text tasks (bench_db.py's corpus), each a real child process (start-up included; common.run: CPU of
   its process tree, peak RSS of its main process), on a SQLite file and on a PostgreSQL database; the
   ratio PostgreSQL / SQLite in tasks/s.
2. One `ner.manual` server per backend, 4 annotators (HTTP clients on loopback, one answer per
   request, served.annotate) storing 1,000 answers: answers stored per second.

The server is a throwaway cluster (postgres_server.py) with durability like SQLite's WAL +
synchronous=NORMAL: fsync on, synchronous_commit off (a commit survives the process, not the OS).
Usage: python bench/bench_postgres.py [N ...]   (default 100000)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_db import make_corpus
from common import VNERTEACH, run
from tests.helpers.postgres import PostgresServer, pg_bin
from tests.helpers import write_jsonl
from tests.helpers.web import ServedRecipe, annotate, free_port
from vnerteach.store import connect

DURABLE = "-c synchronous_commit=off"  # fsync and full-page writes on, as a server runs


def stores(tmp: Path, server: PostgresServer, name: str) -> dict[str, str]:
    """A new SQLite file and a new PostgreSQL database: {backend: --db}."""
    return {"sqlite": str(tmp / f"{name}.db"), "postgresql": server.create_database()}


def db_steps(tmp: Path, server: PostgresServer, n: int) -> None:
    src = tmp / f"plain-{n}.jsonl"
    make_corpus(src, n, annotated=False)
    rates: dict[tuple[str, str], float] = {}
    for backend, db in stores(tmp, server, f"db-{n}").items():
        env = {**os.environ, "VNERTEACH_DB": db, "VNERTEACH_HOME": str(tmp)}
        rows = [("db-in", run(VNERTEACH + ["db-in", "bench", str(src)], env)),
                ("db-in again (dedup)", run(VNERTEACH + ["db-in", "bench", str(src)], env))]
        with open(tmp / "out.jsonl", "w") as out:
            rows.append(("db-out (stdout)", run(VNERTEACH + ["db-out", "bench"], env, stdout=out)))
        exported = sum(1 for _ in open(tmp / "out.jsonl"))
        assert exported == n, f"exported {exported} of {n}"
        for step, (wall, cpu, peak) in rows:
            rates[backend, step] = n / wall
            print(f"{n:>9,} {backend:<10} {step:<20} {wall:>7.2f} {n / wall:>9,.0f} {cpu:>6.2f} {peak:>8.0f}", flush=True)
    for step in ("db-in", "db-in again (dedup)", "db-out (stdout)"):
        print(f"{n:>9,} postgresql / sqlite, {step}: {rates['postgresql', step] / rates['sqlite', step]:.2f}x tasks/s")


def answers_per_second(tmp: Path, server: PostgresServer, annotators: int = 4, answers: int = 1000) -> None:
    src = write_jsonl(tmp / "answers.jsonl", [{"text": f"Sentence {i} about Acme and Siemens"} for i in range(answers * 2)])
    rates = {}
    for backend, db in stores(tmp, server, "answers").items():
        served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"],
                              {"VNERTEACH_DB": db, "VNERTEACH_HOME": str(tmp)}, free_port())
        acked: list[int] = []
        start = time.perf_counter()
        try:
            with ThreadPoolExecutor(annotators) as pool:
                futures = [pool.submit(annotate, served.url, answers // annotators, time.monotonic() + 300, acked)
                           for _ in range(annotators)]
                statuses = sum((f.result() for f in futures), Counter())
            elapsed = time.perf_counter() - start
        finally:
            served.stop()
        with connect(db) as store:
            stored = store.count("news")
        assert set(statuses) == {200} and stored == len(acked) == answers, (statuses, stored, len(acked))
        rates[backend] = answers / elapsed
        print(f"{backend:<10} {annotators} annotators, {answers} answers: {elapsed:6.2f} s, {answers / elapsed:6.0f} answers/s "
              f"(questions and answers, one answer per request), HTTP {dict(statuses)}")
    print(f"postgresql / sqlite answers/s: {rates['postgresql'] / rates['sqlite']:.2f}x")


def main(sizes: list[int]) -> None:
    print(f"python bench/bench_postgres.py {' '.join(map(str, sizes))}   ({os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f})")
    server = PostgresServer(pg_bin(), settings=DURABLE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{'N':>9} {'backend':<10} {'step':<20} {'wall s':>7} {'tasks/s':>9} {'CPU s':>6} {'peak MB':>8}")
            for n in sizes:
                db_steps(Path(tmp), server, n)
            answers_per_second(Path(tmp), server)
    finally:
        server.stop()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000])
