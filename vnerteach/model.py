"""The model in the loop: a beam_ner pipeline that scores candidate entities of tasks and learns from answers.

``TeachModel`` loads ``blank:LANG`` (built on the first task, with layout features when that task
has token boxes) or a model folder written by ``ner.batch-train``. Docs are made from each task's
own tokens (``layout.task_doc``), so OCR and PDF tokens keep their boxes. The beam gives each
candidate ``(start, end, label)`` a probability; :meth:`TeachModel.suggest` turns them into binary
tasks with one span each, :meth:`TeachModel.correct` into pre-filled ``ner_manual`` tasks.
Candidates no annotator would accept are not asked (``sensible.unlikely``; words rejected with
their label and never accepted; spans longer than any accepted for their label), and a pattern the
annotator keeps rejecting is asked less (``memory.AnswerMemory``, which also counts the answers of
earlier sessions: :meth:`TeachModel.recall`).

:meth:`TeachModel.update` learns from answers (accepted spans are entities with every other token
missing, rejected ones incorrect spans, complete answers all entities; via ``merge.merge_answers``)
and is meant to run in a background thread: the model is guarded by a fair lock, scoring takes it
one small batch at a time, an update takes it once, so neither starves the other.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from .files import atomic_folder, check_output
from .errors import UsageError
from .failures import OnFailure, isolate
from .layout import uses_layout
from .memory import AnswerMemory
from .patterns import PATTERN_KEY
from .sensible import name_runs, unlikely
from .tasks import INPUT_HASH, TASK_HASH, set_hashes

if TYPE_CHECKING:
    from .lookahead import Lookahead

Triple = tuple[int, int, str]
# ner.correct pre-fills the entities the model thinks more likely right than wrong: a wrong pre-fill
# costs a fix to remove, a right one left out a fix to add (bench/annotator_time.py's costs break
# even at 5/9). A blank model's guesses are below it, so a cold start shows clean pages.
MIN_PREFILL = 0.5
# A model's beam means something once it has learnt this many accepted entities (or was trained, or swapped in
# by the warm start): until then a blank beam gives noise spans a probability of 1.0, so its candidates carry
# no score and are not ranked by it.
CONFIDENT_AFTER = 40
# Until then, ner.teach asks at most one of the model's own candidates per this many pattern matches (it has
# no score to rank them by: they are name-like spans, one per input), or one when this many inputs in a row
# gave no question at all, so a source the patterns rarely match still gets questions.
UNSCORED_SHARE = 3
DRY_INPUTS = 10


class FairLock:
    """A first-come, first-served lock: a thread that releases and re-acquires at once goes to the back."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that may hold the lock

    def __enter__(self) -> "FairLock":
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


@dataclass
class Seen:
    """How far a stream of suggestions has got: inputs scored, candidates offered, questions passed on by the sorter."""

    inputs: int = 0
    candidates: int = 0
    questions: int = 0


