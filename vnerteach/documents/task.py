"""A page as a Prodigy/spaCy-style task dict: text, tokens with boxes, size, image reference, meta."""

from __future__ import annotations

import os

from .results import PageResult


def page_task(result: PageResult) -> dict:
    """The task of a page: tokens joined by single spaces into text, so text[start:end] is each token."""
    tokens, parts, conf = [], [], []
    offset = 0
    last = len(result.words) - 1
    for i, word in enumerate(result.words):
        end = offset + len(word.text)
        tokens.append({"text": word.text, "start": offset, "end": end, "id": i, "ws": i != last,
                       "bbox": list(word.bbox)})
        parts.append(word.text)
        conf.append(word.conf)
        offset = end + 1
    return {
        "text": " ".join(parts),
        "tokens": tokens,
        "width": result.width,
        "height": result.height,
        "image": f"sha256:{result.sha256}#page={result.page}",
        "meta": {"path": os.path.abspath(result.path), "page": result.page, "pages": result.pages, "dpi": result.dpi,
                 "ocr": result.ocr, "preprocess": list(result.preprocess), "skew": result.skew,
                 "conf": conf, "image_key": result.image_key, **({"retried": True} if result.retried else {})},
    }
