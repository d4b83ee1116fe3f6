"""Tokens corrected by hand: OCR text the annotator fixed on a page (``“193.00`` read, ``193.00`` meant).

A correction changes a token's ``text`` and keeps what OCR read beside it as ``"ocr_text"``; the
token keeps its ``id``, ``bbox`` and place. As a task's ``text`` and its tokens' and spans'
``start``/``end`` are character offsets, :func:`rebuild` is the one place that makes them agree
with the tokens' texts again: the app sends an answer with the new token texts over the text and
offsets as asked, and the server rebuilds it before it is checked and stored. Spans keep their
``token_start``/``token_end``; their offsets move with the tokens. A token corrected back to what
OCR read loses its ``ocr_text``. Tokens added by hand (``added.py``) have no OCR text to keep.

Training, exports and ``predict``'s model use the stored (corrected) text like any other; ``stats``
counts the corrected tokens (:func:`corrected`).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..errors import TaskError
from . import MAX_TOKEN_CHARS

OCR_TEXT = "ocr_text"
OCR_TEXT_JSON = f'"{OCR_TEXT}":'  # how a stored answer with a correction reads, for a cheap text search
_SPACE = re.compile(r"\s")


def rebuild(task: dict) -> int:
    """Make a task's text, token offsets and span offsets agree with its tokens' texts; return how many changed.

    A token whose ``text`` differs from ``task["text"][start:end]`` is a correction: the text
    there is replaced, every later token and span moves by the difference, and the token keeps
    the text it replaces as ``ocr_text`` (unless it has one from an earlier correction). A task
    whose tokens all match its text is left as it is (0). TaskError, with the task unchanged, for
    a corrected text that is empty, holds whitespace or is too long; tokens that are malformed or
    out of order are left to ``tasks.validate_task`` to refuse.
    """
    text, tokens = task.get("text"), task.get("tokens")
    if not isinstance(text, str) or not isinstance(tokens, list):
        return 0
    changed: list[int] = []
    end = 0
    for i, tok in enumerate(tokens):
        if not isinstance(tok, dict):
            return 0
        word, start, stop = tok.get("text"), tok.get("start"), tok.get("end")
        if type(word) is not str or type(start) is not int or type(stop) is not int or not end <= start <= stop <= len(text):
            return 0
        end = stop
        if OCR_TEXT in tok and (type(tok[OCR_TEXT]) is not str or not tok[OCR_TEXT]):
            raise TaskError(f"token {i} '{OCR_TEXT}' must be the text OCR read, a non-empty string")
        if text[start:stop] != word:
            _check(i, tok, text[start:stop])
            changed.append(i)
    if not changed:
        return 0
    pieces, at, shifts = [], 0, []  # shifts: (old end of a corrected token, the change in length it makes)
    for i in changed:
        tok = tokens[i]
        old = text[tok["start"]:tok["end"]]
        if tok.get("added") is not True:
            tok.setdefault(OCR_TEXT, old)
            if tok[OCR_TEXT] == tok["text"]:
                del tok[OCR_TEXT]
        pieces += [text[at:tok["start"]], tok["text"]]
        at = tok["end"]
        shifts.append((tok["end"], len(tok["text"]) - len(old)))
    pieces.append(text[at:])

    delta, k = 0, 0
    for i, tok in enumerate(tokens):  # offsets in order: each token moves by the corrections before it
        while k < len(changed) and changed[k] < i:
            delta += shifts[k][1]
            k += 1
        tok["start"] += delta
        tok["end"] += delta + (shifts[k][1] if k < len(changed) and changed[k] == i else 0)
    for span in task.get("spans") or []:
        if isinstance(span, dict):
            span["start"], span["end"] = _shifted(span.get("start"), shifts), _shifted(span.get("end"), shifts)
    task["text"] = "".join(pieces)
    return len(changed)


def _shifted(offset: Any, shifts: list[tuple[int, int]]) -> Any:
    """An offset of the old text in the new one: moved by every correction that ends at or before it."""
    if type(offset) is not int:
        return offset
    return offset + sum(d for old_end, d in shifts if old_end <= offset)


def _check(i: int, tok: dict, old: str) -> None:
    """TaskError unless token ``i``'s new text can replace ``old``: some text, no whitespace, not too long."""
    new = tok["text"]
    what = f"token {i} ({old!r}) corrected to {new[:40]!r}"
    if not new.strip():
        raise TaskError(f"{what}: a corrected token needs some text (to drop a word, leave it out of the spans)")
    if _SPACE.search(new):
        raise TaskError(f"{what}: a token's text cannot hold whitespace (correct each word's token on its own)")
    if len(new) > MAX_TOKEN_CHARS:
        raise TaskError(f"{what}: {len(new):,} characters is over the limit of {MAX_TOKEN_CHARS:,}")


def corrected(task: dict) -> list[int]:
    """The indices of a task's tokens corrected by hand (those that keep their ``ocr_text``)."""
    tokens = task.get("tokens")
    if not isinstance(tokens, list):
        return []
    return [i for i, t in enumerate(tokens) if isinstance(t, dict) and isinstance(t.get(OCR_TEXT), str)]


def ocr_text(tokens: Iterable[dict]) -> str:
    """Tokens' text as OCR read it (each token's ``ocr_text``, else its text), honouring ``ws``."""
    return "".join(t.get(OCR_TEXT, t["text"]) + (" " if t.get("ws", True) else "") for t in tokens).rstrip(" ")


Fix = tuple[str, str]  # (what OCR read, the text an annotator corrected it to)


def stored_fixes(examples: Iterable[dict]) -> dict[int, dict[tuple, Fix]]:
    """Per input hash, the corrections its answers hold: token (id, box) -> (OCR text, corrected text); the latest wins."""
    from . import INPUT_HASH, input_hash

    out: dict[int, dict[tuple, Fix]] = {}
    for eg in examples:
        for i in corrected(eg):
            tok = eg["tokens"][i]
            if tok.get("added") is True:
                continue
            key = eg.get(INPUT_HASH)
            key = input_hash(eg) if key is None else key
            out.setdefault(key, {})[_where(tok)] = (tok[OCR_TEXT], tok["text"])
    return out


def apply_fixes(task: dict, fixes: dict[tuple, Fix]) -> int:
    """Correct a task's tokens as an earlier answer to the same page did, where OCR read the same word in the same box.

    Returns how many tokens changed; the task is rebuilt (:func:`rebuild`), each keeping ``ocr_text``.
    """
    tokens = task.get("tokens") or []
    n = 0
    for tok in tokens:
        fix = fixes.get(_where(tok))
        if fix is not None and tok.get("text") == fix[0] and OCR_TEXT not in tok:
            tok["text"] = fix[1]
            n += 1
    return rebuild(task) if n else 0


def _where(tok: dict) -> tuple:
    box = tok.get("bbox")
    return tok.get("id"), tuple(box) if isinstance(box, list) else None
