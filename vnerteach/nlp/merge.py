"""Answers -> training data: merge every answer per input hash, then make spaCy Examples.

Which answers are binary: a task whose ``_view_id`` is ``"ner"`` (ner.teach) is one binary
decision about its one span. Every other accepted task (``ner_manual`` from ner.manual and
ner.correct, imported annotations without a view id) is a complete annotation: its spans are all
the entities of the text. Rejected complete tasks and ``ignore`` answers are not used.

Merging one input's answers: accepted binary spans become entities and rejected ones incorrect
spans, with every other token missing (unknown, neither entity nor O); for training, the spans an
accepted entity rules out are incorrect spans too (:func:`implied_negatives`), and so is every other
occurrence, in a binary input, of words rejected with a label that no answer ever accepted with
it (:func:`rejected_words`, :func:`spread_rejects`). A complete
annotation sets every token (entity or O). Contradictions are counted and dropped: a span both accepted and
rejected, two accepted entities that overlap, two complete annotations that differ (the input is
dropped), a binary answer that disagrees with the input's complete annotation (the binary answer
is dropped, the complete annotation kept).

An answer that cannot be used at all is left out and recorded as :class:`Unusable` (its dataset,
input hash, the span at fault and why): a span off the token boundaries (``tasks.span_tokens``),
or two overlapping spans in one accepted answer. With ``strict`` the first one is an InputError.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Mapping, Sequence

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import InputError
from ..tasks import INPUT_HASH, TaskError, input_hash, span_text, span_tokens, token_offsets, tokenized
from ..tasks.added import ADDED_LIST
from ..tasks.corrections import OCR_TEXT
from .layout import make_doc, task_boxes

INCORRECT_SPANS_KEY = "incorrect_spans"
BINARY_VIEW = "ner"

Triple = tuple[int, int, str]  # token start, token end (exclusive), label


@dataclass(slots=True)
class Merged:
    """One input with all its answers merged: words, boxes, entities, known-incorrect spans."""

    input_hash: int
    words: tuple[str, ...]
    spaces: tuple[bool, ...]
    boxes: tuple | None
    ents: list[Triple] = field(default_factory=list)
    negs: list[Triple] = field(default_factory=list)
    complete: bool = False

    @property
    def n_words(self) -> int:
        """The number of tokens."""
        return len(self.words)

    def labels(self) -> set[str]:
        """The labels of its entities and incorrect spans."""
        return {t[2] for t in self.ents} | {t[2] for t in self.negs}


@dataclass(frozen=True)
class Unusable:
    """An answer left out of training and export: where it is, the span at fault and why."""

    dataset: str | None
    input_hash: int
    span: dict
    span_text: str  # its text and offsets, as messages show them (tasks.span_text)
    reason: str

    def __str__(self) -> str:
        where = f"dataset '{self.dataset}', " if self.dataset is not None else ""
        label = f" ({self.span['label']})" if self.span.get("label") is not None else ""
        return f"{where}input {self.input_hash}: span {self.span_text}{label} {self.reason}"


@dataclass
class MergeResult:
    """Merged inputs and what merging dropped."""

    merged: list[Merged]
    answers: int = 0
    ignored: int = 0
    rejected_complete: int = 0
    conflicts: int = 0
    no_tokens: int = 0
    unusable: list[Unusable] = field(default_factory=list)
    conflict_inputs: list[int] = field(default_factory=list)  # input hashes with a contradiction


def is_binary(task: dict) -> bool:
    """Whether a task is a binary (ner.teach) decision: its ``_view_id`` is ``"ner"``."""
    return task.get("_view_id") == BINARY_VIEW


class _Unusable(Exception):
    def __init__(self, span: dict, reason: str):
        super().__init__(reason)
        self.span, self.reason = span, reason


def _triples(task: dict, labels: set[str] | None) -> tuple[list[Triple], list[dict]]:
    """The task's spans of the wanted labels as token triples, and those spans; _Unusable for one that cannot be."""
    out: list[Triple] = []
    spans: list[dict] = []
    if not task.get("spans"):
        return out, spans
    text, tokens = task.get("text", ""), task["tokens"]
    offsets = token_offsets(tokens)
    entities = not is_binary(task) or task.get("answer") == "accept"
    for span in task["spans"]:
        label = span.get("label")
        if label is None or (labels is not None and label not in labels):
            continue
        try:
            first, last = span_tokens(span, text, tokens, offsets)
        except TaskError as err:
            raise _Unusable(span, str(err)) from None
        triple = (first, last + 1, label)
        if entities:
            other = next((spans[i] for i, t in enumerate(out) if t != triple and _overlaps(t, triple)), None)
            if other is not None:
                raise _Unusable(span, f"overlaps the span {span_text(other, text)} ({other['label']}) of the "
                                      "same answer: entities cannot overlap")
        out.append(triple)
        spans.append(span)
    return out, spans


