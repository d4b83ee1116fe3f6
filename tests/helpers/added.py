"""Answers with tokens added by hand (the app's region OCR and typed words), and one page served to answer them."""

from __future__ import annotations

import copy
from typing import Iterator

from vnerteach.loop.controller import Controller
from vnerteach.web.server import make_app

from .web import wsgi


def with_added(task: dict, words: list[tuple[str, list[int]]]) -> dict:
    """The task with words appended as tokens added by hand, as the app makes it (static/region.js)."""
    out = copy.deepcopy(task)
    tokens, text = out["tokens"], out["text"]
    if tokens:
        tokens[-1]["ws"] = True
    for i, (word, box) in enumerate(words):
        text += " " if text else ""
        tokens.append({"text": word, "start": len(text), "end": len(text) + len(word), "id": len(tokens),
                       "ws": i < len(words) - 1, "bbox": box, "added": True})
        text += word
    out["text"] = text
    out["added_tokens"] = [i for i, t in enumerate(tokens) if t.get("added")]
    return out


def span(task: dict, first: int, last: int, label: str) -> dict:
    tokens = task["tokens"]
    return {"start": tokens[first]["start"], "end": tokens[last]["end"], "token_start": first, "token_end": last,
            "label": label}



def serve_one(store, task: dict) -> Iterator[tuple]:
    """A manual session over the one page ``task`` in-process: (app, session, the question as served); closed after."""
    c = Controller(store, {"dataset": "r", "stream": iter([copy.deepcopy(task)]), "view_id": "ner_manual",
                           "config": {"labels": ["TOTAL"]}}, wait_s=5)
    app = make_app(c)
    session = wsgi(app, "GET", "/api/project")[1]["session"]
    question = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
    yield app, session, question
    c.close()