class TeachModel:
    """A beam NER in the loop: score candidates of tasks, update from answers, save."""

    def __init__(self, nlp: Any, labels: Sequence[str], *, lang: str | None = None, settings: Any = None,
                 batch_size: int = 16, min_score: float = 0.01, min_candidates: int = 2, replay: int = 64, passes: int = 3,
                 update_batch: int = 16, drop: float = 0.1, learn_rate: float | None = 0.002, seed: int = 0,
                 init_tok2vec: Any = None, warm_accepts: int = 50, sensible: bool = True):
        """Wrap a pipeline (or ``nlp=None`` and ``lang``: a blank one made on the first task); no ``labels``: the pipeline's.

        ``init_tok2vec`` (``pretraining.Pretrained``, blank only) starts the blank one's tok2vec from
        pretrained weights; its layout features are then those the weights were pretrained with.
        ``settings.vectors`` (--vectors, blank only) gives the blank one those word vectors as static features,
        ``settings.lexemes`` (--lookups, blank only) Brown clusters and word probabilities.
        """
        if not labels and nlp is not None:  # a trained MODEL's own, in the order it was trained with
            from .pipeline import model_labels

            labels = model_labels(nlp)
        if not labels:
            raise UsageError("--label: name the labels to annotate")
        if nlp is None and lang is None:
            raise UsageError("a TeachModel needs a pipeline or a language")
        self.labels = list(dict.fromkeys(labels))
        self.lang = lang
        self.settings = settings
        self.batch_size, self.min_score, self.replay, self.drop = batch_size, min_score, replay, drop
        self.passes = max(1, passes)
        self.min_candidates = min_candidates
        self.update_batch = update_batch
        self.learn_rate = learn_rate
        self.lock = FairLock()
        self._rng = random.Random(seed)
        self._seed = seed
        self._nlp: Any = None
        self._optimizer: Any = None
        self.layout = False
        self.skipped = 0  # example updates the beam search could not make
        self._answers: dict[int, list[dict]] = {}  # answers per input hash, to merge each input as a whole
        self._known: dict[int, Any] = {}  # input hash -> Merged
        self._recent: deque[int] = deque(maxlen=5000)
        self.updates = 0
        self.swaps = 0  # pipelines swapped in (the warm start)
        self.learnt = 0  # accepted entities learnt from in updates
        self._stop_words: frozenset[str] | None = None
        self.taught = False  # trained, swapped in or updated: until then its guesses are noise
        self.losses: list[float] = []
        self.seen = Seen()  # counted by suggest(); questions by whoever sorts its output
        self.init_tok2vec = init_tok2vec
        if nlp is not None and init_tok2vec is not None:
            raise UsageError("--init-tok2vec: pretrained weights start a blank model only; use MODEL blank:LANG")
        vectors, lexemes = getattr(settings, "vectors", None), getattr(settings, "lexemes", False)
        if nlp is not None and vectors:
            raise UsageError("--vectors: word vectors start a blank model only (a trained MODEL has its own); "
                             "use MODEL blank:LANG")
        if nlp is not None and lexemes:
            raise UsageError("--lookups: the clusters and probabilities start a blank model only (a trained MODEL "
                             "has its own features); use MODEL blank:LANG")
        if nlp is None and (init_tok2vec is not None or vectors or lexemes):  # a bad flag fails now, not later
            from .pipeline import Settings
            from .training import blank_model

            layout = init_tok2vec.layout if init_tok2vec is not None else False
            blank_model(lang or "en", self.labels, layout, settings or Settings(), init_tok2vec)
        self.memory = AnswerMemory(seed)
        self.warm_accepts = warm_accepts
        self.sensible = sensible  # False: every candidate is asked (the baseline of bench/coldstart.py)
        self.recalled = 0  # answers of earlier sessions counted by recall()
        self.warm: Any = None  # the warmstart.WarmStart under way, if any
        self.started_trained = nlp is not None  # a trained MODEL is past its cold start: no warmup
        if nlp is not None:
            self._adopt(nlp, trained=True)

    # loading --------------------------------------------------------------------------------------

    @classmethod
    def load(cls, model: str, labels: Sequence[str], **kwargs: Any) -> "TeachModel":
        """``blank:LANG`` (made when the first task is seen) or a pipeline folder written by ner.batch-train."""
        from .pipeline import load_pipeline

        if model.startswith("blank:"):
            return cls(None, labels, lang=load_pipeline(model).lang, **kwargs)
        if kwargs.get("init_tok2vec") is not None:
            raise UsageError(f"--init-tok2vec: pretrained weights start a blank model only, not MODEL '{model}'; "
                             "use blank:LANG")
        if getattr(kwargs.get("settings"), "vectors", None):
            raise UsageError(f"--vectors: word vectors start a blank model only, not MODEL '{model}' (a trained "
                             "model has its own); use blank:LANG")
        if getattr(kwargs.get("settings"), "lexemes", False):
            raise UsageError(f"--lookups: the clusters and probabilities start a blank model only, not MODEL "
                             f"'{model}' (a trained model has its own features); use blank:LANG")
        return cls(load_pipeline(model, beam=True), labels, **kwargs)

    def swap(self, nlp: Any) -> None:
        """Score and learn with this trained pipeline from now on (a warm start), then catch up on the session's answers."""
        with self.lock:
            self._adopt(nlp, trained=True)
            self.swaps += 1
        known = list(self._known.values())
        for i in range(0, len(known), self.update_batch):
            self._step(known[i:i + self.update_batch], {})
        if known:
            self.swaps += 1

    @property
    def version(self) -> int:
        """Which weights score now: raised by every update and swap, so what was scored before is stale."""
        return self.updates + self.swaps

    @property
    def confident(self) -> bool:
        """Whether the beam's probabilities mean something: a trained or swapped-in pipeline, or enough learnt."""
        return self.started_trained or self.swaps > 0 or self.learnt >= CONFIDENT_AFTER

    def stop_words(self) -> frozenset[str]:
        """The function words of the model's language (no candidate is made of them alone)."""
        if self._stop_words is None:
            self._stop_words = frozenset(self.tokenizer().Defaults.stop_words)
        return self._stop_words

    def recall(self, answers: Iterable[dict]) -> int:
        """Count the answers of earlier sessions (span lengths, rejected words, pattern scores); return how many."""
        n = self.memory.add_all(answers)
        self.recalled += n
        return n

    def warmup(self) -> float:
        """How much the sorter should still prefer high scores to uncertain ones: from blank, 1 with no accept
        and 0 after ``warm_accepts``; 0 for a trained MODEL."""
        if self.started_trained or not self.warm_accepts:
            return 0.0
        return max(0.0, 1.0 - self.memory.accepted / self.warm_accepts)

    def _adopt(self, nlp: Any, trained: bool) -> None:
        from thinc.api import Adam, fix_random_seed

        fix_random_seed(self._seed)
        ner = nlp.get_pipe("ner")
        if trained:
            for label in self.labels:
                if label not in ner.labels:
                    ner.add_label(label)  # an initialised model resizes its output layer
            self._optimizer = nlp.resume_training()
        else:
            self._optimizer = nlp.initialize()
        if self.learn_rate is not None:
            self._optimizer = Adam(self.learn_rate)
        self.layout = uses_layout(ner.model)
        self.taught = self.taught or trained
        self._nlp = nlp

    def ensure(self, task: dict | None = None) -> Any:
        """The pipeline, made now if it is a blank one (with layout features if ``task`` has token boxes)."""
        if self._nlp is None:
            from .pipeline import Settings
            from .pretraining import apply_pretrained
            from .training import blank_model

            layout = bool(task and any(t.get("bbox") for t in task.get("tokens") or []))
            if self.init_tok2vec is not None:
                layout = self.init_tok2vec.layout
            nlp = blank_model(self.lang or "en", self.labels, layout, self.settings or Settings(), self.init_tok2vec)
            self._adopt(nlp, trained=False)
            if self.init_tok2vec is not None:
                apply_pretrained(nlp, self.init_tok2vec)
        return self._nlp

    @property
    def nlp(self) -> Any:
        """The pipeline (a blank one is made without layout features if no task was seen yet)."""
        return self.ensure()

    def tokenizer(self) -> Any:
        """A pipeline whose tokenizer splits text tasks (the model's own, or a blank one of its language)."""
        import spacy

        return self._nlp if self._nlp is not None else spacy.blank(self.lang or "en")

    # scoring --------------------------------------------------------------------------------------

    def _docs(self, tasks: Sequence[dict]) -> list[Any]:
        from .layout import task_doc

        return [task_doc(self._nlp.vocab, t) for t in tasks]

    def score(self, tasks: Sequence[dict]) -> list[dict[Triple, float]]:
        """Per task, every candidate (token start, token end exclusive, label) of the annotated labels with its probability."""
        from .pipeline import entity_scores

        tasks = [t for t in tasks if t.get("tokens")]
        if not tasks:
            return []
        self.ensure(tasks[0])
        wanted = set(self.labels)
        with self.lock:
            scored = entity_scores(self._nlp, self._docs(tasks), prune=False)
        return [{k: min(1.0, v) for k, v in s.items() if k[2] in wanted} for s in scored]

    def _batches(self, stream: Iterable[dict]) -> Iterator[list[dict]]:
        # small batches: the lock is held briefly, and the first question comes quickly
        return _chunks(stream, self.batch_size, 40 * self.batch_size)

    def suggest(self, stream: Iterable[dict], matcher: Any = None,
                on_failure: OnFailure | None = None) -> Iterator[tuple[float, dict]]:
        """Lazily, ``(score, task)`` per candidate entity: one span each, pattern matches tagged and first.

        A pattern match is a task whose span carries ``pattern`` (the pattern's id) and the model's
        score for that span; the model's own candidate for the same span is then not asked again.
        The same question (task hash) is never yielded twice. A task that cannot be scored goes to
        ``on_failure`` and the stream goes on.
        """
        asked: set[int] = set()
        share = _UnscoredShare()

        def candidates(batch: list[dict]) -> list[list[tuple[float, dict]]]:
            return [self._candidates(task, scores, matcher, share) for task, scores in zip(batch, self.score(batch))]

        for batch in self._batches(stream):
            for _task, found in isolate(candidates, batch, on_failure):
                share.input(bool(found))
                for score, eg in found:
                    if eg[TASK_HASH] not in asked:
                        asked.add(eg[TASK_HASH])
                        self.seen.candidates += 1
                        yield score, eg

    def _candidates(self, task: dict, scores: dict[Triple, float], matcher: Any,
                    share: _UnscoredShare) -> list[tuple[float, dict]]:
        set_hashes(task)
        self.seen.inputs += 1
        confident = self.confident
        found = []
        for span in _pattern_spans(matcher, task) if matcher is not None else []:
            triple = (span["token_start"], span["token_end"] + 1, span["label"])
            if self.sensible and not self._sensible(task["tokens"], triple, pattern=True):
                continue
            if not self.memory.patterns.ask(span[PATTERN_KEY]):
                continue  # asked less: the model may still ask about the span as its own candidate
            score = scores.pop(triple, 0.0)
            found.append((score, span_task(task, triple, round(score, 4) if confident else None,
                                           pattern=span.get(PATTERN_KEY), version=self.version)))
            share.pattern()
        if self.sensible:
            scores = {t: v for t, v in scores.items() if self._sensible(task["tokens"], t)}
        if not confident:
            return found + self._unscored(task, scores, share)
        # candidates above min_score, and always the task's best few: a model that has learnt to
        # predict nothing (after many rejects) still gets questions, so the stream never runs dry
        top = set(sorted(scores, key=scores.__getitem__, reverse=True)[:self.min_candidates])
        for triple, score in sorted(scores.items()):
            if score >= self.min_score or triple in top:
                found.append((score, span_task(task, triple, round(score, 4), version=self.version)))
        return found

    def _unscored(self, task: dict, scores: dict[Triple, float], share: _UnscoredShare) -> list[tuple[float, dict]]:
        """A model that knows nothing yet: at most one name-like run of words, without a score, when the share allows.

        The span comes from the shape of the words (``sensible.name_runs``), its label from the beam where it has
        the span, else the label asked least so far; it goes to the sorter as a coin toss (0.5): the beam's
        probabilities are noise and must not rank it.
        """
        if not share.allows():
            return []
        tokens = task["tokens"]
        runs = [(s, e) for s, e in name_runs(tokens, self.stop_words())
                if not any(self.memory.rejected(tuple(t["text"] for t in tokens[s:e]), label) for label in self.labels)]
        if not runs:
            return []
        start, end = runs[share.asked % len(runs)]
        by_beam = {label: p for (s, e, label), p in scores.items() if (s, e) == (start, end)}
        label = max(by_beam, key=by_beam.__getitem__) if by_beam else min(self.labels, key=share.labels.__getitem__)
        share.unscored(label)
        return [(0.5, span_task(task, (start, end, label), None, version=self.version))]

    def _sensible(self, tokens: list[dict], triple: Triple, pattern: bool = False) -> bool:
        """Whether an annotator might accept this candidate, given the tokens and the answers so far.

        A pattern's match is held to the tokens only: its length is the pattern's, its rejects count in its score.
        """
        start, end, label = triple
        why = unlikely(tokens, start, end, self.stop_words() if not pattern else frozenset())
        if why is not None and not (why == "crosses a line" and self.memory.crosses_lines(label)):
            return False
        if pattern:
            return True
        return not self.memory.too_long(end - start, label) and \
            not self.memory.rejected(tuple(t["text"] for t in tokens[start:end]), label)

    def predict_tasks(self, tasks: Sequence[dict], measure: str = "corrections",
                      min_score: float = 0.0) -> list[tuple[float, dict]]:
        """``(confidence, task)`` per task: spans set to the model's best analysis (those with a probability of
        at least ``min_score``; none from a blank model not yet taught), each with its probability.

        Confidence is the probability of the best analysis in the beam; ``meta.uncertainty`` is the
        task's uncertainty by ``measure`` (``lookahead.MEASURES``), what ner.correct ranks by.
        """
        from .lookahead import MEASURES
        from .pipeline import predict_beams

        tasks = [t for t in tasks if t.get("tokens")]
        if not tasks:
            return []
        self.ensure(tasks[0])
        wanted = set(self.labels)
        out = []
        with self.lock:
            version, confident = self.version, self.confident
            ner = self._nlp.get_pipe("ner")
            beams = predict_beams(self._nlp, self._docs(tasks), prune=False)
            scored = ner.scored_ents(beams)
            parses = [ner.moves.get_beam_parses(beam) for beam in beams]
        for task, scores, beam_parses in zip(tasks, scored, parses):
            best_p, best = max(beam_parses, key=lambda x: x[0]) if beam_parses else (1.0, [])
            scores = {k: min(1.0, v) for k, v in scores.items() if k[2] in wanted}
            uncertainty = MEASURES[measure][1](scores, float(best_p), task)
            spans = [_span(task["tokens"], (s, e, label), round(scores.get((s, e, label), 0.0), 4) if confident else None)
                     for s, e, label in sorted(best)
                     if self.taught and label in wanted and scores.get((s, e, label), 0.0) >= min_score]
            eg = {k: v for k, v in task.items() if k not in ("spans", TASK_HASH)}
            eg["spans"] = spans
            eg["meta"] = {**(task.get("meta") or {}), "confidence": round(float(best_p), 4) if confident else None,
                          "uncertainty": round(uncertainty, 4), "model_version": version,
                          "prefilled": [[s["start"], s["end"], s["label"]] for s in spans]}
            set_hashes(eg)
            out.append((float(best_p), eg))
        return out

    def correct(self, stream: Iterable[dict], lookahead: int = 256, on_failure: OnFailure | None = None,
                measure: str = "corrections", diversity: bool = True, deterministic: bool = False,
                prefill: bool = True, min_prefill: float = MIN_PREFILL) -> Lookahead:
        """Tasks pre-filled with predictions, the most uncertain of ``lookahead`` inputs read ahead first.

        Scoring runs in the background (``lookahead.Lookahead``; close it to stop), re-scoring as
        the model is updated. Without ``prefill`` the tasks keep their own spans (ranked only); with
        it, the best analysis's entities of probability ``min_prefill`` or more are pre-filled.
        A task that cannot be predicted goes to ``on_failure`` and the stream goes on.
        """
        from .lookahead import Lookahead

        def predict(batch: list[dict]) -> list[tuple[float, dict]]:
            return self.predict_tasks(batch, measure, min_prefill)

        def score(batch: list[dict]) -> list[tuple[float, dict] | None]:
            done = {id(task): eg for task, (_conf, eg) in isolate(predict, batch, on_failure)}
            return [None if id(t) not in done else (done[id(t)]["meta"]["uncertainty"], done[id(t)] if prefill
                    else {**t, "meta": done[id(t)]["meta"]}) for t in batch]

        return Lookahead(stream, score, size=lookahead, batch=self.batch_size, max_words=40 * self.batch_size,
                         version=lambda: self.version, diversity=diversity, deterministic=deterministic)

    # what is on the annotator's screen, again ---------------------------------------------------------

    def refresh_prediction(self, task: dict, min_prefill: float = MIN_PREFILL) -> dict:
        """A pre-filled task handed out earlier, predicted again when the model changed since (same hashes)."""
        if (task.get("meta") or {}).get("model_version") == self.version:
            return task
        _conf, eg = self.predict_tasks([task], min_score=min_prefill)[0]
        return {**eg, INPUT_HASH: task[INPUT_HASH], TASK_HASH: task[TASK_HASH]}

    def refresh_question(self, task: dict) -> dict | None:
        """A binary question handed out earlier, scored again by the current model; None when it is no longer worth
        asking (its words were rejected with its label meanwhile)."""
        meta = task.get("meta") or {}
        if meta.get("model_version") == self.version or not task.get("spans"):
            return task
        span = task["spans"][0]
        triple = (span["token_start"], span["token_end"] + 1, span["label"])
        pattern = span.get(PATTERN_KEY)
        if self.sensible and not self._sensible(task["tokens"], triple, pattern=pattern is not None):
            return None
        score = self.score([task])[0].get(triple, 0.0) if self.confident else None
        eg = span_task(task, triple, round(score, 4) if score is not None else None, pattern=pattern,
                       version=self.version)
        return {**eg, INPUT_HASH: task[INPUT_HASH], TASK_HASH: task[TASK_HASH]}

    # learning -------------------------------------------------------------------------------------

    def update(self, answers: Sequence[dict]) -> float:
        """Learn from answers (any mix of binary and complete); return the loss. Thread-safe.

        A new answer to a question answered before in the same session replaces the earlier one.
        """
        touched = []
        for eg in answers:
            if eg.get("answer") not in ("accept", "reject") or not eg.get("tokens"):
                self.forget([eg])
                continue
            key = eg.get(INPUT_HASH)
            if key is None:
                key = set_hashes(eg)[INPUT_HASH]
            slim = {k: v for k, v in eg.items() if k not in ("image", "meta")}
            for old in self._answers.get(key, []):
                if _same_question(old, slim):
                    self.memory.add(old, -1)
            self._answers[key] = [a for a in self._answers.get(key, []) if not _same_question(a, slim)] + [slim]
            self.memory.add(slim)
            touched.append(key)
        if not touched:
            return 0.0
        touched = list(dict.fromkeys(touched))
        fresh = self._remerge(touched)
        self._recent.extend(k for k in touched if k in fresh)
        batch = [fresh[k] for k in touched if k in fresh]
        if not batch:
            return 0.0
        self.ensure(answers[0])
        older = [k for k in dict.fromkeys(self._recent) if k in self._known and k not in fresh]
        losses: dict[str, float] = {}
        for _ in range(self.passes):  # each pass: the new inputs plus a fresh sample of earlier ones
            replayed = [self._known[k] for k in self._rng.sample(older, min(self.replay, len(older)))] if older else []
            items = batch + replayed
            self._rng.shuffle(items)
            for i in range(0, len(items), self.update_batch):
                self._step(items[i:i + self.update_batch], losses)
        self.learnt += sum(len(eg.get("spans") or []) for eg in answers if eg.get("answer") == "accept")
        self.updates += 1
        self.taught = True
        loss = float(losses.get("ner", 0.0))
        self.losses.append(loss)
        return loss

    def _step(self, items: list[Any], losses: dict[str, float]) -> None:
        """One small update under the lock (scoring gets the model in between, every ~50 ms); rejects spread."""
        from .merge import answers_to_examples, spread_rejects
        from .training import update_skipping

        rejected = self.memory.rejected_words()
        items = [spread_rejects(m, rejected) for m in items]
        with self.lock:
            examples = answers_to_examples(self._nlp, items)
            self.skipped += update_skipping(self._nlp, examples, self._optimizer, self.drop, losses)

    def forget(self, answers: Sequence[dict]) -> None:
        """Drop answers that were retracted (undo): later updates neither merge nor replay them.

        What the weights already learnt from them stays: an update cannot be taken back.
        """
        touched = []
        for eg in answers:
            key = eg.get(INPUT_HASH)
            kept = [a for a in self._answers.get(key, []) if not _same_question(a, eg)]
            for old in self._answers.get(key, []):
                if _same_question(old, eg):
                    self.memory.add(old, -1)
            if key in self._answers and len(kept) < len(self._answers[key]):
                self._answers[key] = kept
                touched.append(key)
        if touched:
            self._remerge(list(dict.fromkeys(touched)))

    def _remerge(self, keys: list[int]) -> dict[int, Any]:
        """Merge the answers of these inputs again; what can be learnt from each is known (and replayed) from now on."""
        from .merge import merge_answers

        fresh = {m.input_hash: m for m in merge_answers([a for k in keys for a in self._answers[k]], self.labels).merged}
        for key in keys:
            if key in fresh:
                self._known[key] = fresh[key]
            else:
                self._known.pop(key, None)  # only contradictions, or no answer, left
            if not self._answers[key]:
                del self._answers[key]
        return fresh

    def to_disk(self, path: str | Path) -> Path:
        """Save the pipeline as a folder that spacy.load and ner.teach load."""
        path = check_output(path, model=True)
        with self.lock:
            nlp = self.ensure()
            nlp.meta["name"] = nlp.meta.get("name") or "vnerteach_ner"
            nlp.meta.setdefault("vnerteach", {})
            nlp.meta["vnerteach"] = {**nlp.meta["vnerteach"], "in_loop_updates": self.updates,
                                     "in_loop_skipped_examples": self.skipped,
                                     "labels": sorted(set(self.labels) | set(nlp.get_pipe("ner").labels)),
                                     "layout": self.layout}
            with atomic_folder(path) as folder:
                nlp.to_disk(folder)
        return path


