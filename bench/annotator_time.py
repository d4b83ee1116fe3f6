"""Quality per annotator-minute: a simulated annotator answering from gold data, charged a fixed cost per action.

Each strategy produces answers one at a time with the seconds a person would spend on each (the cost
model below). At each checkpoint (simulated minutes) a pipeline is trained from blank on the answers so
far with ner.batch-train's trainer and scored on held-out data: entity F1 (CoNLL-2003, FUNSD) or field
exact match averaged over the four fields (SROIE). One JSON line per corpus/strategy/seed/minute is
appended to the results file as soon as it is measured, so a rerun skips what is done.

Strategies (each a small adapter over the public TeachModel methods the recipes use):
  manual             ner.manual in source order, no pattern pre-fills (the baseline)
  correct_order      ner.correct in source order (look-ahead 1: each input pre-filled by the latest model)
  correct_uncertain  ner.correct most uncertain first (the recipe's look-ahead)
  teach_uncertain    ner.teach with prefer_uncertain, cold-start patterns mixed in
  teach_random       ner.teach with the random sorter, the same patterns
  hand_then_correct  ner.manual for the first RECOMMENDED_MANUAL_S, ner.batch-train from blank on those answers
                     (--eval-split 0, its default 10 epochs), then ner.correct uncertain-first (its default
                     look-ahead) starting from that model
  recommended        the README's workflow: hand_then_correct on text, correct_uncertain (ner.correct from
                     blank:LANG) on pages
The in-loop models (ner.teach and ner.correct) start blank. ner.correct's learns from every --update-every
answers (default 10, the setting of the recorded text runs); the recipe learns from every answer, as the app
posts each one as it is made and the server queues an update per post, so 1 is the recipe's behaviour.
ner.correct ranks its look-ahead by --measure (a name in vnerteach.teach.lookahead.MEASURES, default "corrections");
the report shows a strategy ranked by another measure as "strategy (measure)".

--retrain SCHEDULE adds a periodic retrain from blank to ner.correct's in-loop model (correct_*,
hand_then_correct, recommended), on top of its online updates: when the answered inputs (all of the
strategy's answers, the by-hand ones included) reach a count of the schedule ("5,10,20,40,80"; "every:K":
every K answers; "double": at 5, then whenever the answers have doubled since the last retrain or since the
answers the starting model was trained on; "cont": as soon as the previous one is swapped in), a pipeline is trained from blank on
all answers so far with ner.batch-train's trainer (--retrain-epochs, default 10) and swapped into the
TeachModel (TeachModel.swap, as the warm start does). It trains in the background in the product, so in
simulated time it becomes available only after a delay: the CPU seconds the training thread took
(time.thread_time, what it takes on an otherwise idle core) pass on the simulated clock, and it is swapped in
after the first answer that ends at or past that moment. One retrain at a time: a count reached while one is
training starts the next when it is swapped in. --passes / --replay set the TeachModel's epochs over replay.
The report names such a strategy "strategy [retrain SCHEDULE]" etc.

Usage:
  python bench/annotator_time.py --corpus conll [--seeds 0,1,2] [--minutes 5,10,15,30,60,120]
  python bench/annotator_time.py --corpus sroie --quick          # a few minutes: checks the harness
  python bench/annotator_time.py --corpus conll --report         # table and bench/annotator_time-conll.png
  python bench/annotator_time.py --corpus conll --vectors '/tmp/vec/conll-{seed}'   # word vectors (make_vectors.py)
  python bench/annotator_time.py --corpus conll --lexemes        # Brown clusters and word probabilities
--vectors and --lexemes apply to the in-loop models of ner.correct and to every training from blank (the scoring's and
hand_then_correct's); the ner.teach strategies ignore them.
Data: common.data_dir() (or --data, a folder with conll2003/, funsd/, sroie/), never copied.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from al_sim import frequent_patterns, gold_answer, gold_merged, teach_stream, train_blank
from common import (CONLL_LABELS, FUNSD_LABELS, SROIE_FIELDS, conll_sentences, data_dir, funsd_forms, sroie_keys,
                    sroie_tasks, task_of)
from vnerteach.teach.lookahead import MEASURES
from vnerteach.teach.model import MIN_PREFILL
from vnerteach.teach.payoff import BREAK_EVEN, KEPT_WINDOW, figure, kept

BENCH = Path(__file__).resolve().parent

# --- the cost model (vnerteach/costs.py; fixed: results are only comparable under the same costs) ----------------

from vnerteach.teach.costs import BINARY_S, EDIT_S, KEEP_S, READ_PAGE_S, READ_SENTENCE_S  # noqa: E402,F401

RECOMMENDED_MANUAL_S = 180.0  # hand_then_correct labels by hand for its first 3 minutes
RECOMMENDED_EPOCHS = 10  # ner.batch-train's default --n-iter, for the model hand_then_correct corrects with
UPDATE_EVERY = 10  # answers per update of ner.correct's in-loop model (--update-every; the recipe: 1)
LOOKAHEAD = 256  # ner.correct's default --lookahead: inputs read ahead and ranked
MEASURE = "corrections"  # what ner.correct ranks its look-ahead by (vnerteach.teach.lookahead.MEASURES)

MINUTES = (5, 10, 15, 30, 60, 120)
SEEDS = (0, 1, 2)
SPLIT_SEED = 1234  # the held-out set is the same for every seed; the seed draws the pool's order

Triple = tuple[int, int, str]


def complete_cost(suggested: list[Triple], gold: list[Triple], read_s: float) -> float:
    """Seconds to turn the suggested spans (character offsets) into the gold annotation of one input."""
    suggested, gold = {tuple(s) for s in suggested}, {tuple(g) for g in gold}
    kept = suggested & gold
    wrong, missing = sorted(suggested - gold), sorted(gold - suggested)
    edits = 0
    for g in missing:  # a wrong span overlapping a missing one is fixed in one action (boundary or label)
        hit = next((w for w in wrong if w[0] < g[1] and g[0] < w[1]), None)
        if hit is not None:
            wrong.remove(hit)
        edits += 1
    edits += len(wrong)  # the rest removed
    return read_s + EDIT_S * edits + KEEP_S * len(kept)


# --- corpora ---------------------------------------------------------------------------------------------------


@dataclass
class Corpus:
    """Tasks to annotate (with ``gold`` spans), the held-out data and how it is scored."""

    name: str
    labels: list[str]
    layout: bool
    read_s: float
    lookahead: int
    pool: list[dict]
    held: list  # Merged (entity F1) or (pages, gold fields) per document (field exact match)
    patterns: list[dict] = field(default_factory=list)
    fields: bool = False
    update_every: int = UPDATE_EVERY  # answers per update of ner.correct's in-loop model
    min_prefill: float = MIN_PREFILL  # ner.correct's --min-prefill
    measure: str = MEASURE  # what ner.correct ranks its look-ahead by
    retrain: str = ""  # the retrain schedule (--retrain), "" for none
    retrain_epochs: int = RECOMMENDED_EPOCHS
    model_kwargs: dict = field(default_factory=dict)  # TeachSettings' passes/replay (--passes, --replay)
    vectors: str | None = None  # --vectors: static word vectors for the in-loop models and the scoring's training
    lexemes: bool = False  # --lexemes: Brown clusters and word probabilities (spacy-lookups-data) as features
    hand_s: float = RECOMMENDED_MANUAL_S  # hand_then_correct's seconds by hand before its batch-train (--hand-minutes)
    init_tok2vec: str | None = None  # --init-tok2vec: weights of `vnerteach pretrain` for every model from blank

    @property
    def pretrained(self):
        """The --init-tok2vec weights (read once per corpus), or None."""
        if self.init_tok2vec is None:
            return None
        if "_pretrained" not in self.__dict__:
            from vnerteach.nlp.pretraining import load_pretrained

            self.__dict__["_pretrained"] = load_pretrained(self.init_tok2vec)
        return self.__dict__["_pretrained"]

    def by_hash(self) -> dict[int, dict]:
        """Pool tasks by input hash."""
        return {t["_input_hash"]: t for t in self.pool}


def conll_corpus(data: Path, seed: int, pool: int, heldout: int) -> Corpus:
    """CoNLL-2003: the pool from eng.train (>= 3 tokens) in the seed's order; held-out eng.testa sentences."""
    train = [s for s in conll_sentences(data / "conll2003" / "eng.train") if len(s[0]) >= 3]
    test = [s for s in conll_sentences(data / "conll2003" / "eng.testa") if len(s[0]) >= 3]
    random.Random(seed).shuffle(train)
    random.Random(SPLIT_SEED).shuffle(test)
    rest = [task_of(w, e) for w, e in train[pool:pool + 3000]]
    return Corpus("conll", CONLL_LABELS, False, READ_SENTENCE_S, LOOKAHEAD,
                  [task_of(w, e) for w, e in train[:pool]], [gold_merged(task_of(w, e)) for w, e in test[:heldout]],
                  frequent_patterns(rest, 10))


