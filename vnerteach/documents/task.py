"""A page as a Prodigy/spaCy-style task dict: text, tokens with boxes, size, image reference, meta."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

from .results import PageResult, Word

# Cuts spaCy's English rules leave inside a word: after a key's colon ("DATE:14/03/2018") and between a
# currency and its amount ("RM9.00", "USD12"); a time like "14:30" keeps its colon.
_EXTRA_CUT = re.compile(r"(?<=[^\W\d_]:)(?=\S)|(?<=[A-Z$€£¥])(?=\d)")
_CURRENCY = re.compile(r"RM|USD|EUR|GBP|MYR|SGD|[$€£¥]")
# A date printed against its time ("08/02/20173:43:01", "05/02/1801:34PM"): a four-digit year when it is one.
_DATE_TIME = re.compile(r"(\d{1,2}[/.-]\d{1,2}[/.-](?:(?:19|20)\d\d|\d\d))(?=\d{1,2}:\d\d)")


@lru_cache(maxsize=1)
def _tokenizer(lang: str = "en") -> Any:
    """One blank spaCy tokenizer per process (cheap to call, slow to build)."""
    import spacy

    return spacy.blank(lang).tokenizer


@lru_cache(maxsize=1 << 16)
def split_word(text: str) -> tuple[str, ...]:
    """A word's pieces at the tokenizer's boundaries plus key and currency cuts; they join back to the word."""
    pieces = tuple(cut for piece in _cuts(text) for tok in _tokenizer()(piece) for cut in _cuts(tok.text))
    return pieces if pieces and "".join(pieces) == text else (text,)


def _cuts(text: str) -> list[str]:
    """The text cut after a key's colon, between a leading currency and its amount, and between a date and its time."""
    date = _DATE_TIME.match(text)
    if date:
        return [date.group(1), *_cuts(text[date.end():])]
    pieces: list[str] = []
    start = 0
    for cut in _EXTRA_CUT.finditer(text):
        at = cut.start()
        if start < at < len(text) and (text[at - 1] == ":" or _CURRENCY.fullmatch(text, start, at)):
            pieces.append(text[start:at])
            start = at
    pieces.append(text[start:])
    return pieces


def _boxes(word: Word, pieces: tuple[str, ...]) -> list[list]:
    """The word's box cut left to right by the pieces' share of its characters."""
    if len(pieces) == 1:
        return [list(word.bbox)]
    x0, y0, x1, y1 = word.bbox
    n, width, done = len(word.text), x1 - x0, 0
    cuts = [x0]
    for piece in pieces:
        done += len(piece)
        cuts.append(x0 + (width * done / n if isinstance(x0, float) else round(width * done / n)))
    return [[cuts[i], y0, cuts[i + 1], y1] for i in range(len(pieces))]


def page_task(result: PageResult) -> dict:
    """The task of a page: words joined by single spaces, each cut into tokens (``split_word``) sharing its box."""
    tokens: list[dict] = []
    conf: list[float | None] = []
    offset = 0
    last = len(result.words) - 1
    for i, word in enumerate(result.words):
        pieces = split_word(word.text)
        for j, (piece, box) in enumerate(zip(pieces, _boxes(word, pieces))):
            end = offset + len(piece)
            tokens.append({"text": piece, "start": offset, "end": end, "id": len(tokens),
                           "ws": i != last and j == len(pieces) - 1, "bbox": box})
            conf.append(word.conf)
            offset = end
        offset += 1
    return {
        "text": " ".join(word.text for word in result.words),
        "tokens": tokens,
        "width": result.width,
        "height": result.height,
        "image": f"sha256:{result.sha256}#page={result.page}",
        "meta": {"path": os.path.abspath(result.path), "page": result.page, "pages": result.pages, "dpi": result.dpi,
                 "ocr": result.ocr, "preprocess": list(result.preprocess), "skew": result.skew,
                 "conf": conf, "image_key": result.image_key, **({"retried": True} if result.retried else {}),
                 **ocr_meta(result)},
    }


def ocr_meta(result: PageResult) -> dict:
    """What an OCR'd page's meta says of its reading: the turn it was read at (and how that was chosen), its mean word
    confidence, share of low-confidence words under its engine's ``low_conf``, and ``poor_ocr`` when it reads badly
    (quality.py's thresholds)."""
    if not result.ocr:
        return {}
    from .quality import THRESHOLDS, quality

    q = quality((w.conf for w in result.words), result.engine)
    turned = {"rotation": result.rotation, "rotation_source": result.rotation_source} if result.rotation_source else {}
    return {"engine": result.engine, **turned, "mean_conf": q.mean_conf, "low_conf_share": q.low_share,
            "low_conf": THRESHOLDS[result.engine].low, **({"poor_ocr": True} if q.poor else {})}
