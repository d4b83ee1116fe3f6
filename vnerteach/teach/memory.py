"""What the answers so far tell ner.teach about what to ask: accepts per label, span lengths, rejected words, patterns."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Iterable

from ..nlp.merge import Words, is_binary
from ..tasks import TaskError, span_tokens, token_offsets
from .patterns import PatternScores
from .sensible import crosses_line


class AnswerMemory:
    """Counts kept from every answer of the dataset and the session (an undo takes its answer back out).

    Answers are added in the update thread while the stream's thread reads: what it reads is kept
    in plain values and dicts read by key, and writers take a lock.
    """

    def __init__(self, seed: int = 0, min_accepts: int = 3, slack: int = 1):
        self.min_accepts, self.slack = min_accepts, slack
        self.accepts: Counter[str] = Counter()  # accepted entities per label
        self.lengths: dict[str, Counter[int]] = {}  # accepted entity lengths in tokens, per label
        self.words: dict[tuple[Words, str], list[int]] = {}  # (words, label) -> [accepts, rejects]
        self.patterns = PatternScores(seed)
        self.accepted = 0  # accepted entities of every label
        self.multiline: Counter[str] = Counter()  # accepted entities that run over a line break, per label
        self._longest: dict[str, int] = {}  # per label, the longest accepted entity in tokens
        self._lock = threading.Lock()

    def add(self, answer: dict, sign: int = 1) -> None:
        """Count an answer's spans (``sign=-1``: take an answer back)."""
        with self._lock:
            self._add(answer, sign)

    def _add(self, answer: dict, sign: int) -> None:
        decision = answer.get("answer")
        if decision not in ("accept", "reject") or not answer.get("tokens"):
            return
        if decision == "reject" and not is_binary(answer):
            return  # a rejected complete annotation says nothing about any one span
        self.patterns.add(answer, sign)
        tokens = answer["tokens"]
        offsets = token_offsets(tokens)
        for span in answer.get("spans") or []:
            label = span.get("label")
            try:
                first, last = span_tokens(span, answer.get("text", ""), tokens, offsets)
            except (TaskError, KeyError, TypeError):
                continue
            words = tuple(t["text"] for t in tokens[first:last + 1])
            counts = self.words.setdefault((words, label), [0, 0])
            counts[decision == "reject"] = max(0, counts[decision == "reject"] + sign)
            if decision == "accept":
                self.accepts[label] = max(0, self.accepts[label] + sign)
                lengths = self.lengths.setdefault(label, Counter())
                lengths[len(words)] += sign
                if lengths[len(words)] <= 0:
                    del lengths[len(words)]
                self._longest[label] = max(lengths, default=0)
                if crosses_line(tokens, first, last + 1):
                    self.multiline[label] = max(0, self.multiline[label] + sign)
        self.accepted = sum(self.accepts.values())

    def add_all(self, answers: Iterable[dict]) -> int:
        """Count many answers (e.g. a dataset's, on a restart); return how many."""
        n = 0
        for answer in answers:
            self.add(answer)
            n += 1
        return n

    def rejected(self, words: Words, label: str) -> bool:
        """Whether these words were rejected with this label and never accepted with it."""
        counts = self.words.get((words, label))
        return counts is not None and counts[1] > 0 and counts[0] == 0

    def rejected_words(self) -> dict[Words, set[str]]:
        """Every (words, labels) rejected and never accepted, as ``merge.spread_rejects`` takes them."""
        out: dict[Words, set[str]] = {}
        with self._lock:
            items = list(self.words.items())
        for (words, label), (accepts, rejects) in items:
            if rejects and not accepts:
                out.setdefault(words, set()).add(label)
        return out

    def crosses_lines(self, label: str) -> bool:
        """Whether an accepted entity of this label ran over a line break (a form's address can)."""
        return self.multiline.get(label, 0) > 0

    def too_long(self, n_tokens: int, label: str) -> bool:
        """Whether a span is longer than any accepted for its label, plus ``slack`` tokens (once a label has a few)."""
        longest = self._longest.get(label)
        if not longest or self.accepts.get(label, 0) < self.min_accepts:
            return False
        return n_tokens > longest + self.slack
