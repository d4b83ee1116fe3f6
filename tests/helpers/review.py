"""Answers as annotators give them, for the review tests: complete (ner.manual) and binary (ner.teach) versions of a
text by named sessions."""

from __future__ import annotations

from vnerteach.tasks import set_hashes

TEXTS = ["Tim Cook runs Apple in Cupertino", "Satya Nadella leads Microsoft from Redmond",
         "Angela Merkel met Emmanuel Macron in Paris"]


def tokens_of(text: str) -> list[dict]:
    """The text's tokens split at spaces, with offsets, as a task carries them."""
    out, at = [], 0
    words = text.split(" ")
    for i, word in enumerate(words):
        out.append({"text": word, "start": at, "end": at + len(word), "id": i, "ws": i < len(words) - 1})
        at += len(word) + 1
    return out


def manual(text: str, spans: list[tuple[str, str]], who: str | None, answer: str = "accept") -> dict:
    """A complete annotation (ner.manual) of ``text`` by session ``who``: spans given as (words, label)."""
    task = {"text": text, "tokens": tokens_of(text), "answer": answer, "_view_id": "ner_manual",
            "spans": [{"start": text.index(words), "end": text.index(words) + len(words), "label": label}
                      for words, label in spans]}
    if who is not None:
        task["_session_id"] = who
    return set_hashes(task)


def binary(text: str, words: str, label: str, who: str, answer: str) -> dict:
    """A ner.teach answer about one span."""
    task = {"text": text, "tokens": tokens_of(text), "answer": answer, "_view_id": "ner", "_session_id": who,
            "spans": [{"start": text.index(words), "end": text.index(words) + len(words), "label": label}]}
    return set_hashes(task)
