"""Synthetic NER data for the ner.teach tests: people and cities in varied sentences, made in the test."""

from __future__ import annotations

import random

FIRST = ("Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena",
         "Mara", "Nils", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tariq")
LAST = ("Baker", "Costa", "Wei", "Eklund", "Faure", "Ali", "Horvat", "Ito", "Jukic", "Klein", "Mensah", "Ortiz",
        "Novak", "Olsen")
CITIES = ("Paris", "Berlin", "Lagos", "Lima", "Oslo", "Quito", "Rome", "Seoul", "Tunis", "Vienna", "Zagreb",
          "Dakar", "Hanoi", "Porto", "Riga", "Cairo")
TEMPLATES = ("{p} flew to {c} on Monday .", "Yesterday {p} moved to {c} with her family .",
             "In {c} , {p} opened a bakery .", "{p} said that {c} was cold this week .",
             "The mayor of {c} met {p} at noon .", "{p} lives in {c} now .",
             "Reports from {c} say {p} won the race .", "A train to {c} carried {p} and two friends .")
LABELS = ["PERSON", "CITY"]


def sentences(n: int, seed: int, held_out: bool = False) -> list[dict]:
    """Tasks with a ``gold`` list of (start, end, label); held-out ones use partly unseen names."""
    rng = random.Random(seed)
    firsts = FIRST[10:] if held_out else FIRST[:14]
    cities = CITIES[10:] if held_out else CITIES[:14]
    out = []
    for i in range(n):
        person = f"{rng.choice(firsts)} {rng.choice(LAST)}"
        city = rng.choice(cities)
        text = rng.choice(TEMPLATES).format(p=person, c=city) + f" ( {i} )"
        gold = [[text.index(person), text.index(person) + len(person), "PERSON"],
                [text.index(city), text.index(city) + len(city), "CITY"]]
        out.append({"text": text, "gold": gold})
    return out


def patterns() -> list[dict]:
    """A few cold-start patterns: six first names followed by a capitalised word, six cities."""
    people = [{"label": "PERSON", "pattern": [{"TEXT": name}, {"IS_TITLE": True}]} for name in FIRST[:6]]
    return people + [{"label": "CITY", "pattern": city} for city in CITIES[:6]]


def judge(task: dict, gold: dict[str, list]) -> str:
    """The scripted annotator: accept exactly when the suggested span is a gold entity."""
    span = task["spans"][0]
    return "accept" if [span["start"], span["end"], span["label"]] in gold[task["text"]] else "reject"


def f1(model, held: list[dict]) -> float:
    """Entity F1 of the model's best analysis on tokenized held-out tasks with ``gold``."""
    tp = fp = fn = 0
    for (_conf, eg), task in zip(model.predict_tasks(held), held):
        predicted = {(s["start"], s["end"], s["label"]) for s in eg["spans"]}
        gold = {tuple(g) for g in task["gold"]}
        tp, fp, fn = tp + len(predicted & gold), fp + len(predicted - gold), fn + len(gold - predicted)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def taught(model, n: int = 24, seed: int = 3):
    """The model after complete answers to ``n`` sentences (two entities each): past its cold start, as the loop is
    once the annotator has given it enough (``model.CONFIDENT_AFTER`` accepted entities)."""
    import spacy

    from vnerteach.tasks import add_tokens

    answers = []
    for raw in sentences(n, seed):
        task = next(iter(add_tokens(spacy.blank("en"), [{"text": raw["text"]}])))
        starts = {t["start"]: i for i, t in enumerate(task["tokens"])}
        ends = {t["end"]: i for i, t in enumerate(task["tokens"])}
        answers.append({**task, "answer": "accept", "_view_id": "ner_manual", "spans": [
            {"start": a, "end": b, "label": lab, "token_start": starts[a], "token_end": ends[b]}
            for a, b, lab in raw["gold"]]})
    model.update(answers)
    return model
