"""Several annotators' answers to one input -> the versions a reviewer chooses from, and the reviewed answer.

Who answered is an example's ``_session_id``, or the name of its dataset when it has none. Each
annotator's answers to one input (grouped by ``_input_hash``) make that annotator's version:
their latest complete annotation (ner.manual, ner.correct, imports: the spans are the whole
answer, accepted or rejected as a whole), or else their binary ner.teach answers merged
(``merge.merge_answers``): the accepted spans are their claims, the rejected ones claims of
absence. Ignored answers make no version. Versions that are equal (same answer, same spans,
same rejected spans) are one version with several annotators; an input with one version is
*agreed*.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..nlp.merge import is_binary, merge_answers
from ..tasks import INPUT_HASH, TASK_HASH, TaskError, input_hash, span_tokens, stable_hash, token_offsets, tokenized

REVIEW_VIEW = "review"
INPUT_KEYS = ("text", "tokens", "image", "width", "height", "meta")  # what of an answer is its input

Span3 = tuple[int, int, str]  # character start, end, label


@dataclass(frozen=True)
class Version:
    """One way an input was answered: accept or reject, its spans, and (binary answers) the spans rejected."""

    answer: str
    spans: tuple[Span3, ...] = ()
    rejected: tuple[Span3, ...] = ()
    binary: bool = False
    annotators: tuple[str, ...] = ()

    def key(self) -> tuple:
        """What two versions must share to agree."""
        return self.answer, self.spans, self.rejected


@dataclass
class ReviewInput:
    """An input, each annotator's version of it, and the distinct versions with their annotators."""

    input_hash: int
    task: dict  # the input: text, tokens and, for a page, image, size and meta
    by_annotator: dict[str, Version]
    versions: list[Version] = field(default_factory=list)

    @property
    def agreed(self) -> bool:
        """Whether every annotator answered it the same way."""
        return len(self.versions) == 1

    @property
    def auto(self) -> bool:
        """Whether --auto-accept stores it unasked: agreed, complete (binary claims are partial), spans on its tokens."""
        version = self.versions[0]
        return (len(self.versions) == 1 and not version.binary
                and all("token_start" in s for s in span_dicts(version.spans, self.task.get("tokens") or [])))


def collect(sources: Mapping[str, Iterable[dict]], nlp: Any = None) -> list[ReviewInput]:
    """Answers by dataset name -> the inputs with their versions, in the order inputs were first answered.

    Tasks without tokens get them from ``nlp`` (a blank pipeline); without it they are left out.
    The same example in two datasets (a dataset and its session dataset) counts once. Of each
    input, one task is kept (the one with the most tokens) and, of each annotator, their latest
    complete version, or their binary answers to merge: memory is about one task per input.
    """
    inputs: dict[int, _Answers] = {}
    seq = 0
    for dataset, stream in sources.items():
        stream = tokenized(nlp, stream) if nlp is not None else stream
        for task in stream:
            if not task.get("tokens") or task.get("answer") not in ("accept", "reject"):
                continue
            key = task.get(INPUT_HASH)
            key = input_hash(task) if key is None else key
            entry = inputs.get(key)
            if entry is None:
                entry = inputs[key] = _Answers(task)
            seq += 1
            entry.add(task.get("_session_id") or dataset, task, seq)
    out = []
    for key, entry in inputs.items():
        versions = entry.versions()
        if versions:
            base = entry.base
            out.append(ReviewInput(key, {k: base[k] for k in INPUT_KEYS if k in base}, versions, group(versions)))
    return out


class _Answers:
    """One input's answers while collecting: its longest-tokenized task, latest complete versions, binary answers."""

    __slots__ = ("base", "complete", "binary")

    def __init__(self, task: dict):
        self.base = task
        self.complete: dict[str, tuple[tuple[int, int], Version]] = {}
        self.binary: dict[str, list[dict]] = {}

    def add(self, who: str, task: dict, seq: int) -> None:
        if len(task["tokens"]) > len(self.base["tokens"]):
            self.base = task
        if is_binary(task):
            self.binary.setdefault(who, []).append(task)
            return
        when = (task.get("_timestamp") or 0, seq)
        if who not in self.complete or when >= self.complete[who][0]:
            spans = _spans(task.get("spans")) if task["answer"] == "accept" else ()
            self.complete[who] = (when, Version(task["answer"], spans))

    def versions(self) -> dict[str, Version]:
        """Each annotator's version: their latest complete one, else their binary answers merged."""
        out = {who: version for who, (_when, version) in self.complete.items()}
        for who, tasks in self.binary.items():
            if who not in out and (version := _binary_version(tasks)) is not None:
                out[who] = version
        return out


def _binary_version(tasks: list[dict]) -> Version | None:
    """An annotator's binary answers to one input merged: the spans they accepted, and those they rejected."""
    merged = merge_answers(tasks).merged
    if not merged:
        return None
    m = merged[0]
    tokens = next((t["tokens"] for t in tasks if tuple(x["text"] for x in t["tokens"]) == m.words), None)
    if tokens is None:
        return None

    def chars(triples: list) -> tuple[Span3, ...]:
        return tuple(sorted((tokens[s]["start"], tokens[e - 1]["end"], label) for s, e, label in triples))

    return Version("accept", chars(m.ents), chars(m.negs), binary=True)


