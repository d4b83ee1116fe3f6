"""The ceiling of pre-filling (issue 14): a perfect model's pre-fills, in source order, against ner.manual.

With every pre-filled span right, an input costs its reading plus KEEP_S per span instead of EDIT_S
per span (bench/annotator_time.py's cost model). The inputs such an annotator finishes in N minutes
are the ones ner.manual finishes in the printed minutes, so, in source order, no model can make
ner.correct at N minutes reach more than ner.manual at that many minutes: the ratio bounds what
pre-filling alone can save; beating it needs inputs that teach more per minute than source order.

Usage: python bench/prefill_ceiling.py conll|funsd|sroie [--minutes 15,30,60]
"""

from __future__ import annotations

import argparse

import annotator_time as at
from common import data_dir


def ceiling(corpus: at.Corpus, minutes: int) -> tuple[int, float]:
    """Inputs a perfect model's pre-fills let one finish in ``minutes``, and the minutes ner.manual needs for them."""
    spent, n = 0.0, 0
    for task in corpus.pool:
        cost = at.complete_cost(task["gold"], task["gold"], corpus.read_s)
        if spent + cost > minutes * 60:
            break
        spent, n = spent + cost, n + 1
    return n, sum(at.complete_cost([], t["gold"], corpus.read_s) for t in corpus.pool[:n]) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", choices=sorted(at.CORPORA))
    parser.add_argument("--minutes", type=at.int_list, default=[15, 30, 60])
    parser.add_argument("--seeds", type=at.int_list, default=list(at.SEEDS))
    args = parser.parse_args()
    pool, heldout, _ = at.SIZES[args.corpus]
    print(f"python bench/prefill_ceiling.py {args.corpus} --minutes {','.join(map(str, args.minutes))}")
    for seed in args.seeds:
        corpus = at.CORPORA[args.corpus](data_dir(), seed, pool, heldout)
        parts = []
        for minutes in args.minutes:
            n, manual = ceiling(corpus, minutes)
            parts.append(f"{minutes} min: {n} inputs = ner.manual's {manual:.1f} min ({manual / minutes:.2f}x)")
        print(f"{args.corpus} seed {seed}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