def funsd_corpus(data: Path, seed: int, pool: int, heldout: int) -> Corpus:
    """FUNSD training forms: a fixed held-out part, the rest the pool in the seed's order."""
    forms = funsd_forms(data / "funsd" / "training_data")
    random.Random(SPLIT_SEED).shuffle(forms)
    held, rest = forms[:heldout], forms[heldout:]
    random.Random(seed).shuffle(rest)
    rest = rest[:pool]
    # 149 forms leave no third part: patterns come from the pool's own gold (as in al_sim)
    return Corpus("funsd", FUNSD_LABELS, True, READ_PAGE_S, LOOKAHEAD, rest,
                  [gold_merged(t) for t in held], frequent_patterns(rest, 10))


def sroie_corpus(data: Path, seed: int, pool: int, heldout: int) -> Corpus:
    """SROIE receipts OCR'd as bench_train does (cached), labelled by sroie_labels; held-out: the last receipts."""
    tasks, gold = sroie_tasks(sroie_keys(pool + heldout))
    for task in tasks:
        task["gold"] = [[s["start"], s["end"], s["label"]] for s in task.pop("spans")]
        for key in ("answer", "_view_id"):
            task.pop(key, None)
    held, rest = tasks[len(tasks) - heldout:], tasks[:len(tasks) - heldout]
    random.Random(seed).shuffle(rest)
    documents = [([{k: v for k, v in t.items() if k != "gold"}],
                  {f.upper(): {gold[t["meta"]["key"]][f]} for f in SROIE_FIELDS if gold[t["meta"]["key"]].get(f)})
                 for t in held]
    return Corpus("sroie", [f.upper() for f in SROIE_FIELDS], True, READ_PAGE_S, LOOKAHEAD, rest, documents,
                  frequent_patterns(rest, 10), fields=True)


