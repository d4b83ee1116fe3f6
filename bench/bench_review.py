"""review and stats --agreement on CoNLL-2003 sentences answered by three simulated annotators (issue 15 point 3).

Each annotator gives the complete gold annotation of a sentence except that each gold entity is
missed with probability --miss, independently per annotator (seeded). Two annotators then agree
on a gold span with probability (1 - miss)^2 and disagree with probability 2 miss (1 - miss), so
the expected span-level F1 between them is 1 - miss for every label: the agreement the library
reports is checked against that. Timed, in the same run: reading the answers back from SQLite
(the baseline), grouping them into versions (review.collect), the agreement, and the review tasks
of the inputs they disagree on; peak RSS of the process after each step.

Usage: python bench/bench_review.py [--sentences 10000] [--miss 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from common import conll_sentences, data_dir
from vnerteach.datasets.agreement import agreement
from vnerteach.datasets.review import collect, complete_annotations, review_task
from vnerteach.store import Store
from vnerteach.tasks import set_hashes

ANNOTATORS = ("news-anna", "news-ben", "news-cleo")


def answers(sentences, miss: float, seed: int):
    """Each annotator's complete annotation of every sentence, each gold entity missed with probability ``miss``."""
    for n, who in enumerate(ANNOTATORS):
        rng = random.Random(seed * 1000 + n)
        for words, ents in sentences:
            tokens, at = [], 0
            for i, w in enumerate(words):
                tokens.append({"text": w, "start": at, "end": at + len(w), "id": i, "ws": i < len(words) - 1})
                at += len(w) + 1
            spans = [{"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s, "token_end": e - 1,
                      "label": label} for s, e, label in ents if rng.random() >= miss]
            yield set_hashes({"text": " ".join(words), "tokens": tokens, "spans": spans, "answer": "accept",
                              "_view_id": "ner_manual", "_session_id": who})


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--miss", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pool = [s for s in conll_sentences(data_dir() / "conll2003" / "eng.train") if len(s[0]) >= 3 and s[1]]
    sentences = random.Random(args.seed).sample(pool, min(args.sentences, len(pool)))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.db"))
        t = time.perf_counter()
        stored = store.add_examples(answers(sentences, args.miss, args.seed), ["news"])
        print(f"{len(sentences)} CoNLL-2003 sentences with entities, {len(ANNOTATORS)} annotators, miss {args.miss}, "
              f"seed {args.seed}: {stored} answers stored in {time.perf_counter() - t:.1f} s; RSS {rss_mb():.0f} MB")
        t = time.perf_counter()
        read = sum(1 for _ in store.iter_examples("news"))
        baseline = time.perf_counter() - t
        print(f"read back (baseline): {read} answers in {baseline:.2f} s; RSS {rss_mb():.0f} MB")
        t = time.perf_counter()
        items = collect({"news": store.iter_examples("news")})
        grouped = time.perf_counter() - t
        print(f"review.collect: {len(items)} inputs in {grouped:.2f} s ({grouped / baseline:.2f}x the read); "
              f"RSS {rss_mb():.0f} MB")
        t = time.perf_counter()
        result = agreement(complete_annotations(items)[0])
        spent = time.perf_counter() - t
        print(f"agreement: {result.pairs} pairs in {spent:.2f} s ({spent / baseline:.2f}x the read)")
        t = time.perf_counter()
        tasks = [review_task(item) for item in items if not item.agreed]
        spent = time.perf_counter() - t
        print(f"review tasks: {len(tasks)} inputs with different versions ({len(items) - len(tasks)} agreed) in "
              f"{spent:.2f} s ({spent / baseline:.2f}x the read); RSS {rss_mb():.0f} MB")
        print(f"\n{'label':<8} {'F1':>6} {'expected':>9} {'agreed':>7} {'disagreed':>9} {'inputs':>7}")
        for row in [*result.labels, result.overall]:
            print(f"{row.label or 'all':<8} {100 * row.f1:6.1f} {100 * (1 - args.miss):9.1f} {row.agreed:7d} "
                  f"{row.disagreed:9d} {row.inputs:7d}")
        store.close()


if __name__ == "__main__":
    main()
