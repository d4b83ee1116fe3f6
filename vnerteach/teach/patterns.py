"""Pattern matches for the cold start: spaCy Matcher/PhraseMatcher patterns from JSONL, as task spans.

Each pattern also keeps a score from its answers (:class:`PatternScores`): a pattern whose matches
the annotator keeps rejecting is asked less.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InputError
from ..failures import OnFailure, isolate

PATTERN_KEY = "pattern"  # a span's field naming the pattern that matched it


def read_patterns(path: str | Path) -> list[dict]:
    """Patterns from a JSONL file: ``{"label": "ORG", "pattern": "Apple"}`` (``"lower": true``: any case) or token dicts."""
    patterns = []
    try:
        f = open(path, encoding="utf8")
    except OSError as err:
        raise InputError(f"cannot read patterns: {err.strerror}", path) from None
    with f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON: {err.msg} (column {err.colno})", path, line_no) from None
            problem = _problem(entry)
            if problem:
                raise InputError(problem, path, line_no)
            entry.setdefault("id", f"{Path(path).name}:{line_no}")
            patterns.append(entry)
    if not patterns:
        raise InputError("no patterns in this file", path)
    return patterns


def _problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "a pattern must be an object like {\"label\": \"ORG\", \"pattern\": \"Apple\"}"
    if not isinstance(entry.get("label"), str) or not entry["label"]:
        return "a pattern needs a 'label' string"
    pattern = entry.get("pattern")
    if "lower" in entry and not isinstance(entry["lower"], bool):
        return "'lower' must be true or false (true: a phrase pattern matches in any case)"
    if isinstance(pattern, str):
        return None if pattern.strip() else "'pattern' is an empty string"
    if isinstance(pattern, list) and pattern and all(isinstance(t, dict) and t for t in pattern):
        return None
    return "'pattern' must be a string (phrase) or a non-empty list of token objects"


class PatternMatcher:
    """Finds pattern matches in tasks (text or page tokens) and adds them as spans tagged with the pattern."""

    def __init__(self, nlp: Any, patterns: Iterable[dict]):
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = nlp
        self.matcher = Matcher(nlp.vocab, validate=True)
        self.phrases = PhraseMatcher(nlp.vocab)
        self.phrases_lower = PhraseMatcher(nlp.vocab, attr="LOWER")  # phrase patterns with "lower": true
        self.by_key: dict[str, dict] = {}
        for i, entry in enumerate(patterns):
            key = f"p{i}"
            self.by_key[key] = entry
            try:
                if isinstance(entry["pattern"], str):
                    phrases = self.phrases_lower if entry.get("lower") else self.phrases
                    phrases.add(key, [nlp.make_doc(entry["pattern"])])
                else:
                    self.matcher.add(key, [entry["pattern"]])
            except (ValueError, KeyError) as err:
                raise InputError(f"pattern {entry.get('id', i)}: {err}") from None

    def __call__(self, stream: Iterable[dict], on_failure: OnFailure | None = None) -> Iterator[dict]:
        """Add the matches to each task's spans (lazily); a match overlapping a span already there is dropped.

        A task the matcher cannot read goes to ``on_failure`` and the stream goes on.
        """
        def add(tasks: list[dict]) -> list[dict]:
            return [self.add_spans(t) for t in tasks]

        for task in stream:
            for done, _ in isolate(add, [task], on_failure):
                yield done

    def add_spans(self, task: dict) -> dict:
        """Add pattern matches to one tokenized task's ``spans``, longest match first, no overlaps."""
        from spacy.tokens import Doc
        from spacy.util import filter_spans

        tokens = task.get("tokens") or []
        if not tokens:
            return task
        doc = Doc(self.nlp.vocab, words=[t["text"] for t in tokens], spaces=[bool(t.get("ws", True)) for t in tokens])
        keys: dict[tuple[int, int], str] = {}
        for matcher in (self.phrases, self.phrases_lower, self.matcher):
            if not len(matcher):
                continue  # spaCy warns when an empty matcher runs
            for key, start, end in matcher(doc):
                keys.setdefault((start, end), self.nlp.vocab.strings[key])
        found = [doc[start:end] for start, end in keys]
        spans = list(task.get("spans") or [])
        taken = {i for sp in spans if "token_start" in sp for i in range(sp["token_start"], sp["token_end"] + 1)}
        for span in sorted(filter_spans(found), key=lambda sp: sp.start):
            if taken & set(range(span.start, span.end)):
                continue
            entry = self.by_key[keys[(span.start, span.end)]]
            first, last = tokens[span.start], tokens[span.end - 1]
            spans.append({"start": first["start"], "end": last["end"], "token_start": span.start,
                          "token_end": span.end - 1, "label": entry["label"], PATTERN_KEY: entry["id"]})
            taken.update(range(span.start, span.end))
        if spans:
            task["spans"] = sorted(spans, key=lambda sp: sp["start"])
        return task


@dataclass
class PatternCount:
    """The answers to one pattern's matches: accepted, rejected, skipped."""

    label: str | None = None
    accept: int = 0
    reject: int = 0
    ignore: int = 0

    @property
    def score(self) -> float:
        """The mean of Beta(1 + accepts, 1 + rejects): the estimated share of its matches that are right."""
        return (1 + self.accept) / (2 + self.accept + self.reject)


def answer_patterns(answer: dict) -> list[tuple[str, str | None]]:
    """The (pattern id, label) of each span of an answer that a pattern matched."""
    return [(str(span[PATTERN_KEY]), span.get("label")) for span in answer.get("spans") or []
            if isinstance(span, dict) and span.get(PATTERN_KEY) is not None]



def pattern_counts(answers: Iterable[dict]) -> dict[str, PatternCount]:
    """Per pattern id, the answers to its matches (from each span's ``pattern`` field), in first-seen order."""
    counts: dict[str, PatternCount] = {}
    for answer in answers:
        for pattern, label in answer_patterns(answer):
            count = counts.setdefault(pattern, PatternCount(label))
            if answer.get("answer") in ("accept", "reject", "ignore"):
                setattr(count, answer["answer"], getattr(count, answer["answer"]) + 1)
    return counts


class PatternScores:
    """Each pattern's answers so far, and whether to ask about its next match (asked less the more it is rejected).

    A match is asked with probability ``min(1, 2 p)``, ``p`` drawn from Beta(1 + accepts, 1 +
    rejects): a pattern right at least half the time is always asked, one the annotator keeps
    rejecting seldom (after 10 rejects and no accept, about 1 match in 6). A pattern with fewer
    than ``min_answers`` answers is always asked.
    """

    def __init__(self, seed: int = 0, min_answers: int = 3):
        self.counts: dict[str, PatternCount] = {}
        self.min_answers = min_answers
        self._rng = random.Random(seed)

    def add(self, answer: dict, sign: int = 1) -> None:
        """Count an answer to a pattern's match (``sign=-1``: take it back, after an undo)."""
        if answer.get("answer") not in ("accept", "reject"):
            return
        for pattern, label in answer_patterns(answer):
            count = self.counts.setdefault(pattern, PatternCount(label))
            setattr(count, answer["answer"], max(0, getattr(count, answer["answer"]) + sign))

    def ask(self, pattern: str) -> bool:
        """Whether to ask about this pattern's next match."""
        count = self.counts.get(pattern)
        if count is None or count.accept + count.reject < self.min_answers:
            return True
        return self._rng.random() < min(1.0, 2 * self._rng.betavariate(1 + count.accept, 1 + count.reject))
