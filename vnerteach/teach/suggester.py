"""ner.teach's stream of questions: the model's candidate entities and the pattern matches, as scored span tasks.

The recipe composes a :class:`Suggester` from the model in the loop and the pattern matcher (Prodigy's
``combine_models(model, matcher)``): the model scores every candidate ``(start, end, label)`` of a
task, the matcher adds its matches, and each becomes a binary task with one span. Candidates no
annotator would accept are not asked (``sensible.unlikely``; words rejected with their label and
never accepted; spans longer than any accepted for their label), and a pattern the annotator keeps
rejecting is asked less (the model's ``memory.AnswerMemory``). Until the model's scores mean
something (``TeachModel.confident``) its own candidates carry no score: a few name-like runs of
words (``sensible.name_runs``) are asked between the pattern matches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import AbstractSet, Any, Iterable, Iterator

from ..failures import OnFailure, isolate
from ..tasks import INPUT_HASH, TASK_HASH, set_hashes
from .model import TeachModel, Triple, entity_span
from .patterns import PATTERN_KEY
from .sensible import name_runs, unlikely

# Until the model is confident, it asks at most one of its own candidates per this many pattern matches (it has
# no score to rank them by: they are name-like spans, one per input), or one when this many inputs in a row
# gave no question at all, so a source the patterns rarely match still gets questions.
UNSCORED_SHARE = 3
DRY_INPUTS = 10


@dataclass
class Seen:
    """How far a stream of suggestions has got: inputs scored, candidates offered, questions passed on by the sorter."""

    inputs: int = 0
    candidates: int = 0
    questions: int = 0


class Suggester:
    """Scored binary questions from the model's candidates and the matcher's matches (pattern matches first)."""

    def __init__(self, model: TeachModel, matcher: Any = None, *, min_score: float = 0.01, min_candidates: int = 2,
                 sensible: bool = True):
        """``min_score``: a confident model's candidates below it are not asked, but for each task's best
        ``min_candidates``; ``sensible`` False: every candidate is asked (the baseline of bench/coldstart.py)."""
        self.model, self.matcher = model, matcher
        self.min_score, self.min_candidates, self.sensible = min_score, min_candidates, sensible
        self.seen = Seen()  # counted here; questions by whoever sorts the output
        self._stop_words: frozenset[str] | None = None

    def __call__(self, stream: Iterable[dict], on_failure: OnFailure | None = None) -> Iterator[tuple[float, dict]]:
        """Lazily, ``(score, task)`` per candidate entity: one span each, pattern matches tagged and first.

        A pattern match is a task whose span carries ``pattern`` (the pattern's id) and the model's
        score for that span; the model's own candidate for the same span is then not asked again.
        The same question (task hash) is never yielded twice. A task that cannot be scored goes to
        ``on_failure`` and the stream goes on.
        """
        asked: set[int] = set()
        share = _UnscoredShare()

        def candidates(batch: list[dict]) -> list[list[tuple[float, dict]]]:
            return [self._candidates(task, scores, share) for task, scores in zip(batch, self.model.score(batch))]

        size = self.model.settings.batch_size  # small batches: the lock is held briefly, the first question is quick
        for batch in _chunks(stream, size, 40 * size):
            for _task, found in isolate(candidates, batch, on_failure):
                share.input(bool(found))
                for score, eg in found:
                    if eg[TASK_HASH] not in asked:
                        asked.add(eg[TASK_HASH])
                        self.seen.candidates += 1
                        yield score, eg

    def refresh(self, task: dict) -> dict | None:
        """A binary question handed out earlier, scored again by the current model; None when it is no longer worth
        asking (its words were rejected with its label meanwhile)."""
        model = self.model
        meta = task.get("meta") or {}
        if meta.get("model_version") == model.version or not task.get("spans"):
            return task
        span = task["spans"][0]
        triple = (span["token_start"], span["token_end"] + 1, span["label"])
        pattern = span.get(PATTERN_KEY)
        if self.sensible and not self._sensible(task["tokens"], triple, pattern=pattern is not None):
            return None
        score = model.score([task])[0].get(triple, 0.0) if model.confident else None
        eg = span_task(task, triple, round(score, 4) if score is not None else None, pattern=pattern,
                       version=model.version)
        return {**eg, INPUT_HASH: task[INPUT_HASH], TASK_HASH: task[TASK_HASH]}

    def stop_words(self) -> frozenset[str]:
        """The function words of the model's language (no candidate is made of them alone)."""
        if self._stop_words is None:
            self._stop_words = frozenset(self.model.tokenizer().Defaults.stop_words)
        return self._stop_words

    def _candidates(self, task: dict, scores: dict[Triple, float], share: _UnscoredShare) -> list[tuple[float, dict]]:
        model = self.model
        set_hashes(task)
        self.seen.inputs += 1
        confident = model.confident
        found = []
        for span in _pattern_spans(self.matcher, task) if self.matcher is not None else []:
            triple = (span["token_start"], span["token_end"] + 1, span["label"])
            if self.sensible and not self._sensible(task["tokens"], triple, pattern=True):
                continue
            if not model.memory.patterns.ask(span[PATTERN_KEY]):
                continue  # asked less: the model may still ask about the span as its own candidate
            score = scores.pop(triple, 0.0)
            found.append((score, span_task(task, triple, round(score, 4) if confident else None,
                                           pattern=span.get(PATTERN_KEY), version=model.version)))
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
                found.append((score, span_task(task, triple, round(score, 4), version=model.version)))
        return found

    def _unscored(self, task: dict, scores: dict[Triple, float], share: _UnscoredShare) -> list[tuple[float, dict]]:
        """A model that knows nothing yet: at most one name-like run of words, without a score, when the share allows.

        The span comes from the shape of the words (``sensible.name_runs``), its label from the beam where it has
        the span, else the label asked least so far; it goes to the sorter as a coin toss (0.5): the beam's
        probabilities are noise and must not rank it.
        """
        if not share.allows():
            return []
        tokens, labels, memory = task["tokens"], self.model.labels, self.model.memory
        runs = [(s, e) for s, e in name_runs(tokens, self.stop_words())
                if not any(memory.rejected(tuple(t["text"] for t in tokens[s:e]), label) for label in labels)]
        if not runs:
            return []
        start, end = runs[share.asked % len(runs)]
        by_beam = {label: p for (s, e, label), p in scores.items() if (s, e) == (start, end)}
        label = max(by_beam, key=by_beam.__getitem__) if by_beam else min(labels, key=share.labels.__getitem__)
        share.unscored(label)
        return [(0.5, span_task(task, (start, end, label), None, version=self.model.version))]

    def _sensible(self, tokens: list[dict], triple: Triple, pattern: bool = False) -> bool:
        """Whether an annotator might accept this candidate, given the tokens and the answers so far.

        A pattern's match is held to the tokens only: its length is the pattern's, its rejects count in its score.
        """
        start, end, label = triple
        memory = self.model.memory
        stop_words: AbstractSet[str] = self.stop_words() if not pattern else frozenset()
        why = unlikely(tokens, start, end, stop_words)
        if why is not None and not (why == "crosses a line" and memory.crosses_lines(label)):
            return False
        if pattern:
            return True
        return not memory.too_long(end - start, label) and \
            not memory.rejected(tuple(t["text"] for t in tokens[start:end]), label)


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


def span_task(task: dict, triple: Triple, score: float | None, pattern: str | None = None,
              version: int | None = None) -> dict:
    """A binary question about one span of ``task`` (its own input hash, a task hash of its own).

    ``score`` None: the model's probability means nothing yet (shown as "no score yet"). ``version``: the
    model's version that scored it (``meta.model_version``), so a stale question can be scored again.
    """
    eg = {k: v for k, v in task.items() if k not in ("spans", TASK_HASH, "label")}
    span = entity_span(task["tokens"], triple, score)
    if pattern is not None:
        span[PATTERN_KEY] = pattern
    eg["spans"] = [span]
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
