"""Label efficiency of ner.teach and ner.correct with a simulated annotator answering from gold data.

ner.teach: the in-loop model (blank:en, vnerteach.teach.model.TeachModel) scores the spans of a candidate
pool and ner.teach's suggester (vnerteach.teach.suggester.Suggester) makes them questions; a
sorter picks the questions; the annotator accepts exactly when the suggested span is a gold entity;
the model is updated after every 10 answers (as the background worker does). After N decisions,
ner.batch-train's trainer trains a pipeline from blank on the first N answers and it is scored on
held-out sentences with complete gold annotations. prefer_uncertain is compared with the random
sorter (a random order of the same model's candidates), same seed, same pool, same run. Both runs
get the same cold-start patterns (the most frequent entity strings of sentences outside the pool
and the held-out set) mixed in.

ner.correct: documents are annotated completely (the annotator's answer is the gold annotation),
either most-uncertain-first by the in-loop model (ner.correct's look-ahead, --lookahead inputs read
ahead, updated after every 10, re-scored after each update; one order per --measures uncertainty)
or in the order of the pool; after K documents, train from blank on them and score on the held-out set.

The simulated sorter's clock stands still (the live one lets a candidate through after 0.5 s without
a question), so a run's questions depend on --seed only, never on the machine's load.

Data: CoNLL-2003 (eng.train for the pool and patterns, eng.testa for the held-out set) or FUNSD
training forms (one page task per form, words with boxes; held-out: a fixed part of the forms).
Never copied into the repository; read from ../shared/data, $VNERTEACH_BENCH_DATA or --data.

Usage: python bench/al_sim.py [--corpus conll|funsd] [--pool 3000] [--heldout 1000] [--seed 0]
       [--lookahead 1000] [--measures corrections,logprob]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import CONLL_LABELS, FUNSD_LABELS, conll_sentences, data_dir, funsd_forms, task_of
from vnerteach.teach.suggester import Suggester, is_pattern_task
from vnerteach.nlp.evaluation import evaluate
from vnerteach.nlp.layout import task_boxes
from vnerteach.nlp.merge import Merged, merge_answers
from vnerteach.teach.model import TeachModel, TeachSettings
from vnerteach.teach.patterns import PatternMatcher
from vnerteach.nlp.pipeline import Settings
from vnerteach.loop.sorters import get_sorter, prefer_uncertain, random_order
from vnerteach.nlp.training import blank_model, fit

TEACH_N = (250, 500, 1000, 2000)
CORRECT_K = (25, 50, 100, 200)


# --- gold answers -------------------------------------------------------------------------------------------


def gold_merged(task: dict) -> Merged:
    """A complete annotation of a task, for evaluation and for ner.correct answers."""
    starts = {t["start"]: i for i, t in enumerate(task["tokens"])}
    ends = {t["end"]: i + 1 for i, t in enumerate(task["tokens"])}
    boxes = task_boxes(task)
    return Merged(task["_input_hash"], tuple(t["text"] for t in task["tokens"]),
                  tuple(t["ws"] for t in task["tokens"]), tuple(tuple(b) for b in boxes) if boxes else None,
                  sorted((starts[s], ends[e], label) for s, e, label in task["gold"]), [], True)


def gold_answer(task: dict) -> dict:
    """The complete (ner_manual) answer a perfect annotator gives to a task: its gold spans, accepted."""
    eg = {**{k: v for k, v in task.items() if k != "gold"}, "answer": "accept", "_view_id": "ner_manual",
          "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in task["gold"]]}
    starts = {t["start"]: i for i, t in enumerate(eg["tokens"])}
    ends = {t["end"]: i for i, t in enumerate(eg["tokens"])}
    for span in eg["spans"]:
        span["token_start"], span["token_end"] = starts[span["start"]], ends[span["end"]]
    return eg


def frequent_patterns(tasks: list[dict], per_label: int) -> list[dict]:
    """The most frequent entity strings per label, as phrase patterns (the cold start a user would write)."""
    counts: dict[str, Counter] = {}
    for task in tasks:
        for s, e, label in task["gold"]:
            counts.setdefault(label, Counter())[task["text"][s:e]] += 1
    return [{"label": label, "pattern": text, "id": f"{label}:{text}"}
            for label, c in sorted(counts.items()) for text, _ in c.most_common(per_label)]


# --- training and scoring ------------------------------------------------------------------------------


SPREAD_REJECTS = True  # --no-spread: batch-train without merge.spread_rejects, for comparison


def train_blank(merged: list[Merged], labels: list[str], layout: bool, n_iter: int, seed: int = 0,
                vectors: str | None = None, lexemes: bool = False, init_tok2vec=None):
    """A pipeline trained from blank on these merged answers, as ner.batch-train trains it (with --vectors,
    --init-tok2vec: ``pretraining.Pretrained``)."""
    settings = Settings(n_iter=n_iter, seed=seed, spread_rejects=SPREAD_REJECTS, vectors=vectors,
                        lexemes=lexemes)
    return fit(blank_model("en", labels, layout, settings, init_tok2vec), merged, [], settings, init_tok2vec).nlp


def train_and_score(merged: list[Merged], held: list[Merged], labels: list[str], layout: bool, n_iter: int,
                    seed: int = 0) -> float:
    """Train from blank on these merged answers (as ner.batch-train does) and return F1 on the held-out set."""
    if not any(m.ents for m in merged):
        return 0.0
    return evaluate(train_blank(merged, labels, layout, n_iter, seed), held).overall.f


# --- ner.teach -----------------------------------------------------------------------------------------


ABLATE: dict = {}  # --no-length-limit, --ask-rejected, --ask-unlikely: cold-start rules off, for comparison
SCHEDULE: dict = {}  # TeachSettings' update settings from --passes, --replay, --update-batch, --learn-rate


def never_waited() -> float:
    """A clock that stands still: the simulated sorter never lets a candidate through for lack of time."""
    return 0.0


def sorted_questions(sorter: str, suggestions, model: TeachModel, seed: int):
    """The sorter's questions as ner.teach asks them, but independent of wall time (the live sorter lets the
    best passed-over candidate through after 0.5 s without a question, which under load made runs differ)
    and seeded: the same seed gives the same questions on any machine."""
    if sorter == "random":
        return random_order(suggestions, seed=seed, pass_through=is_pattern_task)
    if sorter == "prefer_uncertain":
        return prefer_uncertain(suggestions, pass_through=is_pattern_task, warmup=model.warmup, clock=never_waited)
    return get_sorter(sorter)(suggestions, pass_through=is_pattern_task, clock=never_waited)


def teach_stream(pool: list[dict], labels: list[str], sorter: str, patterns: list[dict], seed: int,
                 sensible: bool = True):
    """Simulated ner.teach, lazily: each binary answer (accept exactly when the span is gold), the model
    updated after every 10 (as the background worker does); ``sensible`` False: every candidate is asked."""
    import spacy

    model = TeachModel.load("blank:en", labels, TeachSettings(seed=seed, **SCHEDULE))
    if ABLATE.get("no_length_limit"):
        model.memory.min_accepts = 10 ** 9  # never enough accepts for the length limit
    if ABLATE.get("ask_rejected"):
        model.memory.rejected = lambda words, label: False  # rejected words are asked again (still spread)
    if ABLATE.get("ask_unlikely"):
        sensible = False  # every candidate is asked: none of the cold-start filters (issue 14 point 3)
    matcher = PatternMatcher(spacy.blank("en"), patterns) if patterns else None
    suggest = Suggester(model, matcher, sensible=sensible)
    gold = {t["_input_hash"]: {tuple(g) for g in t["gold"]} for t in pool}
    stream = (dict(t) for t in pool)
    questions = sorted_questions(sorter, suggest(stream), model, seed)
    batch = []
    for task in questions:
        span = task["spans"][0]
        accept = (span["start"], span["end"], span["label"]) in gold[task["_input_hash"]]
        eg = {k: v for k, v in task.items() if k != "gold"}
        eg.update(answer="accept" if accept else "reject", _view_id="ner")
        batch.append(eg)
        if len(batch) == 10:
            model.update(batch)
            batch = []
        yield eg


def teach_run(pool: list[dict], labels: list[str], sorter: str, patterns: list[dict], n_max: int, seed: int,
              sensible: bool = True):
    """Simulated ner.teach: the answers in the order given and the time it took."""
    answers = []
    start = time.perf_counter()
    for eg in teach_stream(pool, labels, sorter, patterns, seed, sensible):
        answers.append(eg)
        if len(answers) >= n_max:
            break
    return answers, time.perf_counter() - start


def teach_curve(pool, held, labels, patterns, layout, n_iter, seed, out, n_max, sorters=("prefer_uncertain", "random")):
    results = {}
    for sorter in sorters:
        answers, seconds = teach_run(pool, labels, sorter, patterns, n_max, seed)
        accepted = sum(a["answer"] == "accept" for a in answers)
        from_patterns = sum(is_pattern_task(a) for a in answers)
        out(f"teach {sorter:<16} {len(answers)} answers in {seconds:.0f} s; {accepted} accepted, "
            f"{from_patterns} from patterns")
        points = [n for n in TEACH_N if n <= len(answers)]
        if len(answers) < min(n_max, max(TEACH_N)) and len(answers) not in points:
            points.append(len(answers))  # the pool ran out of questions first: a last point on all there are
        for n in points:
            merged = merge_answers(answers[:n], labels).merged
            f = train_and_score(merged, held, labels, layout, n_iter, seed)
            acc_n = sum(a["answer"] == "accept" for a in answers[:n])
            results[(sorter, n)] = f
            out(f"teach {sorter:<16} N={n:>5}  accepted {acc_n:>4}  inputs {len(merged):>4}  F1 {100 * f:5.1f}")
    return results


# --- ner.correct ---------------------------------------------------------------------------------------


def correct_order(pool: list[dict], labels: list[str], k_max: int, seed: int, start: str, lookahead: int,
                  measure: str) -> list[dict]:
    """The documents in the order ner.correct asks them (most uncertain first), updated after every 10."""
    model = TeachModel.load(start, labels, TeachSettings(seed=seed))
    asked, batch = [], []
    gold = {t["_input_hash"]: t for t in pool}
    stream = model.correct((dict(t) for t in pool), lookahead=lookahead, measure=measure, deterministic=True)
    for task in stream:
        full = gold[task["_input_hash"]]
        asked.append(full)
        batch.append(gold_answer(full))
        if len(batch) == 10:
            model.update(batch)
            batch = []
        if len(asked) >= k_max:
            break
    stream.close()
    return asked


def correct_curve(pool, held, labels, layout, n_iter, seed, out, seed_docs, lookahead, measures):
    """ner.correct from a model batch-trained on ``seed_docs`` (a blank model is equally unsure of
    every input, so order would not matter); each point retrains from blank on seed + K documents."""
    k_max = max(CORRECT_K)
    start = time.perf_counter()
    seeded = [gold_merged(t) for t in seed_docs]
    with tempfile.TemporaryDirectory() as tmp:
        train_blank(seeded, labels, layout, n_iter).to_disk(tmp)
        orders = {}
        for measure in measures:
            begun = time.perf_counter()
            orders[measure] = correct_order(pool, labels, k_max, seed, tmp, lookahead, measure)
            out(f"correct: {measure} order of {k_max} documents (--lookahead {lookahead}) in "
                f"{time.perf_counter() - begun:.0f} s")
        orders["in order"] = pool[:k_max]
    out(f"correct: start model trained on {len(seed_docs)} documents outside the pool; "
        f"orders in {time.perf_counter() - start:.0f} s")
    results = {}
    for name, docs in orders.items():
        for k in CORRECT_K:
            merged = seeded + [gold_merged(t) for t in docs[:k]]
            f = train_and_score(merged, held, labels, layout, n_iter, seed)
            ents = sum(len(m.ents) for m in merged)
            results[(name, k)] = f
            out(f"correct {name:<16} K={k:>4}  entities {ents:>5}  F1 {100 * f:5.1f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("conll", "funsd"), default="conll")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--pool", type=int, default=3000, help="candidate pool (sentences or forms)")
    parser.add_argument("--heldout", type=int, default=1000, help="held-out sentences or forms")
    parser.add_argument("--patterns", type=int, default=10, help="cold-start patterns per label (0: none)")
    parser.add_argument("--n-iter", type=int, default=10, help="epochs of each batch-train")
    parser.add_argument("--seed", type=int, default=0,
                        help="draws the pool and held-out set; seeds the in-loop model, the random sorter, batch-train")
    parser.add_argument("--max-n", type=int, default=max(TEACH_N), help="stop ner.teach after this many decisions")
    parser.add_argument("--skip", choices=("teach", "correct"), default=None)
    parser.add_argument("--lookahead", type=int, default=1000, help="ner.correct's look-ahead")
    parser.add_argument("--measures", default="corrections,logprob", help="uncertainties to rank ner.correct by")
    parser.add_argument("--sorters", default="prefer_uncertain,random", help="ner.teach sorters to run")
    parser.add_argument("--passes", type=int, default=None, help="TeachModel passes per update")
    parser.add_argument("--replay", type=int, default=None, help="TeachModel earlier inputs replayed per pass")
    parser.add_argument("--update-batch", type=int, default=None, help="TeachModel inputs per update step")
    parser.add_argument("--learn-rate", type=float, default=None, help="TeachModel Adam learning rate")
    parser.add_argument("--no-spread", action="store_true", help="batch-train without spreading rejects")
    parser.add_argument("--no-length-limit", action="store_true", help="ask spans longer than any accepted too")
    parser.add_argument("--ask-rejected", action="store_true", help="ask words rejected with their label again")
    parser.add_argument("--ask-unlikely", action="store_true",
                        help="ask every candidate (no punctuation/line filter, length limit or rejected words)")
    parser.add_argument("--correct-seed", type=int, default=100,
                        help="documents outside the pool that ner.correct's start model is trained on")
    args = parser.parse_args()
    args.data = args.data or data_dir()
    global SPREAD_REJECTS
    SPREAD_REJECTS = not args.no_spread
    ABLATE.update(no_length_limit=args.no_length_limit, ask_rejected=args.ask_rejected,
                  ask_unlikely=args.ask_unlikely)
    SCHEDULE.update({k: v for k, v in (("passes", args.passes), ("replay", args.replay),
                                       ("update_batch", args.update_batch), ("learn_rate", args.learn_rate))
                     if v is not None})
    rng = random.Random(args.seed)
    if args.corpus == "conll":
        train = [s for s in conll_sentences(args.data / "conll2003" / "eng.train") if len(s[0]) >= 3]
        test = [s for s in conll_sentences(args.data / "conll2003" / "eng.testa") if len(s[0]) >= 3]
        rng.shuffle(train)
        rng.shuffle(test)
        pool = [task_of(w, e) for w, e in train[:args.pool]]
        source_for_patterns = [task_of(w, e) for w, e in train[args.pool:args.pool + 3000]]
        seed_docs = source_for_patterns[:args.correct_seed]
        held_tasks = [task_of(w, e) for w, e in test[:args.heldout]]
        labels, layout = CONLL_LABELS, False
        what = (f"CoNLL-2003: pool {len(pool)} random eng.train sentences (>= 3 tokens, seed {args.seed}), "
                f"held-out {len(held_tasks)} random eng.testa sentences")
    else:
        forms = funsd_forms(args.data / "funsd" / "training_data")
        rng.shuffle(forms)
        held_tasks = forms[:args.heldout]
        pool = forms[args.heldout:args.heldout + args.pool]
        source_for_patterns = pool  # no third split in 149 forms: patterns from the pool's own gold
        seed_docs = forms[args.heldout + args.pool:][:args.correct_seed]
        labels, layout = FUNSD_LABELS, True
        what = f"FUNSD: pool {len(pool)} forms, held-out {len(held_tasks)} forms (seed {args.seed})"
    patterns = frequent_patterns(source_for_patterns, args.patterns) if args.patterns else []
    held = [gold_merged(t) for t in held_tasks]

    def out(line: str) -> None:
        print(line, flush=True)

    out(f"{what}; {len(patterns)} patterns; batch-train {args.n_iter} epochs from blank per point; "
        f"in-loop schedule {SCHEDULE or 'default'}; spread rejects {SPREAD_REJECTS}; "
        f"off: {', '.join(k for k, v in ABLATE.items() if v) or 'nothing'}")
    started = time.perf_counter()
    if args.skip != "teach":
        teach = teach_curve(pool, held, labels, patterns, layout, args.n_iter, args.seed, out, args.max_n,
                            tuple(args.sorters.split(",")))
        for n in TEACH_N:
            if ("prefer_uncertain", n) in teach and ("random", 2 * n) in teach:
                out(f"teach: prefer_uncertain at N={n}: {100 * teach[('prefer_uncertain', n)]:.1f}; "
                    f"random at 2N={2 * n}: {100 * teach[('random', 2 * n)]:.1f}")
    if args.skip != "correct":
        correct_curve(pool, held, labels, layout, args.n_iter, args.seed, out, seed_docs, args.lookahead,
                      [m for m in args.measures.split(",") if m])
    out(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
