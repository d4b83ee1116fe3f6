"""The model in the loop: a beam_ner pipeline that scores candidate entities of tasks and learns from answers.

``TeachModel`` loads ``blank:LANG`` (built on the first task, with layout features when that task
has token boxes) or a model folder written by ``ner.batch-train``; how it starts, scores and learns
is one :class:`TeachSettings`. Docs are made from each task's own tokens (``layout.task_doc``), so
OCR and PDF tokens keep their boxes. The beam gives each candidate ``(start, end, label)`` a
probability (:meth:`TeachModel.score`, which ner.teach's ``candidates.suggester.Suggester`` turns
into questions); :meth:`TeachModel.correct` makes pre-filled ``ner_manual`` tasks of the best
analysis. What the answers tell about what to ask is counted in ``memory.AnswerMemory``, with the
answers of earlier sessions (:meth:`TeachModel.recall`).

:meth:`TeachModel.update` learns from answers (accepted spans are entities with every other token
missing, rejected ones incorrect spans, complete answers all entities; each input's answers of the
session merged as a whole, ``session_answers.SessionAnswers``) and is meant to run in a background
thread: the model is guarded by a fair lock (``fairlock.FairLock``), scoring takes it one small
batch at a time, an update takes it once, so neither starves the other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import UsageError
from ..failures import OnFailure, isolate
from ..files import atomic_folder, check_output
from ..nlp.layout import task_doc, uses_layout
from ..nlp.pipeline import Settings, entity_scores, load_pipeline, model_labels, predict_beams
from ..nlp.pretraining import Pretrained, apply_pretrained
from ..nlp.training import blank_model, update_skipping
from ..tasks import INPUT_HASH, TASK_HASH, set_hashes
from .fairlock import FairLock
from .memory import AnswerMemory
from .session_answers import SessionAnswers

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


@dataclass(frozen=True)
class TeachSettings:
    """How the model in the loop starts, scores and learns; the recipes set only a blank model's start (its flags)."""

    pipeline: Settings = field(default_factory=Settings)  # a blank model's shape and features (--vectors, --lookups)
    init_tok2vec: Pretrained | None = None  # --init-tok2vec: a blank model's tok2vec starts from these weights
    batch_size: int = 16  # tasks scored per hold of the lock
    replay: int = 64  # earlier inputs replayed in each pass of an update
    passes: int = 3  # passes of an update over its new inputs (at least 1)
    update_batch: int = 16  # inputs per step of an update
    drop: float = 0.1
    learn_rate: float | None = 0.002  # Adam's; None: spaCy's default optimizer
    seed: int = 0
    warm_accepts: int = 50  # accepts after which the sorter no longer prefers high scores (warmup)