CORPORA = {"conll": conll_corpus, "funsd": funsd_corpus, "sroie": sroie_corpus}
# pool, held-out, epochs of each batch-train: full runs and --quick
SIZES = {"conll": (3000, 500, 5), "funsd": (119, 30, 10), "sroie": (120, 30, 10)}
QUICK = {"conll": (300, 100, 2), "funsd": (20, 10, 2), "sroie": (20, 10, 2)}
QUICK_MINUTES = (2, 5)


# --- strategies: (answer, seconds) one at a time ----------------------------------------------------------------

Answers = Iterator[tuple[dict, float]]


def _model(corpus: Corpus, seed: int):
    from vnerteach.teach.model import TeachModel, TeachSettings
    from vnerteach.nlp.pipeline import Settings

    return TeachModel.load("blank:en", corpus.labels, TeachSettings(
        seed=seed, init_tok2vec=corpus.pretrained, pipeline=Settings(vectors=corpus.vectors, lexemes=corpus.lexemes),
        **corpus.model_kwargs))


def parse_schedule(text: str) -> Callable[[int, int], bool]:
    """--retrain's schedule -> due(answered, answered at the last retrain started): whether to start one now."""
    text = text.strip()
    if text == "double":  # 5, then whenever doubled (the schedule tried in the product: branch schedule-retrainer)
        return lambda n, last: n >= max(5, 2 * last)
    if text == "cont":
        return lambda n, last: n > last
    if text.startswith("every:"):
        k = int(text.split(":", 1)[1])
        if k < 1:
            raise ValueError(text)
        return lambda n, last: n - last >= k
    counts = sorted(int(x) for x in text.split(",") if x.strip())
    if not counts or counts[0] < 1:
        raise ValueError(text)
    return lambda n, last: any(last < c <= n for c in counts)