def _same_question(a: dict, b: dict) -> bool:
    """Whether two answers answer the same question (task hash) in the same session."""
    return a.get(TASK_HASH) is not None and a.get(TASK_HASH) == b.get(TASK_HASH) and a.get("_session_id") == b.get("_session_id")


def _chunks(stream: Iterable[dict], size: int, max_words: int) -> Iterator[list[dict]]:
    """Tasks with tokens in lists of ``size`` tasks or ``max_words`` tokens, whichever comes first."""
    chunk: list[dict] = []
    words = 0
    for task in stream:
        if not task.get("tokens"):
            continue
        chunk.append(task)
        words += len(task["tokens"])
        if len(chunk) >= size or words >= max_words:
            yield chunk
            chunk, words = [], 0
    if chunk:
        yield chunk


class _UnscoredShare:
    """How many unscored candidates a model that knows nothing may ask: one per ``UNSCORED_SHARE`` pattern matches,
    or one after ``DRY_INPUTS`` inputs in a row without a question; and which labels they had."""

    def __init__(self) -> None:
        self.patterns = self.asked = self.dry = 0
        self.labels: Counter[str] = Counter()

    def pattern(self) -> None:
        self.patterns += 1

    def unscored(self, label: str) -> None:
        self.asked += 1
        self.labels[label] += 1
        self.dry = 0

    def input(self, gave: bool) -> None:
        self.dry = 0 if gave else self.dry + 1

    def allows(self) -> bool:
        return self.asked * UNSCORED_SHARE < self.patterns or self.dry >= DRY_INPUTS


