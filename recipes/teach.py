"""Active-learning recipes: ner.teach (binary questions from a model in the loop) and ner.correct."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterable, Iterator

from vnerteach import Arg, Opt, recipe
from vnerteach.activity import Activity
from vnerteach.loop.components import Components
from vnerteach.documents import DocumentOptions
from vnerteach.files import check_output
from vnerteach.output import info
from vnerteach.sources import source_size
from vnerteach.tasks import add_tokens

from .common import (IN_LOOP_BUFFER, annotation_source, check_exclude_by, check_labels, failure_log, load_matcher,
                     only_labels)

if TYPE_CHECKING:
    from vnerteach.teach.suggester import Seen
    from vnerteach.teach.warmstart import WarmStart


def _saver(model: Any, model_out: Path | None) -> Callable[[], None] | None:
    if model_out is None:
        return None

    def save() -> None:
        model.to_disk(model_out)
        info(f"Saved the model updated in the loop ({model.updates} updates) to {model_out}")

    return save


def _counted(questions: Iterable[dict], seen: Seen) -> Iterator[dict]:
    for task in questions:
        seen.questions += 1
        yield task


def _pretrained(init_tok2vec: Path | None) -> Any:
    """The --init-tok2vec weights, or None; a folder that is not pretrain's output is a UsageError."""
    if init_tok2vec is None:
        return None
    from vnerteach.nlp.pretraining import load_pretrained

    pretrained = load_pretrained(init_tok2vec)
    info(f"The blank model's tok2vec starts from the weights pretrained in {init_tok2vec} (layout features "
         f"{'on' if pretrained.layout else 'off'})")
    return pretrained


def _in_loop_model(model: str, labels: list[str], init_tok2vec: Path | None, vectors: str | None,
                   lookups: bool) -> Any:
    """The TeachModel of MODEL; a blank one starts from --init-tok2vec, --vectors and --lookups (checked at once)."""
    from vnerteach.teach.model import TeachModel, TeachSettings
    from vnerteach.nlp.pipeline import Settings

    start = TeachSettings(pipeline=Settings(vectors=vectors, lexemes=lookups), init_tok2vec=_pretrained(init_tok2vec))
    teach = TeachModel.load(model, labels, start)
    if vectors is not None:
        info(f"The blank model uses the word vectors of {vectors} as static features")
    if lookups:
        info("The blank model uses the Brown clusters and word probabilities of spacy-lookups-data")
    return teach


def _warm_start(teach: Any, dataset: str, db: str | None, fresh: bool) -> WarmStart | None:
    """Unless --fresh, start from a model trained on the dataset's answers (in the background; the stream starts now)."""
    if fresh or db is None:
        return None
    from vnerteach.teach.warmstart import WarmStart, warm_start

    def done(state: WarmStart) -> None:
        if state.trained_on:
            info(f"Warm start: now using a model trained on {state.trained_on} answered inputs of '{dataset}' "
                 f"({state.seconds:.0f} s)")
        else:
            info(f"Warm start: kept the base model ({state.note})")

    state = warm_start(teach, db, dataset, on_done=done)
    if state.thread is not None:
        info(f"Warm start: {state.recalled} earlier answers in '{dataset}' counted; training a model on them in the "
             "background (--fresh to skip)")
    elif state.recalled:
        info(f"Warm start: {state.recalled} earlier answers in '{dataset}' counted; no training ({state.note})")
    return state


def _on_exit(*steps: Callable[[], None] | None) -> Callable[[], None]:
    """One exit callback running the given steps in order (None: skipped)."""
    def run() -> None:
        for step in steps:
            if step is not None:
                step()

    return run


def _check_model_out(model_out: Path | None) -> None:
    """Fail before the session, not after it, when --model-out cannot be written."""
    if model_out is not None:
        check_output(model_out, model=True)


# The blank in-loop model's start, the same on ner.teach and ner.correct.
InitTok2vec = Annotated[Path | None, Opt("With MODEL blank:LANG: start the tok2vec from weights written by "
                                         "'vnerteach pretrain' (a folder)")]
Vectors = Annotated[str | None, Opt("With MODEL blank:LANG: word vectors as static features of the model in the loop, "
                                    "from an installed spaCy pipeline or a pipeline or vectors folder, e.g. "
                                    "en_core_web_lg")]
Lookups = Annotated[bool, Opt("With MODEL blank:LANG: Brown clusters and word probabilities of spacy-lookups-data "
                              "as features of the model in the loop (pip install 'vnerteach[lookups]')")]


