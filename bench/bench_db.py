"""db-in / db-out throughput and peak memory on 100,000 tasks (issue 2's figures).

Runs the real `vnerteach` command in child processes (start-up included): CPU seconds of each
command's whole process tree and its main process's peak RSS (common.run). Two corpora: plain text
tasks, and annotated tasks as ner.manual would write them (tokens and spans).
Usage: python bench/bench_db.py [N]
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from common import VNERTEACH, run

WORDS = ("the market rose after Apple and Siemens reported results in London Berlin while analysts "
         "from Goldman Sachs said growth in India would slow next year according to Reuters").split()


def make_corpus(path: Path, n: int, annotated: bool, seed: int = 0) -> None:
    """Write n distinct tasks of about 20 words."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf8") as f:
        for i in range(n):
            words = [rng.choice(WORDS) for _ in range(19)] + [f"#{i}"]
            text = " ".join(words)
            task: dict = {"text": text, "meta": {"source": "bench", "id": i}}
            if annotated:
                tokens, start = [], 0
                for j, w in enumerate(words):
                    tokens.append({"text": w, "start": start, "end": start + len(w), "id": j, "ws": j < len(words) - 1})
                    start += len(w) + 1
                task["tokens"] = tokens
                task["spans"] = [{"start": tokens[k]["start"], "end": tokens[k]["end"], "token_start": k,
                                  "token_end": k, "label": "ORG"} for k in (2, 7)]
                task["answer"] = rng.choice(["accept", "accept", "reject", "ignore"])
            f.write(json.dumps(task) + "\n")


def main(n: int = 100_000) -> None:
    print(f"python bench/bench_db.py {n}   ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})")
    print(f"{'corpus':<10} {'step':<22} {'wall s':>7} {'tasks/s':>9} {'CPU s':>6} {'tasks/CPU s':>11} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind in ("plain", "annotated"):
            src = tmp / f"{kind}.jsonl"
            make_corpus(src, n, annotated=kind == "annotated")
            env = {**os.environ, "VNERTEACH_DB": str(tmp / f"{kind}.db"), "VNERTEACH_HOME": str(tmp)}
            baseline = run([sys.executable, "-c", "import sys, json\nfor l in open(sys.argv[1]): json.loads(l)",
                               str(src)], env)
            rows = [("json.loads only (ref)", *baseline)]
            first = run(VNERTEACH + ["db-in", "bench", str(src)], env)
            rows.append(("db-in", *first))
            again = run(VNERTEACH + ["db-in", "bench", str(src)], env)
            rows.append(("db-in again (dedup)", *again))
            with open(tmp / "out.jsonl", "w") as out:
                rows.append(("db-out (stdout)", *run(VNERTEACH + ["db-out", "bench"], env, stdout=out)))
            exported = sum(1 for _ in open(tmp / "out.jsonl"))
            assert exported == n, f"exported {exported} of {n}"
            for step, wall, cpu, peak in rows:
                print(f"{kind:<10} {step:<22} {wall:>7.2f} {n / wall:>9,.0f} {cpu:>6.2f} {n / cpu:>11,.0f} {peak:>8.0f}")
            print(f"{kind:<10} re-import / first import time: {again[0] / first[0]:.2f}x; "
                  f"file {src.stat().st_size / 1e6:.0f} MB, database {(tmp / f'{kind}.db').stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