def _spans(spans: list[dict] | None) -> tuple[Span3, ...]:
    return tuple(sorted({(s["start"], s["end"], s["label"]) for s in spans or [] if s.get("label")}))


def group(by_annotator: Mapping[str, Version]) -> list[Version]:
    """Equal versions as one, with all their annotators; the version most annotators gave first."""
    grouped: dict[tuple, list[str]] = {}
    first: dict[tuple, Version] = {}
    for who in sorted(by_annotator):
        version = by_annotator[who]
        grouped.setdefault(version.key(), []).append(who)
        first.setdefault(version.key(), version)
    ordered = sorted(grouped, key=lambda k: (-len(grouped[k]), grouped[k][0]))
    return [Version(*k, binary=first[k].binary, annotators=tuple(grouped[k])) for k in ordered]


def span_dicts(spans: Iterable[Span3], tokens: list[dict]) -> list[dict]:
    """Spans as tasks carry them, with token indices where they fall on ``tokens``' boundaries."""
    offsets = token_offsets(tokens)
    out = []
    for start, end, label in spans:
        span = {"start": start, "end": end, "label": label}
        try:
            span["token_start"], span["token_end"] = span_tokens(span, "", tokens, offsets)
        except TaskError:  # another annotator's tokens: shown in the versions' list, not on the text
            pass
        out.append(span)
    return out


RUN_SESSION = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-\d\d")


def annotator_name(who: str, datasets: Iterable[str] = ()) -> str:
    """How an annotator is shown: 'alice' for the session 'news-alice' of the reviewed dataset 'news', 'run of
    2026-12-07 10:41' for a run's own session, and any other name as it is."""
    for dataset in sorted(datasets, key=len, reverse=True):
        if who.startswith(dataset + "-"):
            rest = who[len(dataset) + 1:]
            run = RUN_SESSION.fullmatch(rest)
            return f"run of {run[1]} {run[2]}:{run[3]}" if run else rest
    return who


def versions_record(item: ReviewInput, datasets: Iterable[str] = ()) -> list[dict]:
    """Who said what, as the review task and its answer carry it (``names``: the annotators as the reviewer reads
    them, the session names in ``annotators``)."""
    tokens = item.task.get("tokens") or []
    datasets = list(datasets)
    return [{"answer": v.answer, "annotators": list(v.annotators),
             "names": [annotator_name(who, datasets) for who in v.annotators], "spans": span_dicts(v.spans, tokens),
             **({"rejected": span_dicts(v.rejected, tokens), "binary": True} if v.binary else {})}
            for v in item.versions]


def review_task(item: ReviewInput, datasets: Iterable[str] = ()) -> dict:
    """The question the reviewer sees: the input, its versions, and in the editor the spans of the first version (the
    one most annotators gave; none if it rejected the input)."""
    task = {**item.task, "versions": versions_record(item, datasets), INPUT_HASH: item.input_hash}
    first = item.versions[0] if item.versions[0].answer == "accept" else None
    spans = span_dicts(first.spans, task.get("tokens") or []) if first else []
    task["spans"] = [s for s in spans if "token_start" in s]  # the editor takes spans on the input's tokens only
    task[TASK_HASH] = stable_hash({"input": item.input_hash, "review": [list(v.key()) for v in item.versions]})
    return task


CONFIRMED_EMPTY = "confirmed_empty"  # an answer's flag: the reviewer accepted no entities on purpose


def check_review_answer(eg: dict) -> None:
    """ValueError for an accept with no entities of an input whose versions had some, unless the reviewer confirmed it
    (``ner.batch-train`` learns such an answer as "no entities here")."""
    if eg.get("answer") != "accept" or eg.get("spans") or eg.get(CONFIRMED_EMPTY) is True:
        return
    versions = eg.get("versions") if isinstance(eg.get("versions"), list) else []
    if any(isinstance(v, dict) and v.get("answer") == "accept" and v.get("spans") for v in versions):
        raise ValueError("accepted with no entities where the annotators marked some: choose a version (1-9) or "
                         f"mark the entities; to store no entities, accept again to confirm ('{CONFIRMED_EMPTY}')")


def auto_answer(item: ReviewInput) -> dict:
    """The answer stored without asking for an agreed input: the agreed version as a complete annotation."""
    version = item.versions[0]
    task = review_task(item)
    return {**task, "spans": span_dicts(version.spans, task.get("tokens") or []), "answer": version.answer,
            "_view_id": REVIEW_VIEW, "auto_accepted": True}


def complete_annotations(items: Iterable[ReviewInput]) -> tuple[dict[int, dict[str, tuple[Span3, ...]]], int]:
    """Each input's accepted complete annotations by annotator (what agreement compares), and how many versions are not."""
    out: dict[int, dict[str, tuple[Span3, ...]]] = {}
    left_out = 0
    for item in items:
        for who, version in item.by_annotator.items():
            if version.binary or version.answer != "accept":
                left_out += 1
            else:
                out.setdefault(item.input_hash, {})[who] = version.spans
    return out, left_out
