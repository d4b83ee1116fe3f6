"""Cold-start questions of ner.teach: the share no annotator would accept (punctuation or function words only, across
a line), and the share the annotator accepts.

A simulated ner.teach session from blank:en with the same cold-start patterns as bench/al_sim.py
(the most frequent gold entity strings per label), answered from gold and updated every 10
answers, once with the candidate filter (``Suggester(model, matcher, sensible=True)``, the default)
and once without it (the baseline), same seed, same pool, same run. For the first N questions it
prints how many are punctuation-only, function words only (spaCy's English stop words; an acronym
in capitals is not one) or cross a line (``vnerteach.teach.sensible.unlikely``), how many
carry a score (a model that has learnt fewer than ``model.CONFIDENT_AFTER`` accepted entities gives
none), how many the annotator accepted, and how many came from patterns. CoNLL-2003 sentences have no lines; FUNSD
forms are page tasks with word boxes.

Usage: python bench/coldstart.py [--corpus conll|funsd|both] [--questions 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from al_sim import frequent_patterns, teach_run
from common import CONLL_LABELS, FUNSD_LABELS, conll_sentences, data_dir, funsd_forms, task_of
from vnerteach.teach.sensible import unlikely
from vnerteach.teach.suggester import is_pattern_task

STOP_WORDS = frozenset(__import__("spacy").blank("en").Defaults.stop_words)


def corpus(name: str, data: Path, pool_size: int, seed: int) -> tuple[list[dict], list[dict], list[str]]:
    """The pool of tasks, the cold-start patterns and the labels of a corpus (as al_sim makes them)."""
    rng = random.Random(seed)
    if name == "conll":
        train = [s for s in conll_sentences(data / "conll2003" / "eng.train") if len(s[0]) >= 3]
        rng.shuffle(train)
        pool = [task_of(w, e) for w, e in train[:pool_size]]
        patterns = frequent_patterns([task_of(w, e) for w, e in train[pool_size:pool_size + 3000]], 10)
        return pool, patterns, CONLL_LABELS
    forms = funsd_forms(data / "funsd" / "training_data")
    rng.shuffle(forms)
    return forms[:pool_size], frequent_patterns(forms, 10), FUNSD_LABELS


def measure(name: str, data: Path, pool_size: int, questions: int, seed: int) -> None:
    pool, patterns, labels = corpus(name, data, pool_size, seed)
    for sensible in (False, True):
        answers, seconds = teach_run(pool, labels, "prefer_uncertain", patterns, questions, seed, sensible=sensible)
        reasons = [unlikely(a["tokens"], a["spans"][0]["token_start"], a["spans"][0]["token_end"] + 1, STOP_WORDS)
                   for a in answers]
        punct, words, line = (reasons.count(r) for r in ("punctuation only", "function words only", "crosses a line"))
        accepted = sum(a["answer"] == "accept" for a in answers)
        scored = sum(a["spans"][0].get("score") is not None for a in answers)
        n = max(1, len(answers))
        print(f"{name:<6} {'filter' if sensible else 'baseline':<8} {len(answers)} questions in {seconds:.0f} s: "
              f"junk {punct + words} (punctuation only {punct}, function words only {words}), crossing a line "
              f"{line} ({100 * line / n:.1f}%), accepted {accepted} ({100 * accepted / n:.1f}%), "
              f"with a score {scored}, from patterns {sum(is_pattern_task(a) for a in answers)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("conll", "funsd", "both"), default="both")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=300, help="questions of each cold start")
    parser.add_argument("--pool", type=int, default=3000, help="CoNLL sentences (FUNSD: all 149 forms)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = args.data or data_dir()
    started = time.perf_counter()
    for name in ("conll", "funsd") if args.corpus == "both" else (args.corpus,):
        measure(name, data, args.pool if name == "conll" else 149, args.questions, args.seed)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
