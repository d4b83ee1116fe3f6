"""Pattern matches for the cold start: spaCy Matcher/PhraseMatcher patterns from JSONL, as task spans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputError
from .failures import OnFailure, isolate


def read_patterns(path: str | Path) -> list[dict]:
    """Patterns from a JSONL file: ``{"label": "ORG", "pattern": "Apple"}`` or a list of token dicts."""
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
        self.by_key: dict[str, dict] = {}
        for i, entry in enumerate(patterns):
            key = f"p{i}"
            self.by_key[key] = entry
            try:
                if isinstance(entry["pattern"], str):
                    self.phrases.add(key, [nlp.make_doc(entry["pattern"])])
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
        for matcher in (self.phrases, self.matcher):
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
                          "token_end": span.end - 1, "label": entry["label"], "pattern": entry["id"]})
            taken.update(range(span.start, span.end))
        if spans:
            task["spans"] = sorted(spans, key=lambda sp: sp["start"])
        return task