@recipe("ner.teach")
def ner_teach(
    dataset: Annotated[str, Arg("Dataset to save the answers to")],
    model: Annotated[str, Arg("blank:LANG (e.g. blank:en) or a model folder written by ner.batch-train")],
    source: Annotated[str, Arg("JSONL or text file, image or PDF, a folder of them, or - for stdin")],
    label: Annotated[list[str] | None, Opt("Labels to suggest, e.g. ORG,PERSON (added to the model if new; default: "
                                           "a trained MODEL's)", "-l")] = None,
    patterns: Annotated[Path | None, Opt("JSONL of spaCy Matcher/PhraseMatcher patterns: matches are asked too (cold start)")] = None,
    exclude: Annotated[list[str] | None, Opt("Datasets whose tasks are not asked again")] = None,
    exclude_by: Annotated[str, Opt("What makes a task already done: its 'task' or its 'input' hash")] = "task",
    sorter: Annotated[str, Opt("Which suggestions to ask: prefer_uncertain, prefer_high_scores or random")] = "prefer_uncertain",
    model_out: Annotated[Path | None, Opt("Save the model updated in the loop to this folder on exit")] = None,
    init_tok2vec: InitTok2vec = None,
    vectors: Vectors = None,
    lookups: Lookups = False,
    fresh: Annotated[bool, Opt("Start from MODEL as it is, not from one trained on the dataset's earlier answers")] = False,
    documents: DocumentOptions = DocumentOptions(),
    *,
    db: str | None = None,
) -> Components:
    """Accept or reject entities suggested by a model that learns from every answer.

    The model (spaCy beam_ner) scores every possible entity of the labels; the sorter asks about
    the ones it is most unsure of (score near 0.5, relative to the scores so far). Accept (a) if
    the highlighted span is exactly an entity of that label, reject (x) if not, skip (space)
    if unsure. Accepts and rejects update the model in the background. Pattern matches are
    mixed in for the cold start, tagged with their pattern. Questions already answered in the
    dataset are never asked again, across restarts. Images and PDFs work the same way: the span
    is highlighted on the page. On a dataset that already has answers, the model in the loop
    is soon replaced by one trained from blank on them (in the background; --fresh skips it),
    words rejected with a label are not suggested with it again, and patterns whose matches
    keep being rejected are asked less. Without --label, the labels are a trained MODEL's.

    Example: vnerteach ner.teach news_ner blank:en news.jsonl --label ORG,PERSON --patterns patterns.jsonl

    Example: vnerteach ner.teach receipts ./model scans/ --label TOTAL,DATE --model-out ./model-loop

    Example: vnerteach ner.teach receipts blank:en scans/ --label TOTAL,DATE --init-tok2vec ./pretrained

    Example: vnerteach ner.teach news_ner blank:en news.jsonl --label ORG,PERSON --patterns p.jsonl --vectors en_core_web_lg
    """
    from vnerteach.teach.suggester import Suggester, is_pattern_task
    from vnerteach.errors import UsageError
    from vnerteach.loop.sorters import get_sorter, sort

    labels = check_labels(label, required=model.startswith("blank:"))
    check_exclude_by(exclude_by)
    get_sorter(sorter)
    _check_model_out(model_out)
    teach = _in_loop_model(model, labels, init_tok2vec, vectors, lookups)
    labels = teach.labels
    tokenizer = teach.tokenizer()
    matcher = load_matcher(patterns, tokenizer, labels)
    warm = _warm_start(teach, dataset, db, fresh)
    if not teach.started_trained and matcher is None and not (warm and warm.recalled):
        raise UsageError(f"ner.teach from {model} has nothing to start from: a blank model's suggestions are noise. "
                         "Give --patterns, a trained MODEL (ner.batch-train), or label some inputs with ner.manual "
                         f"into '{dataset}' first")
    failures, activity = failure_log(), Activity()
    stream = add_tokens(tokenizer, annotation_source(source, dataset, db, documents, failures, activity),
                        on_failure=failures)
    suggest = Suggester(teach, matcher)
    questions = _counted(sort(sorter, suggest(stream, on_failure=failures), pass_through=is_pattern_task,
                              warmup=teach.warmup), suggest.seen)
    return {"dataset": dataset, "stream": questions, "buffer": IN_LOOP_BUFFER, "view_id": "ner",
            "config": {"labels": labels}, "exclude": exclude, "exclude_by": exclude_by,
            "update": teach.update, "forget": teach.forget, "refresh": suggest.refresh,
            "on_exit": _on_exit(warm.cancel if warm else None, _saver(teach, model_out)),
            "total": source_size(source, password=documents.password), "counts": lambda: asdict(suggest.seen),
            "images": documents.page_images(), "failures": failures, "waiting": activity.waiting}


