"""What a recipe hands the annotation server (Components) and what the server reports back (Progress)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypedDict

from ..failures import FailureLog

EXCLUDE_BY = ("task", "input")  # what "already annotated" compares: the task hash or the input hash


class Components(TypedDict, total=False):
    """What a recipe returns to start the annotation server."""

    dataset: str
    stream: Iterable[dict]
    buffer: int | None  # tasks read ahead of the annotator (default 20); small for a stream that ranks by itself
    view_id: str
    config: dict
    exclude: list[str] | None
    exclude_by: str
    update: Callable[[list[dict]], Any] | None
    refresh: Callable[[dict], dict | None] | None  # a question handed out, as the model in the loop now sees it (None: drop)
    forget: Callable[[list[dict]], Any] | None  # answers an undo retracted: the model no longer learns from them
    validate_answer: Callable[[dict], None] | None  # Prodigy's: raises ValueError to refuse an answer, with the reason
    total: int | None  # tasks in the source; with counts, its inputs
    counts: Callable[[], dict] | None  # the stream's own counts: {"inputs", "candidates", "questions"} (ner.teach)
    waiting: Callable[[], str | None] | None  # what reading the stream waits on now (activity.Activity.waiting)
    on_exit: Callable[[], Any] | None
    images: Callable[[str], Any] | None  # page images by key and a document's other pages (documents.PageImages)
    failures: FailureLog | None
    read_region: Callable[[Any, Any], list] | None  # OCR of a boxed region of a page image (default: English)
    turn_page: Callable[[dict], dict] | None  # a page task read again turned a further 90 degrees (the rotate key)


@dataclass
class Progress:
    """Where a session stands: answers this run, examples in the dataset, and the source's size."""

    answered: int
    dataset: int
    skipped: int
    total: int | None
    done: bool
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    counts: dict | None = None  # the stream's counts of inputs, candidates and questions (ner.teach)
    team: int | None = None  # answers of all annotators this run, when they share the tasks
    updating: bool = False  # the model in the loop has answers it has not learnt yet
    payoff: list[dict] | None = None  # whether the model pays: pre-fills kept, questions accepted (payoff.Figure)

    def as_dict(self) -> dict:
        """The JSON form served by the API: ``progress`` a fraction when the total is known, ``estimated`` if a guess.

        With the stream's counts, ``total`` counts inputs, not questions: the questions still to come
        are estimated from the questions per input so far.
        """
        fraction, estimated, counts = None, False, self.counts or {}
        handled = self.skipped + self.failed + (self.answered if self.team is None else self.team)
        if self.total and self.done:
            fraction = 1.0
        elif self.total and not self.counts:
            fraction = min(1.0, handled / self.total)
        elif self.total and counts.get("inputs") and counts.get("questions"):
            expected = counts["questions"] * self.total / counts["inputs"]
            fraction, estimated = min(1.0, handled / expected), True
        out = {"answered": self.answered, "dataset": self.dataset, "skipped": self.skipped,
               "total": self.total, "progress": fraction, "estimated": estimated, "done": self.done,
               "failed": self.failed, "failures": self.failures}
        if self.counts:
            out["candidates"], out["questions"] = counts.get("candidates"), counts.get("questions")
        if self.team is not None:
            out["team"] = self.team
        out["updating"] = self.updating
        out["payoff"] = self.payoff or []
        return out
