"""Counts of a dataset's examples, answers and sessions, as the stats command shows them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from peewee import Model, fn

from .paging import pages


@dataclass(frozen=True)
class DatasetStats:
    """Counts for one dataset, as shown by `stats`."""

    name: str
    created: int
    examples: int
    accept: int
    reject: int
    ignore: int
    sessions: int
    last_activity: int | None
    corrected: int = 0  # tokens whose OCR text was corrected by hand (``corrections.OCR_TEXT``)


def per_dataset(Dataset: type[Model], Example: type[Model], Link: type[Model], dataset: Model) -> DatasetStats:
    """The counts of one dataset: its examples by answer, the sessions that answered them, its last activity."""
    answers = dict((Example.select(Example.answer, fn.COUNT(Example.id)).join(Link)
                    .where(Link.dataset == dataset).group_by(Example.answer).tuples()))
    last = Example.select(fn.MAX(Example.created)).join(Link).where(Link.dataset == dataset).scalar()
    other = Link.alias()
    sessions = (Link.select(fn.COUNT(other.dataset.distinct()))
                .join(other, on=(other.example == Link.example))
                .join(Dataset, on=(other.dataset == Dataset.id))
                .where((Link.dataset == dataset) & Dataset.session).scalar())
    return DatasetStats(name=dataset.name, created=dataset.created, examples=sum(answers.values()),
                        accept=answers.get("accept", 0), reject=answers.get("reject", 0),
                        ignore=answers.get("ignore", 0), sessions=sessions or 0, last_activity=last,
                        corrected=_corrected(Example, Link, dataset))


def _corrected(Example: type[Model], Link: type[Model], dataset: Model) -> int:
    """The tokens corrected by hand in a dataset's examples: only examples whose text names ``ocr_text`` are read."""
    from ..tasks.corrections import OCR_TEXT_JSON, corrected

    query = (Example.select(Example.id, Example.content).join(Link)
             .where((Link.dataset == dataset) & Example.content.contains(OCR_TEXT_JSON)))
    return sum(len(corrected(json.loads(content))) for _id, content in pages(query, Example.id))


def per_session(Dataset: type[Model], Example: type[Model], Link: type[Model], dataset: Model) -> list[DatasetStats]:
    """Counts of a dataset's examples per session that answered them (one row per annotator or run), oldest first."""
    sessions, link = Dataset.alias(), Link.alias()
    query = (Link.select(sessions.id, sessions.name, sessions.created, Example.answer,
                         fn.COUNT(Example.id), fn.MAX(Example.created))
             .join(link, on=(link.example == Link.example))
             .join(sessions, on=(link.dataset == sessions.id))
             .switch(Link).join(Example, on=(Link.example == Example.id))
             .where((Link.dataset == dataset) & sessions.session)
             .group_by(sessions.id, sessions.name, sessions.created, Example.answer).tuples())
    rows: dict[int, dict] = {}
    for sid, sname, created, answer, count, last in query:
        row = rows.setdefault(sid, {"name": sname, "created": created, "answers": {}, "last": None})
        row["answers"][answer] = count
        row["last"] = max(last, row["last"] or 0)
    return [DatasetStats(name=r["name"], created=r["created"], examples=sum(r["answers"].values()),
                         accept=r["answers"].get("accept", 0), reject=r["answers"].get("reject", 0),
                         ignore=r["answers"].get("ignore", 0), sessions=1, last_activity=r["last"])
            for _sid, r in sorted(rows.items())]
