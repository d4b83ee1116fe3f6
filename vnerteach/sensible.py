"""Candidate spans no annotator would accept, whatever the model says: punctuation only, or across a line break."""

from __future__ import annotations

from typing import Sequence


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


def unlikely(tokens: Sequence[dict], start: int, end: int) -> str | None:
    """Why no annotator would accept tokens ``[start, end)`` as an entity, or None when one might."""
    if not any(has_word(tokens[i]["text"]) for i in range(start, end)):
        return "punctuation only"
    if crosses_line(tokens, start, end):
        return "crosses a line"
    return None