def schedule_arg(text: str) -> str:
    """--retrain checked: "5,10,20", "double", "every:K" or "cont" ("": none)."""
    if not text.strip():
        return ""
    try:
        parse_schedule(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts (5,10,20), double, every:K or cont, not {text!r}") from None
    return text


@dataclass
class Retrain:
    """The periodic retrain of a simulated ner.correct: the one training (ready at simulated second ``ready``)."""

    corpus: Corpus
    seed: int
    due: Callable[[int, int], bool]
    last: int = 0  # answers the last retrain started with
    pending: tuple | None = None  # (ready at simulated s, pipeline, trained on answers, CPU s)
    log: list = field(default_factory=list)  # (answers at start, at swap, CPU s) per retrain swapped in

    def after(self, model, answers: list[dict], clock: float) -> None:
        """After an answer (and its online update) at simulated ``clock``: swap a finished retrain in, start one."""
        from vnerteach.nlp.merge import merge_answers

        if self.pending is not None and clock >= self.pending[0]:
            _ready, nlp, n, cpu = self.pending
            model.swap(nlp)
            self.log.append((n, len(answers), round(cpu, 1)))
            self.pending = None
        if self.pending is None and self.due(len(answers), self.last):
            merged = merge_answers(answers, self.corpus.labels).merged
            self.last = len(answers)
            if not any(m.ents for m in merged):
                return
            start = time.thread_time()
            nlp = train_blank(merged, self.corpus.labels, self.corpus.layout, self.corpus.retrain_epochs, self.seed,
                              vectors=self.corpus.vectors, lexemes=self.corpus.lexemes,
                              init_tok2vec=self.corpus.pretrained)
            cpu = time.thread_time() - start
            self.pending = (clock + cpu, nlp, len(answers), cpu)


RETRAINS: list = []  # the Retrain of the last simulation (its log goes into the result rows)


def _fresh(tasks: list[dict]) -> Iterator[dict]:
    return (dict(t) for t in tasks)


def _corrected(corpus: Corpus, model, tasks: list[dict], lookahead: int, seed: int = 0,
               earlier: tuple[list[dict], float] = ([], 0.0)) -> Answers:
    """The gold answer to each pre-filled task ner.correct shows (most uncertain of ``lookahead`` read
    ahead first; 1 is source order), charged for the edits; the model learns (and with ``corpus.retrain``
    is retrained from blank on the schedule). ``earlier``: the strategy's answers before these and their seconds."""
    gold, batch = corpus.by_hash(), []
    answers, clock = list(earlier[0]), earlier[1]
    # the answers the starting model was trained on (hand_then_correct's MODEL) count as the last retrain's
    retrain = Retrain(corpus, seed, parse_schedule(corpus.retrain), last=len(earlier[0])) if corpus.retrain else None
    RETRAINS[:] = [retrain] if retrain is not None else []
    stream = model.correct(_fresh(tasks), lookahead=lookahead, deterministic=True, min_prefill=corpus.min_prefill,
                           measure=corpus.measure)
    try:
        for task in stream:
            full = gold[task["_input_hash"]]
            eg = gold_answer(full)
            eg["meta"] = {**(eg.get("meta") or {}), "prefilled": [[s["start"], s["end"], s["label"]]
                                                                  for s in task.get("spans") or []]}
            cost = complete_cost([(s["start"], s["end"], s["label"]) for s in task.get("spans") or []],
                                 full["gold"], corpus.read_s)
            yield eg, cost
            clock += cost
            answers.append(eg)
            batch.append(eg)
            if len(batch) == corpus.update_every:
                model.update(batch)
                batch = []
            if retrain is not None:
                retrain.after(model, answers, clock)
    finally:
        stream.close()


def manual(corpus: Corpus, seed: int) -> Answers:
    """ner.manual in source order: every span added by hand."""
    for task in corpus.pool:
        yield gold_answer(task), complete_cost([], task["gold"], corpus.read_s)


def correct_order(corpus: Corpus, seed: int) -> Answers:
    """ner.correct in source order: each input pre-filled by the latest in-loop model."""
    model = _model(corpus, seed)
    yield from _corrected(corpus, model, corpus.pool, lookahead=1, seed=seed)


def correct_uncertain(corpus: Corpus, seed: int) -> Answers:
    """ner.correct as the recipe runs it: the most uncertain of the inputs read ahead first."""
    model = _model(corpus, seed)
    yield from _corrected(corpus, model, corpus.pool, lookahead=corpus.lookahead, seed=seed)


def teach_uncertain(corpus: Corpus, seed: int) -> Answers:
    """ner.teach with prefer_uncertain and cold-start patterns."""
    for eg in teach_stream(corpus.pool, corpus.labels, "prefer_uncertain", corpus.patterns, seed):
        yield eg, BINARY_S


def teach_random(corpus: Corpus, seed: int) -> Answers:
    """ner.teach with the random sorter and the same patterns."""
    for eg in teach_stream(corpus.pool, corpus.labels, "random", corpus.patterns, seed):
        yield eg, BINARY_S


def hand_then_correct(corpus: Corpus, seed: int) -> Answers:
    """By hand for RECOMMENDED_MANUAL_S, ner.batch-train on those answers, then ner.correct uncertain-first with the
    saved model (loaded as the recipe loads MODEL)."""
    import tempfile

    from vnerteach.nlp.merge import merge_answers
    from vnerteach.teach.model import TeachModel, TeachSettings

    spent, first = 0.0, []
    for task in corpus.pool:
        if spent >= corpus.hand_s:
            break
        eg, cost = gold_answer(task), complete_cost([], task["gold"], corpus.read_s)
        spent += cost
        first.append(eg)
        yield eg, cost
    merged = merge_answers(first, corpus.labels).merged
    if not any(m.ents for m in merged):  # nothing to train on: ner.correct from blank
        model = _model(corpus, seed)
    else:
        with tempfile.TemporaryDirectory() as folder:
            train_blank(merged, corpus.labels, corpus.layout, RECOMMENDED_EPOCHS, seed, vectors=corpus.vectors,
                        lexemes=corpus.lexemes, init_tok2vec=corpus.pretrained).to_disk(folder)
            model = TeachModel.load(folder, corpus.labels, TeachSettings(seed=seed, **corpus.model_kwargs))
    done = {eg["_input_hash"] for eg in first}
    rest = [t for t in corpus.pool if t["_input_hash"] not in done]
    yield from _corrected(corpus, model, rest, lookahead=corpus.lookahead, seed=seed, earlier=(first, spent))


def recommended(corpus: Corpus, seed: int) -> Answers:
    """The README's recommended workflow: on text a few minutes by hand first; on pages ner.correct from the start."""
    return correct_uncertain(corpus, seed) if corpus.layout else hand_then_correct(corpus, seed)


STRATEGIES: dict[str, Callable[[Corpus, int], Answers]] = {
    f.__name__: f for f in (manual, correct_order, correct_uncertain, teach_uncertain, teach_random, hand_then_correct,
                            recommended)}
RANKED = ("correct_uncertain", "hand_then_correct", "recommended")  # the strategies --measure changes
IN_LOOP = RANKED + ("correct_order",)  # the strategies --retrain, --passes, --replay change


def variant(row: dict) -> str:
    """A row's settings that are not the defaults: "[retrain 5,10,20; passes 1]", "[pretrained tok2vec]", or ""."""
    if row["strategy"] not in IN_LOOP:
        return " [pretrained tok2vec]" if row.get("init_tok2vec") else ""
    parts = [f"retrain {row['retrain']}" + (f" x{row['retrain_epochs']}" if row.get("retrain_epochs", 10) != 10 else "")
             ] if row.get("retrain") else []
    parts += [f"{k} {v}" for k, v in sorted((row.get("model_kwargs") or {}).items())]
    if row["strategy"] == "hand_then_correct" and row.get("hand_s", RECOMMENDED_MANUAL_S) != RECOMMENDED_MANUAL_S:
        parts.append(f"{row['hand_s'] / 60:g} min by hand")
    if row.get("init_tok2vec"):
        parts.append("pretrained tok2vec")
    return f" [{'; '.join(parts)}]" if parts else ""


def strategy_name(row: dict) -> str:
    """A result row's strategy, with its measure when it is ranked by another than the default: "recommended (roi)",
    and its in-loop settings: "recommended [retrain cont]"."""
    measure = row.get("measure", MEASURE)
    name = row["strategy"] if measure == MEASURE or row["strategy"] not in RANKED else f"{row['strategy']} ({measure})"
    return name + (" + vectors" if row.get("vectors") else "") + (" + lexemes" if row.get("lexemes") else "") \
        + variant(row)


# --- checkpoints ---------------------------------------------------------------------------------------------


def simulate(strategy: str, corpus: Corpus, seed: int, limit_s: float) -> tuple[list[dict], list[float], bool]:
    """The answers given within ``limit_s`` simulated seconds, the clock after each, and whether the pool ran out."""
    answers, clock, now = [], [], 0.0
    for eg, cost in STRATEGIES[strategy](corpus, seed):
        if now + cost > limit_s:
            return answers, clock, False
        now += cost
        answers.append(eg)
        clock.append(now)
    return answers, clock, True


def score(corpus: Corpus, answers: list[dict], epochs: int, seed: int) -> tuple[float, dict[str, float], dict]:
    """Train from blank on the answers (ner.batch-train's trainer) and score on the held-out data."""
    from vnerteach.nlp.evaluation import evaluate
    from vnerteach.nlp.field_scores import score_fields
    from vnerteach.nlp.merge import merge_answers

    merged = merge_answers(answers, corpus.labels).merged
    facts = {"inputs": len(merged), "entities": sum(len(m.ents) for m in merged)}
    if not facts["entities"]:
        return 0.0, {label: 0.0 for label in corpus.labels}, facts
    nlp = train_blank(merged, corpus.labels, corpus.layout, epochs, seed, vectors=corpus.vectors,
                      lexemes=corpus.lexemes, init_tok2vec=corpus.pretrained)
    if corpus.fields:
        per = score_fields(nlp, corpus.held, corpus.labels).per_label
        match = {label: per[label].tp / len(corpus.held) for label in corpus.labels}
        return sum(match.values()) / len(match), match, facts
    scores = evaluate(nlp, corpus.held)
    return scores.overall.f, {label: scores.per_label[label].f for label in corpus.labels
                              if label in scores.per_label}, facts


def read_results(path: Path) -> list[dict]:
    """The result lines written so far (none if the file is missing)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def vectors_label(path: str | None) -> str | None:
    """How a result row names --vectors: the vectors folder's name (its seed's folder for a {seed} pattern)."""
    return Path(path).name if path else None


def append_result(path: Path, row: dict) -> None:
    """One result line, flushed at once (a run that is stopped keeps every point it finished)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf8") as f:
        f.write(json.dumps(row) + "\n")


def run(corpus_name: str, load: Callable[[int], Corpus], strategies: list[str], seeds: list[int],
        minutes: list[int], epochs: int, out: Path, say: Callable[[str], None] = print, measure: str = MEASURE,
        settings: dict | None = None, vectors: str | None = None, lexemes: bool = False) -> int:
    """Every (strategy, seed, minute) not yet in ``out``: simulate once per (strategy, seed), score each minute.

    What is done is read again before each strategy, so runs of other seeds or strategies may share the file; a
    ranked strategy's rows count as done only for ``measure`` (what ``load``'s corpora rank by), an in-loop one only
    for ``settings`` (``load``'s retrain, retrain_epochs, model_kwargs), and rows with or without --vectors and
    --lexemes only for runs with or without them."""

    def todo(strategy: str, seed: int) -> list[int]:
        mine = variant({"strategy": strategy, **(settings or {})})
        done = {r["minute"] for r in read_results(out)
                if (r["corpus"], r["strategy"], r["seed"]) == (corpus_name, strategy, seed)
                and (strategy not in RANKED or r.get("measure", MEASURE) == measure) and variant(r) == mine
                and bool(r.get("vectors")) == (vectors is not None) and bool(r.get("lexemes")) == lexemes}
        return [m for m in minutes if m not in done]

    written = 0
    for seed in seeds:
        if not any(todo(s, seed) for s in strategies):
            continue
        corpus = load(seed)
        for strategy in strategies:
            wanted = todo(strategy, seed)
            if not wanted:
                continue
            start = time.perf_counter()
            answers, clock, exhausted = simulate(strategy, corpus, seed, 60 * max(wanted))
            sim_s = time.perf_counter() - start
            name = strategy_name({"strategy": strategy, "measure": corpus.measure, "vectors": corpus.vectors,
                                  "lexemes": corpus.lexemes})
            say(f"{corpus_name} {name} seed {seed}: {len(answers)} answers in {clock[-1] if clock else 0:.0f} "
                f"simulated s ({sim_s:.0f} s to simulate){'; pool exhausted' if exhausted else ''}")
            if RETRAINS and strategy in IN_LOOP:
                say(f"  retrains swapped in (answers at start, at swap, CPU s): {RETRAINS[0].log}")
            for minute in wanted:
                n = sum(1 for c in clock if c <= 60 * minute)
                start = time.perf_counter()
                value, per, facts = score(corpus, answers[:n], epochs, seed)
                paying = figure("kept", [k for a in answers[:n] if (k := kept(a)) is not None])
                row = {"corpus": corpus_name, "strategy": strategy, "seed": seed, "minute": minute,
                       "score": round(value, 4), "per_label": {k: round(v, 4) for k, v in per.items()},
                       "answers": n, "accepted": sum(a["answer"] == "accept" for a in answers[:n]), **facts,
                       "seconds": round(clock[n - 1], 1) if n else 0.0,
                       "kept": paying.value, "kept_of": paying.of,  # pre-fills kept over the last KEPT_WINDOW inputs
                       "pool_exhausted": exhausted and 60 * minute >= (clock[-1] if clock else 0),
                       "update_every": corpus.update_every, "min_prefill": corpus.min_prefill,
                       "measure": corpus.measure, "vectors": vectors_label(corpus.vectors),
                       "lexemes": corpus.lexemes, "pool": len(corpus.pool),
                       "retrain": corpus.retrain, "retrain_epochs": corpus.retrain_epochs,
                       "model_kwargs": corpus.model_kwargs, "hand_s": corpus.hand_s,
                       "init_tok2vec": corpus.init_tok2vec,
                       "retrains": [r for r in (RETRAINS[0].log if RETRAINS and strategy in IN_LOOP else [])
                                    if r[1] <= n],
                       "held_out": len(corpus.held), "epochs": epochs,
                       "train_s": round(time.perf_counter() - start, 1), "sim_s": round(sim_s, 1)}
                append_result(out, row)
                written += 1
                say(f"  minute {minute:>4}: {n:>5} answers, {facts['entities']:>5} entities, "
                    f"score {100 * value:5.1f} ({row['train_s']:.0f} s)")
    return written