def _overlaps(a: Triple, b: Triple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _text(words: tuple[str, ...], spaces: tuple[bool, ...]) -> str:
    return "".join(w + (" " if s else "") for w, s in zip(words, spaces)).rstrip(" ")


def _bounds(words: tuple[str, ...], spaces: tuple[bool, ...]) -> list[tuple[int, int]]:
    """Each token's character start and end in the text its words and spaces make."""
    out, at = [], 0
    for word, space in zip(words, spaces):
        out.append((at, at + len(word)))
        at += len(word) + space
    return out


def _move(triple: Triple, source: list[tuple[int, int]], target: list[tuple[int, int]]) -> Triple | None:
    """A triple over ``source`` tokens as one over ``target`` tokens of the same text; None if off their bounds."""
    start, end = source[triple[0]][0], source[triple[1] - 1][1]
    first = next((i for i, b in enumerate(target) if b[0] == start), None)
    last = next((i for i, b in enumerate(target) if b[1] == end), None)
    return (first, last + 1, triple[2]) if first is not None and last is not None and first <= last else None


class _Input:
    """The answers of one input hash while merging."""

    __slots__ = ("words", "ocr", "spaces", "boxes", "by_hand", "accepts", "rejects", "completes")

    def __init__(self, task: dict):
        self.take_tokens(task, tuple(t["text"] for t in task["tokens"]))
        self.accepts: set[Triple] = set()
        self.rejects: set[Triple] = set()
        self.completes: list[frozenset[Triple]] = []

    def take_tokens(self, task: dict, words: tuple[str, ...]) -> None:
        """Use this task's tokens (words, spaces, boxes) for the input."""
        self.words = words
        self.ocr = tuple(t.get(OCR_TEXT, t["text"]) for t in task["tokens"])  # as OCR read them
        self.by_hand = bool(task.get(ADDED_LIST))
        self.spaces = tuple(bool(t.get("ws", True)) for t in task["tokens"])
        boxes = task_boxes(task)
        self.boxes = tuple(tuple(b) if b else None for b in boxes) if boxes else None

    def fit(self, task: dict, triples: list[Triple]) -> tuple[list[Triple], Triple | None]:
        """The triples on the input's tokens, the first that cannot be; tokens extending or finer become the input's."""
        n = len(self.words)
        if len(task["tokens"]) == n and not self.by_hand and not task.get(ADDED_LIST):  # the common case, cheap
            if any(OCR_TEXT in t for t in task["tokens"]):
                self.words = self.corrected(task)
            return triples, None
        words = tuple(t["text"] for t in task["tokens"])
        ocr = tuple(t.get(OCR_TEXT, t["text"]) for t in task["tokens"])
        if len(words) > n and ocr[:n] == self.ocr:
            kept = self.words
            self.take_tokens(task, words)
            self.words = self.corrected(task, kept)
            return triples, None
        spaces = tuple(bool(t.get("ws", True)) for t in task["tokens"])
        if not self.by_hand and not task.get(ADDED_LIST) and _text(words, spaces) == _text(self.words, self.spaces):
            return self.retokenized(task, words, spaces, triples)
        shared = next((i for i, (a, b) in enumerate(zip(words, self.words)) if a != b), min(n, len(words)))
        return triples, next((t for t in triples if t[1] > shared), None)

    def corrected(self, task: dict, words: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The input's words (or ``words``) with the tokens this task corrected by hand (``ocr_text``) as it has them."""
        words = self.words if words is None else words
        tokens = task["tokens"]
        return tuple(t["text"] if OCR_TEXT in t else words[i] for i, t in enumerate(tokens[:len(words)])) \
            + tuple(t["text"] for t in tokens[len(words):])

    def retokenized(self, task: dict, words: tuple[str, ...], spaces: tuple[bool, ...], triples: list[Triple]
                    ) -> tuple[list[Triple], Triple | None]:
        """Triples over the same text cut otherwise, moved onto the input's tokens (or the input onto finer ones)."""
        mine, theirs = _bounds(self.words, self.spaces), _bounds(words, spaces)
        moved = [_move(t, theirs, mine) for t in triples]
        if None not in moved:
            return moved, None
        starts, ends = {b[0] for b in theirs}, {b[1] for b in theirs}
        if not all(a in starts and b in ends for a, b in mine):
            return triples, triples[moved.index(None)]
        move = {t: _move(t, mine, theirs) for t in self.accepts | self.rejects
                | {t for c in self.completes for t in c}}
        self.accepts = {move[t] for t in self.accepts}
        self.rejects = {move[t] for t in self.rejects}
        self.completes = [frozenset(move[t] for t in c) for c in self.completes]
        self.take_tokens(task, words)
        return triples, None

    def resolve(self, key: int) -> tuple[Merged | None, int]:
        """The merged input (None if nothing usable is left) and the number of contradictions."""
        conflicts = 0
        both = self.accepts & self.rejects
        conflicts += len(both)
        accepts, rejects = self.accepts - both, self.rejects - both
        clashing = {a for a in accepts for b in accepts if a != b and _overlaps(a, b)}
        conflicts += len(clashing)
        accepts -= clashing
        if self.completes:
            if len(set(self.completes)) > 1:
                return None, conflicts + 1
            ents = set(self.completes[0])
            disagree = (accepts - ents) | (rejects & ents)
            conflicts += len(disagree)
            return Merged(key, self.words, self.spaces, self.boxes, sorted(ents), [], True), conflicts
        if not accepts and not rejects:
            return None, conflicts
        return Merged(key, self.words, self.spaces, self.boxes, sorted(accepts), sorted(rejects), False), conflicts


def merge_answers(examples: Iterable[dict] | Mapping[str, Iterable[dict]], labels: Sequence[str] | None = None,
                  tokenizer_nlp: Any = None, strict: bool = False) -> MergeResult:
    """Merge answers (or answers by dataset name) per input hash into compact records; see the module docstring.

    Tasks without tokens are tokenized with ``tokenizer_nlp`` (a blank pipeline); spans of labels
    outside ``labels`` (when given) are left out. Only the compact records are kept, never the tasks.
    """
    wanted = set(labels) if labels else None
    inputs: dict[int, _Input] = {}
    result = MergeResult([])

    def counted(stream: Iterable[dict]) -> Iterator[dict]:
        for task in stream:
            result.answers += 1
            if task.get("answer") == "ignore":
                result.ignored += 1
            elif task.get("answer") == "reject" and not is_binary(task):
                result.rejected_complete += 1
            elif "tokens" not in task and tokenizer_nlp is None:
                result.no_tokens += 1
            else:
                yield task

    sources = examples.items() if isinstance(examples, Mapping) else [(None, examples)]
    for dataset, stream in sources:
        tasks = tokenized(tokenizer_nlp, counted(stream)) if tokenizer_nlp is not None else counted(stream)
        for task in tasks:
            if not task.get("tokens"):
                result.no_tokens += 1
                continue
            key = task.get(INPUT_HASH)
            if key is None:
                key = input_hash(task)
            try:
                triples, spans = _triples(task, wanted)
                entry = inputs.get(key)
                if entry is None:
                    entry = inputs[key] = _Input(task)
                else:
                    moved, beyond = entry.fit(task, triples)
                    if beyond is not None:
                        why = "tokens added by hand" if entry.by_hand or task.get(ADDED_LIST) else "cut otherwise"
                        raise _Unusable(spans[triples.index(beyond)], "covers tokens that differ from those of "
                                                                      f"another answer to this input ({why})")
                    triples = moved
            except _Unusable as bad:
                problem = Unusable(dataset, key, bad.span, span_text(bad.span, task.get("text", "")), bad.reason)
                if strict:
                    raise InputError(f"{problem} (--strict: stopped at the first answer that cannot be used)") from None
                result.unusable.append(problem)
                continue
            if is_binary(task):
                (entry.accepts if task.get("answer") == "accept" else entry.rejects).update(triples)
            else:
                entry.completes.append(frozenset(triples))
    for key, entry in inputs.items():
        merged, conflicts = entry.resolve(key)
        result.conflicts += conflicts
        if conflicts:
            result.conflict_inputs.append(key)
        if merged is not None:
            result.merged.append(merged)
    return result


def merged_doc(vocab: Any, merged: Merged) -> Doc:
    """The unannotated Doc of a merged input (its own tokens and boxes)."""
    return make_doc(vocab, merged.words, merged.spaces, merged.boxes)


def implied_negatives(merged: Merged, labels: Iterable[str], reach: int = 3) -> list[Triple]:
    """The incorrect spans of a binary input plus what its accepted entities imply.

    Entities never overlap, so every other span overlapping an accepted entity (reaching at most
    ``reach`` tokens beyond it, of any of ``labels``) is not an entity. Without this, binary
    answers say nothing about the tokens around an accepted entity, and a model trained on them
    keeps proposing long spans that swallow it.
    """
    if merged.complete or not merged.ents:
        return merged.negs
    n = len(merged.words)
    negs = set(merged.negs)
    for a, b, _label in merged.ents:
        for start in range(max(0, a - reach), b):
            for end in range(max(start + 1, a + 1), min(n, b + reach) + 1):
                negs.update((start, end, label) for label in labels)
    return sorted(negs - set(merged.ents))


Words = tuple[str, ...]


def rejected_words(merged: Iterable[Merged]) -> dict[Words, set[str]]:
    """Words rejected with a label in some binary input and never an entity of that label in any input."""
    rejected: dict[Words, set[str]] = {}
    accepted: set[tuple[Words, str]] = set()
    for m in merged:
        accepted.update((m.words[s:e], label) for s, e, label in m.ents)
        if not m.complete:
            for s, e, label in m.negs:
                rejected.setdefault(m.words[s:e], set()).add(label)
    for words, labels in list(rejected.items()):
        labels.difference_update(label for label in list(labels) if (words, label) in accepted)
        if not labels:
            del rejected[words]
    return rejected


def spread_rejects(merged: Merged, rejected: Mapping[Words, set[str]]) -> Merged:
    """A binary input with every occurrence of rejected words (:func:`rejected_words`) as incorrect spans of their labels.

    Rejects then count beyond their own sentence: "Disneyland" rejected as PERSON once is not a
    PERSON in the next input either, where the annotator was never asked about it.
    """
    if merged.complete or not rejected:
        return merged
    by_first: dict[str, set[int]] = {}
    for words in rejected:
        by_first.setdefault(words[0], set()).add(len(words))
    ents = set(merged.ents)
    negs = set(merged.negs)
    for i, word in enumerate(merged.words):
        for n in by_first.get(word, ()):
            words = merged.words[i:i + n]
            if len(words) == n and words in rejected:
                negs.update(t for label in rejected[words] if (t := (i, i + n, label)) not in ents)
    return replace(merged, negs=sorted(negs)) if len(negs) > len(merged.negs) else merged


def reference_doc(vocab: Any, merged: Merged, labels: Iterable[str] = ()) -> Doc:
    """The gold Doc: entities set; other tokens O if complete, else missing; incorrect spans in spans.

    With ``labels`` (the model's), a binary input's incorrect spans include those its accepted
    entities imply (:func:`implied_negatives`); without, they are exactly the rejected answers.
    """
    doc = merged_doc(vocab, merged)
    ents = [Span(doc, s, e, label=label) for s, e, label in merged.ents]
    doc.set_ents(ents, default="outside" if merged.complete else "missing")
    negs = implied_negatives(merged, labels) if labels else merged.negs
    if negs:
        doc.spans[INCORRECT_SPANS_KEY] = [Span(doc, s, e, label=label) for s, e, label in negs]
    return doc


def answers_to_examples(nlp: Any, merged: Iterable[Merged]) -> list[Example]:
    """spaCy Examples to train ``nlp``'s NER on: the predicted doc unannotated, the reference as merged."""
    labels = tuple(nlp.get_pipe("ner").labels) if "ner" in nlp.pipe_names else ()
    out = []
    for m in merged:
        predicted = merged_doc(nlp.vocab, m)
        out.append(Example(predicted, reference_doc(nlp.vocab, m, labels)))
    return out
