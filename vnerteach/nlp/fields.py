"""A trained model applied to documents: every entity with its beam score, and one best value per label.

``best_fields`` is the one field extractor: ``predict --fields``, ``ner.evaluate --fields`` (through
``field_scores.score_fields``) and the benchmark all use it. Per label it takes the highest-scoring candidate
over every beam candidate of every page of a document (``pipeline.entity_scores`` unpruned, so a
label the best parse leaves out still gets its most likely value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

Triple = tuple[int, int, str]


@dataclass
class Field:
    """One entity (or a label's best value) of a page: text, beam score, page and token range with boxes."""

    label: str
    text: str
    score: float
    page: int | None
    start: int
    end: int
    token_start: int
    token_end: int  # inclusive, as in spans
    boxes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready, in the span format plus text, score, page and the tokens' boxes."""
        return {"label": self.label, "text": self.text, "score": round(self.score, 4), "page": self.page,
                "start": self.start, "end": self.end, "token_start": self.token_start,
                "token_end": self.token_end, "boxes": self.boxes}


def make_field(task: dict, triple: Triple, score: float) -> Field:
    """The Field of candidate (token start, token end exclusive, label) of a task with tokens."""
    start, end, label = triple
    tokens = task["tokens"][start:end]
    first, last = tokens[0]["start"], tokens[-1]["end"]
    text = task.get("text", "")[first:last]
    return Field(label, text, min(1.0, float(score)), (task.get("meta") or {}).get("page"), first, last,
                 start, end - 1, [t["bbox"] for t in tokens if t.get("bbox") is not None])


def page_scores(nlp: Any, tasks: Sequence[dict], *, prune: bool = True) -> list[dict[Triple, float]]:
    """Per task (with tokens), every beam candidate with its probability; tasks without tokens get none."""
    from .layout import task_doc
    from .pipeline import entity_scores

    with_tokens = [i for i, t in enumerate(tasks) if t.get("tokens")]
    scored = entity_scores(nlp, [task_doc(nlp.vocab, tasks[i]) for i in with_tokens], prune=prune) if with_tokens else []
    out: list[dict[Triple, float]] = [{} for _ in tasks]
    for i, scores in zip(with_tokens, scored):
        out[i] = scores
    return out


def page_entities(nlp: Any, tasks: Sequence[dict], labels: Iterable[str] | None = None,
                  min_score: float = 0.0) -> list[list[Field]]:
    """Per task, the entities of the best parse with their beam scores, in text order."""
    from .layout import task_doc

    wanted = set(labels or ())
    docs = [task_doc(nlp.vocab, t) for t in tasks if t.get("tokens")]
    parsed = iter(nlp.pipe(docs) if docs else [])
    scores = iter(page_scores(nlp, tasks))
    out = []
    for task in tasks:
        found = next(scores)
        if not task.get("tokens"):
            out.append([])
            continue
        doc = next(parsed)
        ents = [make_field(task, (e.start, e.end, e.label_), found.get((e.start, e.end, e.label_), 0.0))
                for e in doc.ents if not wanted or e.label_ in wanted]
        out.append([f for f in ents if f.score >= min_score])
    return out


def best_fields(nlp: Any, tasks: Sequence[dict], labels: Iterable[str] | None = None,
                min_score: float = 0.0) -> dict[str, Field]:
    """Per label, the highest-scoring candidate over all beam candidates of all pages of one document.

    ``labels`` defaults to the model's; a label whose best candidate scores below ``min_score``
    is left out, so with the default 0 every label the beam proposes at all gets a value.
    """
    wanted = list(labels or nlp.get_pipe("ner").labels)
    best: dict[str, tuple[float, Field]] = {}
    for task, scores in zip(tasks, page_scores(nlp, tasks, prune=False)):
        for triple, score in scores.items():
            label = triple[2]
            if label in wanted and score >= min_score and (label not in best or score > best[label][0]):
                best[label] = (score, make_field(task, triple, score))
    return {label: best[label][1] for label in wanted if label in best}