def _span(tokens: list[dict], triple: Triple, score: float | None, pattern: str | None = None) -> dict:
    start, end, label = triple
    span = {"start": tokens[start]["start"], "end": tokens[end - 1]["end"], "token_start": start,
            "token_end": end - 1, "label": label, "score": score}
    if pattern is not None:
        span[PATTERN_KEY] = pattern
    return span


def span_task(task: dict, triple: Triple, score: float | None, pattern: str | None = None,
              version: int | None = None) -> dict:
    """A binary question about one span of ``task`` (its own input hash, a task hash of its own).

    ``score`` None: the model's probability means nothing yet (shown as "no score yet"). ``version``: the
    model's version that scored it (``meta.model_version``), so a stale question can be scored again.
    """
    eg = {k: v for k, v in task.items() if k not in ("spans", TASK_HASH, "label")}
    eg["spans"] = [_span(task["tokens"], triple, score, pattern)]
    meta = {**(task.get("meta") or {}), "score": score}
    if version is not None:
        meta["model_version"] = version
    if pattern is not None:
        meta[PATTERN_KEY] = pattern
    eg["meta"] = meta
    return set_hashes(eg)


def is_pattern_task(task: dict) -> bool:
    """Whether a suggestion came from a pattern (such tasks skip the sorter: they are the cold start)."""
    return any(PATTERN_KEY in span for span in task.get("spans") or [])


def _pattern_spans(matcher: Any, task: dict) -> list[dict]:
    probe = {"tokens": task["tokens"], "spans": []}
    matcher.add_spans(probe)
    return probe.get("spans") or []