class TeachModel:
    """A beam NER in the loop: score candidates of tasks, update from answers, save."""

    def __init__(self, nlp: Any, labels: Sequence[str], settings: TeachSettings = TeachSettings(), *,
                 lang: str | None = None):
        """Wrap a pipeline (or ``nlp=None`` and ``lang``: a blank one made on the first task); no ``labels``: the pipeline's.

        ``settings.init_tok2vec`` (blank only) starts the blank one's tok2vec from pretrained weights;
        its layout features are then those the weights were pretrained with. ``settings.pipeline.vectors``
        (--vectors, blank only) gives the blank one those word vectors as static features,
        ``settings.pipeline.lexemes`` (--lookups, blank only) Brown clusters and word probabilities.
        """
        if not labels and nlp is not None:  # a trained MODEL's own, in the order it was trained with
            labels = model_labels(nlp)
        if not labels:
            raise UsageError("--label: name the labels to annotate")
        if nlp is None and lang is None:
            raise UsageError("a TeachModel needs a pipeline or a language")
        self.labels = list(dict.fromkeys(labels))
        self.lang = lang
        self.settings = settings
        self.lock = FairLock()
        self._rng = random.Random(settings.seed)
        self._nlp: Any = None
        self._optimizer: Any = None
        self.layout = False
        self.skipped = 0  # example updates the beam search could not make
        self.updates = 0
        self.swaps = 0  # pipelines swapped in (the warm start)
        self.learnt = 0  # accepted entities learnt from in updates
        self.taught = False  # trained, swapped in or updated: until then its guesses are noise
        self.losses: list[float] = []
        if nlp is not None:
            _blank_only(settings)
        elif settings.init_tok2vec is not None or settings.pipeline.vectors or settings.pipeline.lexemes:
            self._blank(None)  # a bad flag fails now, not on the first task
        self.memory = AnswerMemory(settings.seed)
        self.session = SessionAnswers(self.labels, self.memory)  # what updates learn from and replay
        self.recalled = 0  # answers of earlier sessions counted by recall()
        self.warm: Any = None  # the warmstart.WarmStart under way, if any
        self.started_trained = nlp is not None  # a trained MODEL is past its cold start: no warmup
        if nlp is not None:
            self._adopt(nlp, trained=True)

    # loading --------------------------------------------------------------------------------------

    @classmethod
    def load(cls, model: str, labels: Sequence[str], settings: TeachSettings = TeachSettings()) -> "TeachModel":
        """``blank:LANG`` (made when the first task is seen) or a pipeline folder written by ner.batch-train."""
        if model.startswith("blank:"):
            return cls(None, labels, settings, lang=load_pipeline(model).lang)
        _blank_only(settings, model)
        return cls(load_pipeline(model, beam=True), labels, settings)

    def swap(self, nlp: Any) -> None:
        """Score and learn with this trained pipeline from now on (a warm start), then catch up on the session's answers."""
        with self.lock:
            self._adopt(nlp, trained=True)
            self.swaps += 1
        known = list(self.session.known.values())
        for i in range(0, len(known), self.settings.update_batch):
            self._step(known[i:i + self.settings.update_batch], {})
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

    def recall(self, answers: Iterable[dict]) -> int:
        """Count the answers of earlier sessions (span lengths, rejected words, pattern scores); return how many."""
        n = self.memory.add_all(answers)
        self.recalled += n
        return n

    def warmup(self) -> float:
        """How much the sorter should still prefer high scores to uncertain ones: from blank, 1 with no accept
        and 0 after ``warm_accepts``; 0 for a trained MODEL."""
        warm_accepts = self.settings.warm_accepts
        if self.started_trained or not warm_accepts:
            return 0.0
        return max(0.0, 1.0 - self.memory.accepted / warm_accepts)

    def _adopt(self, nlp: Any, trained: bool) -> None:
        from thinc.api import Adam, fix_random_seed

        fix_random_seed(self.settings.seed)
        ner = nlp.get_pipe("ner")
        if trained:
            for label in self.labels:
                if label not in ner.labels:
                    ner.add_label(label)  # an initialised model resizes its output layer
            self._optimizer = nlp.resume_training()
        else:
            self._optimizer = nlp.initialize()
        if self.settings.learn_rate is not None:
            self._optimizer = Adam(self.settings.learn_rate)
        self.layout = uses_layout(ner.model)
        self.taught = self.taught or trained
        self._nlp = nlp

    def ensure(self, task: dict | None = None) -> Any:
        """The pipeline, made now if it is a blank one (with layout features if ``task`` has token boxes)."""
        if self._nlp is None:
            nlp = self._blank(task)
            self._adopt(nlp, trained=False)
            if self.settings.init_tok2vec is not None:
                apply_pretrained(nlp, self.settings.init_tok2vec)
        return self._nlp

    def _blank(self, task: dict | None) -> Any:
        """A blank pipeline of the labels, with layout features if the pretrained weights have them, or else if
        ``task`` has token boxes."""
        pretrained = self.settings.init_tok2vec
        layout = pretrained.layout if pretrained is not None else \
            bool(task and any(t.get("bbox") for t in task.get("tokens") or []))
        return blank_model(self.lang or "en", self.labels, layout, self.settings.pipeline, pretrained)

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
        return [task_doc(self._nlp.vocab, t) for t in tasks]

    def score(self, tasks: Sequence[dict]) -> list[dict[Triple, float]]:
        """Per task, every candidate (token start, token end exclusive, label) of the annotated labels with its probability."""
        tasks = [t for t in tasks if t.get("tokens")]
        if not tasks:
            return []
        self.ensure(tasks[0])
        wanted = set(self.labels)
        with self.lock:
            scored = entity_scores(self._nlp, self._docs(tasks), prune=False)
        return [{k: min(1.0, v) for k, v in s.items() if k[2] in wanted} for s in scored]

    def predict_tasks(self, tasks: Sequence[dict], measure: str = "corrections",
                      min_score: float = 0.0) -> list[tuple[float, dict]]:
        """``(confidence, task)`` per task: spans set to the model's best analysis (those with a probability of
        at least ``min_score``; none from a blank model not yet taught), each with its probability.

        Confidence is the probability of the best analysis in the beam; ``meta.uncertainty`` is the
        task's uncertainty by ``measure`` (``lookahead.MEASURES``), what ner.correct ranks by.
        """
        from .lookahead import MEASURES

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
            spans = [entity_span(task["tokens"], (s, e, label), round(scores.get((s, e, label), 0.0), 4) if confident else None)
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

        size = self.settings.batch_size
        return Lookahead(stream, score, size=lookahead, batch=size, max_words=40 * size,
                         version=lambda: self.version, diversity=diversity, deterministic=deterministic)

    # what is on the annotator's screen, again ---------------------------------------------------------

    def refresh_prediction(self, task: dict, min_prefill: float = MIN_PREFILL) -> dict:
        """A pre-filled task handed out earlier, predicted again when the model changed since (same hashes)."""
        if (task.get("meta") or {}).get("model_version") == self.version:
            return task
        _conf, eg = self.predict_tasks([task], min_score=min_prefill)[0]
        return {**eg, INPUT_HASH: task[INPUT_HASH], TASK_HASH: task[TASK_HASH]}

    # learning -------------------------------------------------------------------------------------

    def update(self, answers: Sequence[dict]) -> float:
        """Learn from answers (any mix of binary and complete); return the loss. Thread-safe.

        A new answer to a question answered before in the same session replaces the earlier one.
        """
        fresh = self.session.add(answers)
        if not fresh:
            return 0.0
        self.ensure(answers[0])
        batch, older, settings = list(fresh.values()), self.session.older(fresh), self.settings
        losses: dict[str, float] = {}
        for _ in range(max(1, settings.passes)):  # each pass: the new inputs plus a fresh sample of earlier ones
            sample = self._rng.sample(older, min(settings.replay, len(older))) if older else []
            replayed = [self.session.known[k] for k in sample]
            items = batch + replayed
            self._rng.shuffle(items)
            for i in range(0, len(items), settings.update_batch):
                self._step(items[i:i + settings.update_batch], losses)
        self.learnt += sum(len(eg.get("spans") or []) for eg in answers if eg.get("answer") == "accept")
        self.updates += 1
        self.taught = True
        loss = float(losses.get("ner", 0.0))
        self.losses.append(loss)
        return loss

    def _step(self, items: list[Any], losses: dict[str, float]) -> None:
        """One small update under the lock (scoring gets the model in between, every ~50 ms); rejects spread."""
        from ..nlp.merge import answers_to_examples, spread_rejects
        rejected = self.memory.rejected_words()
        items = [spread_rejects(m, rejected) for m in items]
        with self.lock:
            examples = answers_to_examples(self._nlp, items)
            self.skipped += update_skipping(self._nlp, examples, self._optimizer, self.settings.drop, losses)

    def forget(self, answers: Sequence[dict]) -> None:
        """Drop answers that were retracted (undo): later updates neither merge nor replay them.

        What the weights already learnt from them stays: an update cannot be taken back.
        """
        self.session.forget(answers)

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


def _blank_only(settings: TeachSettings, model: str | None = None) -> None:
    """Refuse the start of a blank model (--init-tok2vec, --vectors, --lookups) for a trained pipeline (MODEL ``model``)."""
    which, use, trained = (f", not MODEL '{model}'", "use blank:LANG", "a trained model") if model else \
        ("", "use MODEL blank:LANG", "a trained MODEL")
    if settings.init_tok2vec is not None:
        raise UsageError(f"--init-tok2vec: pretrained weights start a blank model only{which}; {use}")
    if settings.pipeline.vectors:
        raise UsageError(f"--vectors: word vectors start a blank model only{which} ({trained} has its own); {use}")
    if settings.pipeline.lexemes:
        raise UsageError(f"--lookups: the clusters and probabilities start a blank model only{which} ({trained} "
                         f"has its own features); {use}")


def entity_span(tokens: list[dict], triple: Triple, score: float | None) -> dict:
    """A task span over tokens ``[start, end)`` with its label and probability (None: no score yet)."""
    start, end, label = triple
    return {"start": tokens[start]["start"], "end": tokens[end - 1]["end"], "token_start": start,
            "token_end": end - 1, "label": label, "score": score}
