"""Manual annotation recipes: ner.manual (highlight entities by hand) and mark (answer tasks as they come)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Iterable, Iterator

from vnerteach import Arg, Opt, recipe
from vnerteach.activity import Activity
from vnerteach.loop.components import Components
from vnerteach.documents import DocumentOptions
from vnerteach.errors import UsageError
from vnerteach.sources import source_size
from vnerteach.tasks import add_tokens

from .common import (RANKED_BUFFER, annotation_source, check_exclude_by, check_labels, failure_log, load_matcher,
                     only_labels)

MARK_VIEWS = ("ner_manual", "ner", "text", "image", "classification")


@recipe("ner.manual")
def ner_manual(
    dataset: Annotated[str, Arg("Dataset to save the annotations to")],
    model: Annotated[str, Arg("spaCy pipeline for the tokens: blank:LANG (e.g. blank:en) or a pipeline folder")],
    source: Annotated[str, Arg("JSONL or text file, image or PDF, a folder of them, or - for stdin")],
    label: Annotated[list[str] | None, Opt("Labels to annotate, e.g. ORG,PERSON (keys 1-9 in that order)", "-l")] = None,
    patterns: Annotated[Path | None, Opt("JSONL of spaCy Matcher/PhraseMatcher patterns to pre-highlight")] = None,
    exclude: Annotated[list[str] | None, Opt("Datasets whose tasks are not asked again")] = None,
    exclude_by: Annotated[str, Opt("What makes a task already done: its 'task' or its 'input' hash")] = "task",
    lookahead: Annotated[int, Opt("With a trained MODEL: read this many inputs ahead and ask the most uncertain first (0: in order)")] = 0,
    documents: DocumentOptions = DocumentOptions(),
    db: str | None = None,
) -> Components:
    """Highlight entities by hand in text or on page images, with optional pattern suggestions.

    Opens the web view: select tokens by click, shift+click or drag; pick the label with its
    button or number key; accept with a, reject with x, skip with space, undo with backspace.
    Tasks already in the dataset (or in --exclude datasets) are not asked again. With a trained
    MODEL (a beam_ner pipeline folder) and --lookahead, inputs come in ner.correct's order, the
    ones it is least sure of first, without its predictions (use ner.correct to see them).

    Example: vnerteach ner.manual news_ner blank:en news.jsonl --label ORG,PERSON --patterns patterns.jsonl

    Example: vnerteach ner.manual receipts blank:en scans/ --label TOTAL,DATE --preprocess grayscale,deskew,binarize

    Example: vnerteach ner.manual news_ner ./model news.jsonl --label ORG,PERSON --lookahead 500
    """
    from vnerteach.nlp.pipeline import load_pipeline

    labels = check_labels(label, required=True)
    check_exclude_by(exclude_by)
    ranker = _ranker(model, labels, lookahead)
    nlp = ranker.nlp if ranker is not None else load_pipeline(model)
    matcher = load_matcher(patterns, nlp, labels)
    failures, activity = failure_log(), Activity()
    stream = annotation_source(source, dataset, db, documents, failures, activity)
    stream = add_tokens(nlp, only_labels(stream, labels), on_failure=failures)
    if matcher is not None:
        stream = matcher(stream, on_failure=failures)
    ranked = None
    if ranker is not None:
        stream = ranked = ranker.correct(stream, lookahead=lookahead, on_failure=failures, prefill=False)
    return {"dataset": dataset, "stream": stream, "view_id": "ner_manual", "config": {"labels": labels},
            "exclude": exclude, "exclude_by": exclude_by, "total": source_size(source, password=documents.password),
            "images": documents.page_images(), "failures": failures, "waiting": activity.waiting,
            "read_region": documents.region_reader(), "turn_page": documents.page_turner(),
            **({"buffer": RANKED_BUFFER, "on_exit": ranked.close} if ranked is not None else {})}


def _ranker(model: str, labels: list[str], lookahead: int):
    """The model that orders ner.manual's inputs with --lookahead, or None without it."""
    if lookahead < 0:
        raise UsageError(f"--lookahead must be 0 (inputs in order) or more, not {lookahead}")
    if not lookahead:
        return None
    if model.startswith("blank:"):
        raise UsageError(f"--lookahead ranks inputs by a trained model: MODEL must be a pipeline folder, not '{model}'")
    from vnerteach.teach.model import TeachModel

    return TeachModel.load(model, labels)


def _with_label(stream: Iterable[dict], label: str) -> Iterator[dict]:
    for task in stream:
        task.setdefault("label", label)
        yield task


@recipe("mark")
def mark(
    dataset: Annotated[str, Arg("Dataset to save the answers to")],
    source: Annotated[str, Arg("JSONL or text file, image or PDF, a folder of them, or - for stdin")],
    view_id: Annotated[str, Opt(f"How tasks are shown: {', '.join(MARK_VIEWS)}")],
    label: Annotated[list[str] | None, Opt("Labels: the label bar of ner_manual; the question's label otherwise", "-l")] = None,
    exclude: Annotated[list[str] | None, Opt("Datasets whose tasks are not asked again")] = None,
    exclude_by: Annotated[str, Opt("What makes a task already done: its 'task' or its 'input' hash")] = "task",
    documents: DocumentOptions = DocumentOptions(),
    db: str | None = None,
) -> Components:
    """Answer tasks in the order they come, with no model: accept, reject or skip each one.

    The view shows the task as it is: text or page image, its spans, its label. With
    --view-id ner_manual, spans can be edited as in ner.manual (tokens from a multi-language
    tokenizer where the task has none).

    Example: vnerteach mark receipts_check receipts.jsonl --view-id ner --label TOTAL
    """
    from vnerteach.nlp.pipeline import load_pipeline

    if view_id not in MARK_VIEWS:
        raise UsageError(f"--view-id: use one of {', '.join(MARK_VIEWS)}, not '{view_id}'")
    labels = check_labels(label, required=view_id == "ner_manual")
    check_exclude_by(exclude_by)
    failures, activity = failure_log(), Activity()
    stream: Iterable[dict] = annotation_source(source, dataset, db, documents, failures, activity)
    if view_id == "ner_manual":
        stream = add_tokens(load_pipeline("blank:xx"), stream, on_failure=failures)
    elif len(labels) == 1 and view_id == "classification":
        stream = _with_label(stream, labels[0])
    return {"dataset": dataset, "stream": stream, "view_id": view_id, "config": {"labels": labels},
            "exclude": exclude, "exclude_by": exclude_by, "total": source_size(source, password=documents.password),
            "images": documents.page_images(), "failures": failures, "waiting": activity.waiting,
            "read_region": documents.region_reader(),
            "turn_page": documents.page_turner() if view_id == "ner_manual" else None}
