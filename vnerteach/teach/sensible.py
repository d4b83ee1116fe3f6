"""Candidate spans no annotator would accept, whatever the model says: punctuation or function words only, or
across a line break; and which spans look like a name when the model's scores mean nothing yet."""

from __future__ import annotations

from typing import AbstractSet, Sequence


def has_word(text: str) -> bool:
    """Whether a token holds a letter or digit (anything else is punctuation, symbols or whitespace)."""
    return any(ch.isalnum() for ch in text)


def same_line(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two boxes ``[x0, y0, x1, y1]`` share a line: they overlap by at least half the lower one's height."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * max(1e-9, min(a[3] - a[1], b[3] - b[1]))


def crosses_line(tokens: Sequence[dict], start: int, end: int) -> bool:
    """Whether tokens ``[start, end)`` run over a line break: a newline in the text, or boxes on two lines."""
    if any("\n" in tokens[i]["text"] for i in range(start, end)):
        return True
    for i in range(start, end - 1):
        a, b = tokens[i].get("bbox"), tokens[i + 1].get("bbox")
        if a and b and not same_line(a, b):
            return True
    return False


def is_function_word(text: str, stop_words: AbstractSet[str]) -> bool:
    """Whether a token is a function word ("the", "Of") or punctuation; an acronym in capitals ("US", "IT") is not."""
    if not has_word(text):
        return True
    return text.lower() in stop_words and not (len(text) > 1 and text.isupper())


def unlikely(tokens: Sequence[dict], start: int, end: int, stop_words: AbstractSet[str] = frozenset()) -> str | None:
    """Why no annotator would accept tokens ``[start, end)`` as an entity, or None when one might."""
    if not any(has_word(tokens[i]["text"]) for i in range(start, end)):
        return "punctuation only"
    if stop_words and all(is_function_word(tokens[i]["text"], stop_words) for i in range(start, end)):
        return "function words only"
    if crosses_line(tokens, start, end):
        return "crosses a line"
    return None


SENTENCE_END = frozenset(".!?:;\"'\n")


def name_like(tokens: Sequence[dict], start: int, end: int, stop_words: AbstractSet[str] = frozenset()) -> int:
    """How much tokens ``[start, end)`` look like a name or a value, from the shape of the words alone: 0 not at all;
    1 a number, or a capital that may just open a sentence ("Yesterday Dana"); 2 a name starting with a capital
    inside a sentence or a word in capitals ("Dana Klein", "US").

    What a model that has learnt nothing may still ask: its own ranking is noise, the shape of the words is not.
    """
    def opens(i: int) -> bool:
        return i == 0 or tokens[i - 1]["text"].strip()[-1:] in SENTENCE_END or "\n" in tokens[i - 1]["text"]

    def capital(i: int) -> bool:
        text = tokens[i]["text"]
        return (len(text) > 1 and text.isupper()) or (text[:1].isupper() and not opens(i))

    first, last = tokens[start]["text"], tokens[end - 1]["text"]
    if not all(t[:1].isupper() or t[:1].isdigit() for t in (first, last)) or unlikely(tokens, start, end, stop_words):
        return 0
    if capital(start):
        return 2
    return 1 if first[:1].isdigit() or any(capital(i) for i in range(start, end)) else 0


def name_runs(tokens: Sequence[dict], stop_words: AbstractSet[str] = frozenset()) -> list[tuple[int, int]]:
    """The longest runs of tokens that look like a name (``name_like`` 2: "Dana Klein", "NEW YORK"), on one line each."""
    runs, i = [], 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and name_like(tokens, i, j + 1, stop_words) == 2 and not crosses_line(tokens, i, j + 1):
            j += 1
        if j > i:
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs
