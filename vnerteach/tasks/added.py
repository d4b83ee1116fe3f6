"""Tokens added by hand: words an annotator boxed on a page because its OCR missed them.

The app appends them after the page's tokens (and their text after the page's text), so the
offsets of the page's tokens and of every span stay valid; each carries ``"added": true`` and
the answer lists their indices in ``"added_tokens"``. The hashes stay the question's.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import TaskError

ADDED = "added"
ADDED_LIST = "added_tokens"


class Asked(NamedTuple):
    """A page task as it was asked: how many tokens it had and its text (length and hash)."""

    tokens: int
    text_length: int
    text_hash: int
    tail: int = 0  # characters of the text after its last token (corrections move the page's end, not this)


def asked(task: dict) -> Asked | None:
    """What an answer to this task may only append to, for a task with token boxes (a page); else None."""
    tokens = task.get("tokens")
    if not isinstance(tokens, list) or not any(isinstance(t, dict) and t.get("bbox") for t in tokens):
        return None
    text = task.get("text") or ""
    last = tokens[-1].get("end") if tokens and isinstance(tokens[-1], dict) else None
    return Asked(len(tokens), len(text), hash(text), len(text) - last if type(last) is int else 0)


def check_added(eg: dict, before: Asked | None = None, sent_text: str | None = None) -> None:
    """TaskError unless the answer's tokens added by hand are flagged, listed and only appended.

    With ``before`` (the question as asked), the page's own tokens and text must be the question's.
    ``sent_text`` is the answer's text as the app sent it when the server has since rebuilt it with
    tokens corrected by hand (``corrections.rebuild``): that text is what must be the question's.
    """
    tokens = eg.get("tokens") if isinstance(eg.get("tokens"), list) else []
    flagged = [i for i, t in enumerate(tokens) if isinstance(t, dict) and t.get(ADDED) is True]
    listed = eg.get(ADDED_LIST)
    if (listed is not None or flagged) and listed != flagged:
        raise TaskError(f"'{ADDED_LIST}' must list the indices of the tokens flagged '{ADDED}', in order "
                        f"(listed {str(listed)[:60]}, flagged {flagged[:20]})")
    first = len(tokens) - len(flagged)
    if flagged != list(range(first, len(tokens))):
        raise TaskError("tokens added by hand must come after all of the page's tokens")
    if before is not None and first != before.tokens:
        raise TaskError(f"the answer has {first} tokens of the page, the question had {before.tokens}: "
                        "tokens may only be added, after the page's")
    if not flagged:
        return
    if not eg.get("image") and not any(isinstance(t, dict) and t.get("bbox") for t in tokens[:first]):
        raise TaskError("tokens can only be added on a page (a task with an image or token boxes), not to a text")
    text = eg.get("text") or ""
    if before is not None:
        end = before.text_length
        if hash((text if sent_text is None else sent_text)[:end]) != before.text_hash:
            raise TaskError("the text of the page differs from the question's: added text may only be appended")
        if sent_text is not None and first:  # corrections moved the page's end
            end = tokens[first - 1]["end"] + before.tail
    else:
        end = tokens[first - 1].get("end", 0) if first else 0
    for i in flagged:
        _check_one(tokens[i], i, text, end)
        end = tokens[i]["end"]
    if text[end:].strip():
        raise TaskError(f"text after the last added token: {text[end:end + 40]!r}")


def _check_one(token: dict, i: int, text: str, end: int) -> None:
    """One added token: after the text before it (whitespace between), and with a box of its own."""
    if not isinstance(token.get("text"), str) or not token["text"].strip():
        raise TaskError(f"added token {i} has no text: type what the box holds")
    start = token.get("start")
    if type(start) is not int or start < end or text[end:start].strip():
        raise TaskError(f"added token {i} ({str(token.get('text'))[:40]!r}) must follow the text before it")
    box = token.get("bbox")
    if (not isinstance(box, list) or len(box) != 4 or not all(type(v) in (int, float) for v in box)
            or not box[0] < box[2] or not box[1] < box[3]):
        raise TaskError(f"added token {i} needs its box [x0, y0, x1, y1] on the page")
