"""The audit log of answers: each answer stored, replaced or retracted (undo), by dataset and session."""

from __future__ import annotations

import time
from typing import Iterator, Sequence

import peewee
from peewee import Model

from ..tasks import INPUT_HASH, TASK_HASH
from .paging import pages

EVENT_ROWS = 100  # answer events per INSERT: 8 parameters each, under SQLite's oldest limit of 999


def log(db: peewee.Database, dataset: str, session: str, events: list[tuple]) -> None:
    """Record answer events ``(event, input hash, task hash, answer, content)`` (inside a write)."""
    now = time.time()
    row = "(" + ", ".join([db.param] * 8) + ")"
    for start in range(0, len(events), EVENT_ROWS):
        chunk = events[start:start + EVENT_ROWS]
        db.execute_sql(  # plain SQL: on the answer path, like save_answers' own queries
            "INSERT INTO answer_event (time, dataset, session, event, input_hash, task_hash, answer, content) "
            "VALUES " + ", ".join([row] * len(chunk)),
            [value for event in chunk for value in (now, dataset, session, *event)])


def history(A: type[Model], dataset: str, answers: Sequence[str] | None = None) -> Iterator[dict]:
    """A dataset's answer events (``A`` is the AnswerEvent model), oldest first, a page at a time."""
    query = A.select(A.id, A.time, A.event, A.session, A.input_hash, A.task_hash, A.answer).where(A.dataset == dataset)
    if answers:
        query = query.where(A.answer.in_(list(answers)))
    return ({"time": round(when, 3), "event": event, "session": session, INPUT_HASH: input_hash,
             TASK_HASH: task_hash, "answer": answer}
            for _id, when, event, session, input_hash, task_hash, answer in pages(query, A.id))
