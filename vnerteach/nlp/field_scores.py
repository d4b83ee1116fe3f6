"""Fields scored: a value compared with the gold one as SROIE scores it, and exact match per label over documents.

``score_fields`` runs ``fields.best_fields`` per document of a dataset's answers (``ner.evaluate
--fields``); ``field_match`` is the one comparison (spaces and case ignored) the benchmarks use too.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from .evaluation import PRF, Scores
from .fields import best_fields


def normalise(text: str) -> str:
    """A value compared the way SROIE is scored: spaces removed, case folded."""
    return re.sub(r"\s+", "", text).casefold()


def field_match(pred: str | None, gold: str | Iterable[str] | None) -> bool:
    """Whether a predicted value equals the gold value (or one of them), spaces and case ignored."""
    if pred is None or gold is None:
        return False
    golds = [gold] if isinstance(gold, str) else list(gold)
    return any(normalise(pred) == normalise(g) for g in golds)


def gold_fields(tasks: Iterable[dict]) -> dict[str, set[str]]:
    """Per label, the texts of the accepted spans of a document's answers."""
    gold: dict[str, set[str]] = {}
    for task in tasks:
        if task.get("answer", "accept") != "accept":
            continue
        for span in task.get("spans") or []:
            gold.setdefault(span["label"], set()).add(task.get("text", "")[span["start"]:span["end"]])
    return gold


def group_documents(tasks: Iterable[dict]) -> dict[object, list[dict]]:
    """Tasks grouped by document (``identity.document_of``), in first-seen order."""
    from ..documents.identity import document_of

    groups: dict[object, list[dict]] = {}
    for task in tasks:
        key = document_of(task)
        groups.setdefault(object() if key is None else key, []).append(task)
    return groups


def score_fields(nlp: Any, documents: Iterable[tuple[Sequence[dict], dict[str, set[str]]]],
                 labels: Iterable[str] | None = None, min_score: float = 0.0) -> Scores:
    """Exact match per label of ``best_fields`` against gold values, over (page tasks, gold) per document.

    A correct value is a true positive; a wrong one is both a false positive and a false
    negative; a value for a label without gold a false positive; a missing value a false negative.
    """
    wanted = list(labels or nlp.get_pipe("ner").labels)
    per_label = {label: PRF() for label in wanted}
    n = 0
    for pages, gold in documents:
        n += 1
        found = best_fields(nlp, pages, wanted, min_score)
        for label in wanted:
            c, pred, truth = per_label[label], found.get(label), gold.get(label)
            if pred is not None and truth and field_match(pred.text, truth):
                c.tp += 1
                continue
            c.fp += pred is not None
            c.fn += bool(truth)
    return Scores(per_label=per_label, complete=n)


def answer_documents(answers: Iterable[dict]) -> list[tuple[list[dict], dict[str, set[str]]]]:
    """A dataset's accepted answers as (its pages, one per input hash; its gold fields) per document."""
    out = []
    for tasks in group_documents(t for t in answers if t.get("answer", "accept") == "accept").values():
        pages: dict[object, dict] = {}
        for task in tasks:
            pages.setdefault(task.get("_input_hash", id(task)), task)
        out.append((list(pages.values()), gold_fields(tasks)))
    return out