# --- report ---------------------------------------------------------------------------------------------------


def summary(rows: list[dict]) -> dict[tuple[str, int], tuple[float, float, int]]:
    """(strategy_name, minute) -> (mean, standard deviation over seeds (0 for one), seeds); a seed measured twice counts
    once."""
    groups: dict[tuple[str, int], dict[int, float]] = {}
    for r in rows:
        groups.setdefault((strategy_name(r), r["minute"]), {}).setdefault(r["seed"], r["score"])
    groups = {k: list(v.values()) for k, v in groups.items()}
    return {k: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v)) for k, v in groups.items()}


def ordered(names: set[str]) -> list[str]:
    """Strategy names in STRATEGIES' order, each ranked by the default measure before the others."""
    order = list(STRATEGIES)
    return sorted(names, key=lambda n: (order.index(n.split(" ")[0]) if n.split(" ")[0] in order else len(order), n))


def table(rows: list[dict]) -> str:
    """A Markdown table of mean ± standard deviation (percent) per strategy and minute, seeds in brackets."""
    stats = summary(rows)
    minutes = sorted({m for _, m in stats})
    names = ordered({s for s, _ in stats})
    lines = ["| strategy | " + " | ".join(f"{m} min" for m in minutes) + " |",
             "|---|" + "---|" * len(minutes)]
    for name in names:
        cells = []
        for m in minutes:
            if (name, m) in stats:
                mean, sd, n = stats[(name, m)]
                cells.append(f"{100 * mean:.1f} ± {100 * sd:.1f} ({n})")
            else:
                cells.append("-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(corpus: str, rows: list[dict]) -> list[str]:
    """The issue's goals for this corpus, each with the measured means."""
    stats = summary(rows)

    def mean(s: str, m: int) -> float | None:
        return stats[(s, m)][0] if (s, m) in stats else None

    pairs = {"conll": [(15, 30), (30, 60), (60, 120)], "funsd": [(30, 60)]}.get(corpus, [])
    out = []
    for m, m2 in pairs:
        a, b = mean("recommended", m), mean("manual", m2)
        if a is not None and b is not None:
            out.append(f"recommended at {m} min {100 * a:.1f} vs manual at {m2} min {100 * b:.1f}: "
                       f"{'met' if a >= b else 'not met'}")
    if corpus == "sroie":
        a = mean("recommended", 30)
        if a is not None:
            out.append(f"recommended at 30 min {100 * a:.1f}% field exact match (goal 90%): "
                       f"{'met' if a >= 0.9 else 'not met'}")
    return out


def plot(corpus: str, rows: list[dict], path: Path, ylabel: str | None = None, title: str | None = None,
         level: float | None = None) -> None:
    """Score against simulated minutes, one line per strategy with the seeds' spread (and a dashed ``level``), as a
    PNG."""
    try:
        import matplotlib
    except ImportError:
        sys.exit("--report draws its plot with matplotlib: pip install -e '.[bench]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = summary(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for name in ordered({s for s, _ in stats}):
        points = sorted((m, v) for (s, m), v in stats.items() if s == name)
        if points:
            ax.errorbar([m for m, _ in points], [100 * v[0] for _, v in points],
                        yerr=[100 * v[1] for _, v in points], marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.minorticks_off()  # a log axis over less than a decade labels its minor ticks (6x10^0) too
    ticks = sorted({m for _, m in stats})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("simulated annotator minutes")
    if level is not None:
        ax.axhline(100 * level, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel(ylabel or ("field exact match (%)" if corpus == "sroie" else "entity F1 (%)"))
    ax.set_title(title or f"{corpus}: quality per annotator-minute (mean ± sd over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)  # written whole or not at all


def report(corpus: str, out: Path, plot_path: Path | None) -> None:
    """Print the table (and per-field table for SROIE) and the goals; draw the plot."""
    rows = [r for r in read_results(out) if r["corpus"] == corpus]
    if not rows:
        sys.exit(f"{out}: no results for {corpus} yet")
    print(f"{corpus}: {len(rows)} points from {out}")
    print(table(rows))
    if corpus == "sroie":
        for label in sorted({k for r in rows for k in r["per_label"]}):
            print(f"\n{label} exact match")
            print(table([{**r, "score": r["per_label"].get(label, 0.0)} for r in rows]))
    kept_rows = [{**r, "score": r["kept"]} for r in rows if r.get("kept") is not None]
    if kept_rows:
        print(f"\npre-fills kept unchanged over the last {KEPT_WINDOW} inputs at that minute (the app's figure)")
        print(table(kept_rows))
    for line in goals(corpus, rows):
        print(line)
    if plot_path is not None:
        plot(corpus, rows, plot_path)
        print(f"plot: {plot_path}")
        if kept_rows:
            kept_path = plot_path.with_name(plot_path.stem + "-kept" + plot_path.suffix)
            plot(corpus, kept_rows, kept_path, ylabel=f"pre-fills kept, last {KEPT_WINDOW} inputs (%)",
                 title=f"{corpus}: is the model paying? (break-even {100 * BREAK_EVEN:.0f}%)", level=BREAK_EVEN)
            print(f"plot: {kept_path}")


# --- command line ----------------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    """'5,10,15' -> [5, 10, 15]."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, not {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers >= 0, not {text!r}")
    return values


def strategy_list(text: str) -> list[str]:
    """'manual,recommended' -> the names, each checked."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown or not names:
        named = ", ".join(unknown) or repr(text)
        raise argparse.ArgumentTypeError(f"unknown strategy {named}; choose from {', '.join(STRATEGIES)}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="Example: python bench/annotator_time.py --corpus conll --quick")
    parser.add_argument("--corpus", choices=sorted(CORPORA), required=True)
    parser.add_argument("--strategies", type=strategy_list, default=list(STRATEGIES))
    parser.add_argument("--seeds", type=int_list, default=list(SEEDS))
    parser.add_argument("--minutes", type=int_list, default=list(MINUTES), help="checkpoints (simulated minutes)")
    parser.add_argument("--quick", action="store_true", help="tiny pools, 1 seed, 2 checkpoints, 2 epochs")
    parser.add_argument("--pool", type=int, help="override the pool size (inputs)")
    parser.add_argument("--heldout", type=int, help="override the held-out size (inputs)")
    parser.add_argument("--epochs", type=int, help="override the epochs of each batch-train")
    parser.add_argument("--update-every", type=int, default=UPDATE_EVERY,
                        help="answers per update of ner.correct's in-loop model (the recipe: 1)")
    parser.add_argument("--min-prefill", type=float, default=MIN_PREFILL, help="ner.correct's --min-prefill")
    parser.add_argument("--measure", choices=sorted(MEASURES), default=MEASURE,
                        help=f"what ner.correct ranks its look-ahead by (default {MEASURE})")
    parser.add_argument("--retrain", type=schedule_arg, default="",
                        help="ner.correct's periodic retrain from blank: answered counts (5,10,20,40,80), double, every:K or cont")
    parser.add_argument("--retrain-epochs", type=int, default=RECOMMENDED_EPOCHS, help="epochs of each retrain")
    parser.add_argument("--passes", type=int, help="TeachModel passes per update (default: the TeachModel's)")
    parser.add_argument("--replay", type=int, help="TeachModel earlier inputs replayed per pass (default: the TeachModel's)")
    parser.add_argument("--update-batch", type=int, help="TeachModel inputs per step of an update (default: the TeachModel's)")
    parser.add_argument("--vectors", help="static word vectors (a spaCy pipeline or vectors folder, e.g. written by "
                                          "bench/make_vectors.py; {seed} is replaced by the seed) for the in-loop "
                                          "models and the scoring's training from blank")
    parser.add_argument("--lexemes", action="store_true", help="Brown clusters and word probabilities of "
                                                                "spacy-lookups-data as features (text)")
    parser.add_argument("--init-tok2vec", help="weights written by `vnerteach pretrain` for every model trained from "
                                               "blank here (the in-loop ones and the scoring's), as --init-tok2vec")
    parser.add_argument("--hand-minutes", type=float, default=RECOMMENDED_MANUAL_S / 60,
                        help="hand_then_correct's minutes by hand before its batch-train (default 3)")
    parser.add_argument("--out", type=Path, help="results JSONL (default bench/out/annotator_time-CORPUS[-quick].jsonl)")
    parser.add_argument("--data", type=Path, help="benchmark data folder (default: common.data_dir())")
    parser.add_argument("--report", action="store_true", help="print the table and write the plot; no training")
    parser.add_argument("--plot", type=Path, help="the plot's path (default bench/annotator_time-CORPUS.png; "
                                                  "bench/out/ for --quick)")
    args = parser.parse_args(argv)
    suffix = "-quick" if args.quick else ""
    out = args.out or BENCH / "out" / f"annotator_time-{args.corpus}{suffix}.jsonl"
    if args.report:
        default_plot = (BENCH / "out" if args.quick else BENCH) / f"annotator_time-{args.corpus}.png"
        report(args.corpus, out, args.plot or default_plot)
        return
    pool, heldout, epochs = (QUICK if args.quick else SIZES)[args.corpus]
    pool, heldout, epochs = args.pool or pool, args.heldout or heldout, args.epochs or epochs
    seeds = args.seeds[:1] if args.quick else args.seeds
    minutes = list(QUICK_MINUTES) if args.quick and args.minutes == list(MINUTES) else args.minutes
    if args.data is None:
        args.data = data_dir()
    elif not args.data.is_dir():
        sys.exit(f"--data: {args.data} is not a folder")
    print(f"{args.corpus}: pool {pool}, held-out {heldout}, {epochs} epochs, seeds {seeds}, minutes {minutes}, "
          f"ner.correct updates every {args.update_every} answers, pre-fills from p >= {args.min_prefill}, "
          f"ranks by {args.measure}; " + (f"vectors {args.vectors}; " if args.vectors else "") +
          ("clusters and probabilities of spacy-lookups-data; " if args.lexemes else "") +
          f"results in {out}", flush=True)
    started = time.perf_counter()
    settings = {"retrain": args.retrain, "retrain_epochs": args.retrain_epochs, "hand_s": 60 * args.hand_minutes,
                "init_tok2vec": args.init_tok2vec,
                "model_kwargs": {k: v for k, v in (("passes", args.passes), ("replay", args.replay),
                                                                   ("update_batch", args.update_batch)) if v is not None}}
    if settings["retrain"] or settings["model_kwargs"]:
        print(f"in-loop settings: {settings}", flush=True)
    load = lambda seed: replace(CORPORA[args.corpus](args.data, seed, pool, heldout),  # noqa: E731
                                update_every=args.update_every, min_prefill=args.min_prefill, measure=args.measure,
                                vectors=args.vectors.replace("{seed}", str(seed)) if args.vectors else None,
                                lexemes=args.lexemes, **settings)
    written = run(args.corpus, load, args.strategies, seeds, minutes, epochs, out,
                  lambda line: print(line, flush=True), measure=args.measure, settings=settings, vectors=args.vectors,
                  lexemes=args.lexemes)
    print(f"{written} new points in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
