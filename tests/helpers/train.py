"""Synthetic annotations for the training and export tests: small, generated, learnable in seconds."""

from __future__ import annotations

import random

from vnerteach.tasks import set_hashes

PEOPLE = ("Alice Baker", "Bruno Costa", "Chen Wei", "Dana Eklund", "Emil Faure", "Fatima Ali", "Goran Horvat",
          "Hana Ito", "Ivan Jukic", "Julia Klein", "Kofi Mensah", "Lena Ortiz", "Mara Novak", "Nils Olsen")
CITIES = ("Paris", "Berlin", "Lagos", "Lima", "Oslo", "Quito", "Rome", "Seoul", "Tunis", "Vienna", "Zagreb")
TEMPLATES = ("{p} flew to {c} on Monday .", "Yesterday {p} moved to {c} with family .",
             "In {c} , {p} opened a bakery .", "{p} said that {c} was cold .",
             "The mayor of {c} met {p} at noon .", "{p} lives in {c} now .")


def sentence(rng: random.Random, i: int) -> tuple[str, list[tuple[str, str]]]:
    """A sentence with one person and one city, and its (surface, label) entities."""
    person, city = rng.choice(PEOPLE), rng.choice(CITIES)
    text = rng.choice(TEMPLATES).format(p=person, c=city) + f" Ref {i}"
    return text, [(person, "PERSON"), (city, "CITY")]


def spans_for(text: str, entities: list[tuple[str, str]]) -> list[dict]:
    """Character spans of the entities' first occurrences."""
    spans = []
    for surface, label in entities:
        start = text.index(surface)
        spans.append({"start": start, "end": start + len(surface), "label": label})
    return spans


def manual_tasks(n: int, seed: int = 0) -> list[dict]:
    """Complete ner.manual answers: every entity of the text marked."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        text, ents = sentence(rng, i)
        tasks.append(set_hashes({"text": text, "spans": spans_for(text, ents), "answer": "accept",
                                 "_view_id": "ner_manual"}))
    return tasks


def binary_tasks(n: int, seed: int = 0, reject: tuple[str, str] | None = None, never_accept: str | None = None,
                 wrong: int = 3) -> list[dict]:
    """ner.teach-like answers: per sentence one accepted entity and ``wrong`` rejected suggestions.

    The rejected suggestions are random token spans that are not entities of that label, as a
    model in the loop suggests them; the other entity of the sentence is never answered, so its
    tokens stay unknown. ``never_accept`` is a surface never accepted (the other entity is);
    with ``reject=(surface, label)`` each sentence containing it also gets that span rejected.
    """
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        text, ents = sentence(rng, i)
        surface, label = ents[i % 2]
        if surface == never_accept:
            surface, label = ents[(i + 1) % 2]
        tasks.append(set_hashes({"text": text, "spans": spans_for(text, [(surface, label)]), "answer": "accept",
                                 "_view_id": "ner"}))
        words, gold = text.split(" "), {(s, lab) for s, lab in ents}
        for _ in range(wrong):
            start = rng.randrange(len(words))
            span = " ".join(words[start:start + rng.choice((1, 2))])
            guess = (span, rng.choice(("PERSON", "CITY")))
            if guess not in gold and span.strip(" .,") and not (never_accept and never_accept in span):
                start_char = len(" ".join(words[:start])) + (1 if start else 0)
                tasks.append(set_hashes({"text": text, "answer": "reject", "_view_id": "ner", "spans": [
                    {"start": start_char, "end": start_char + len(span), "label": guess[1]}]}))
        if reject and reject[0] in text:
            tasks.append(set_hashes({"text": text, "spans": spans_for(text, [reject]), "answer": "reject",
                                     "_view_id": "ner"}))
    return tasks