@recipe("ner.correct")
def ner_correct(
    dataset: Annotated[str, Arg("Dataset to save the annotations to")],
    model: Annotated[str, Arg("A model folder written by ner.batch-train (or blank:LANG)")],
    source: Annotated[str, Arg("JSONL or text file, image or PDF, a folder of them, or - for stdin")],
    label: Annotated[list[str] | None, Opt("Labels to annotate, e.g. ORG,PERSON (keys 1-9 in that order; default: "
                                           "a trained MODEL's)", "-l")] = None,
    exclude: Annotated[list[str] | None, Opt("Datasets whose tasks are not asked again")] = None,
    exclude_by: Annotated[str, Opt("What makes a task already done: its 'task' or its 'input' hash")] = "input",
    update: Annotated[bool, Opt("Update the model from each corrected answer")] = True,
    lookahead: Annotated[int, Opt("Inputs read ahead and scored in the background; the most uncertain comes first")] = 256,
    window: Annotated[int | None, Opt("Old name of --lookahead")] = None,
    min_prefill: Annotated[float, Opt("Pre-fill the entities the model gives at least this probability "
                                      "(0: its whole best analysis)")] = 0.5,
    model_out: Annotated[Path | None, Opt("Save the model updated in the loop to this folder on exit")] = None,
    init_tok2vec: InitTok2vec = None,
    vectors: Vectors = None,
    lookups: Lookups = False,
    fresh: Annotated[bool, Opt("Start from MODEL as it is, not from one trained on the dataset's earlier answers")] = False,
    documents: DocumentOptions = DocumentOptions(),
    *,
    db: str | None = None,
) -> Components:
    """Correct a model's entities, pre-filled in the manual view, the most uncertain inputs first.

    Each input shows the model's best analysis; fix it (add, remove or relabel spans) and accept
    it as complete. The model reads --lookahead inputs ahead and scores them in the background;
    the one it expects to need the most corrections comes next, and inputs much like ones
    already shown wait (twenty receipts from one shop teach little more than one). A document's
    pages come together, in order. Each accepted answer updates the model in the background, so
    the scores and later suggestions improve. Images and PDFs show the predicted entities as
    boxes on the page. On a dataset that already has answers, the model is soon replaced by one
    trained from blank on them (--fresh skips it). Without --label, the labels are a trained MODEL's.

    Example: vnerteach ner.correct news_gold ./model news.jsonl --label ORG,PERSON --lookahead 1000

    Example: vnerteach ner.correct news ./model-1 news.jsonl   (after ner.batch-train news --output ./model-1)

    Example: vnerteach ner.correct receipts_gold ./model scans/ --label TOTAL,DATE --ocr auto

    Example: vnerteach ner.correct receipts_gold blank:en scans/ --label TOTAL,DATE --init-tok2vec ./pretrained

    Example: vnerteach ner.correct news_gold blank:en news.jsonl --label ORG,PERSON --vectors en_core_web_lg

    Example: vnerteach ner.correct news_gold blank:en news.jsonl --label ORG,PERSON --lookups
    """
    from vnerteach.errors import UsageError
    from vnerteach.output import warn

    labels = check_labels(label, required=model.startswith("blank:"))
    check_exclude_by(exclude_by)
    if window is not None:
        warn("--window is now called --lookahead (inputs read ahead and ranked); using it as --lookahead")
        lookahead = window
    if lookahead < 1:
        raise UsageError(f"--lookahead must be 1 or more, not {lookahead}")
    if not 0.0 <= min_prefill <= 1.0:
        raise UsageError(f"--min-prefill must be from 0 to 1, not {min_prefill}")
    _check_model_out(model_out)
    teach = _in_loop_model(model, labels, init_tok2vec, vectors, lookups)
    labels = teach.labels
    tokenizer = teach.tokenizer()
    warm = _warm_start(teach, dataset, db, fresh)
    failures, activity = failure_log(), Activity()
    stream = add_tokens(tokenizer, only_labels(annotation_source(source, dataset, db, documents, failures, activity),
                                               labels), on_failure=failures)
    ranked = teach.correct(stream, lookahead=lookahead, on_failure=failures, min_prefill=min_prefill)
    return {"dataset": dataset, "stream": ranked, "buffer": IN_LOOP_BUFFER,
            "view_id": "ner_manual", "config": {"labels": labels}, "exclude": exclude, "exclude_by": exclude_by,
            "update": teach.update if update else None,
            "refresh": partial(teach.refresh_prediction, min_prefill=min_prefill),
            "forget": teach.forget if update else None,
            "on_exit": _on_exit(warm.cancel if warm else None, ranked.close, _saver(teach, model_out)),
            "total": source_size(source, password=documents.password), "images": documents.page_images(), "failures": failures,
            "waiting": activity.waiting, "read_region": documents.region_reader(), "turn_page": documents.page_turner()}
