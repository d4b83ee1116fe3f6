"""The `pretrain` command: the NER's tok2vec pretrained on unlabelled text and pages, for --init-tok2vec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vnerteach import Arg, Opt, recipe
from vnerteach.documents import DocumentOptions
from vnerteach.errors import UsageError, VnerteachError
from vnerteach.failures import TaskFailure
from vnerteach.files import check_output
from vnerteach.output import good, info, stderr, warn

from .common import print_failures


@recipe("pretrain")
def pretrain(
    source: Annotated[str, Arg("Unlabelled text (JSONL or .txt), images, PDFs, a folder of them, or - for JSONL on stdin")],
    output: Annotated[Path, Opt("Folder to write the weights (tok2vec.bin) and meta.json to", "-o")],
    spacy_lang: Annotated[str, Opt("Language of the blank spaCy pipeline the weights are for (as ner.batch-train's "
                                   "--lang; --lang is Tesseract's)")] = "en",
    layout: Annotated[bool | None, Opt("Pretrain the layout tok2vec (token boxes as features); default: when "
                                       "the source has boxes")] = None,
    epochs: Annotated[int, Opt("Passes over the source", "-n")] = 10,
    max_docs: Annotated[int | None, Opt("Read at most this many texts and pages")] = None,
    seed: Annotated[int, Opt("Random seed")] = 0,
    recursive: Annotated[bool, Opt("Read subfolders too")] = False,
    documents: DocumentOptions = DocumentOptions(),
    strict: Annotated[bool, Opt("Exit with 1 if any file, line or page failed")] = False,
) -> None:
    """Pretrain the NER's token-to-vector layer on your own unlabelled text and pages (spaCy's characters objective).

    A share of the tokens is masked and the tok2vec learns to predict their first and last
    characters from the context, so a model trained from blank with --init-tok2vec starts from
    weights that know the vocabulary and word shapes of your documents. Pages keep their token
    boxes, so the layout tok2vec is pretrained as it is trained. Read it with `ner.batch-train
    --init-tok2vec DIR` and `ner.teach`/`ner.correct blank:LANG --init-tok2vec DIR`. A file, line
    or page that cannot be read is recorded and the run goes on.

    Example: vnerteach pretrain scans/ --output ./pretrained --epochs 10
    """
    from vnerteach.layout import doc_boxes, task_doc
    from vnerteach.pipeline import Settings
    from vnerteach.pretraining import (PretrainBatch, PretrainEpoch, PretrainSettings, pretrain as run,
                                       pretraining_meta, pretraining_pipeline, save_pretrained)
    from vnerteach.sources import get_stream, source_size
    from vnerteach.tasks import tokenized

    if epochs < 1:
        raise UsageError(f"--epochs must be 1 or more, not {epochs}")
    if max_docs is not None and max_docs < 1:
        raise UsageError(f"--max-docs must be 1 or more, not {max_docs}")
    check_output(output, model=True)
    settings, schedule = Settings(), PretrainSettings(epochs=epochs, seed=seed)
    lang = spacy_lang
    try:
        tokenizer = pretraining_pipeline(lang, False, settings)
    except UsageError:
        raise UsageError(f"--spacy-lang {lang}: spaCy has no language '{lang}'") from None
    failures: list[TaskFailure] = []
    docs = []
    total = source_size(source, recursive=recursive, password=documents.password)
    with _progress("Reading", "texts and pages") as progress:
        bar = progress.add_task("read", total=min(total, max_docs) if total and max_docs else total)
        for task in tokenized(tokenizer, get_stream(source, recursive=recursive, documents=documents,
                                                    on_failure=failures.append), failures.append):
            if task.get("tokens"):
                docs.append(task_doc(tokenizer.vocab, task))
            progress.update(bar, completed=len(docs) + len(failures))
            if max_docs is not None and len(docs) >= max_docs:
                break
    words = sum(len(doc) for doc in docs)
    if not words:
        print_failures(failures)
        raise VnerteachError(f"{source}: no text to pretrain on ({len(failures)} failures)")
    boxed = sum(doc_boxes(doc) is not None for doc in docs)
    use_layout = bool(boxed) if layout is None else layout
    if use_layout and not boxed:
        warn("--layout: no text or page of the source has token boxes; the layout features will all be zero")
    info(f"Pretraining on {len(docs)} texts and pages ({words} words, {boxed} with boxes); layout features "
         f"{'on' if use_layout else 'off'}; blank '{lang}' tok2vec, {epochs} epochs")
    nlp = pretraining_pipeline(lang, use_layout, settings)
    curve: list[PretrainEpoch] = []
    with _progress("Pretraining", "words") as progress:
        bar = progress.add_task("pretrain", total=words * epochs)
        for event in run(nlp, docs, schedule):
            if isinstance(event, PretrainBatch):
                progress.update(bar, completed=(event.epoch - 1) * words + event.words)
                continue
            curve.append(event)
            progress.console.print(f"epoch {event.epoch:>3}  loss {event.loss:8.4f} per word  "
                                   f"{event.words / event.seconds if event.seconds else 0:8.0f} words/s")
    meta = pretraining_meta(lang, use_layout, settings, schedule, len(docs), words, curve)
    save_pretrained(nlp, output, meta)
    _print_summary(len(docs), boxed, words, curve, failures, output)
    good(f"Saved the pretrained tok2vec to {output}: use it with --init-tok2vec {output}")
    if strict and failures:
        raise VnerteachError(f"{len(failures)} files, lines or pages failed (--strict)")


def _progress(title: str, unit: str) -> Progress:
    return Progress(TextColumn(f"[bold]{title}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                    TimeElapsedColumn(), console=stderr, transient=False, refresh_per_second=4)


def _print_summary(docs: int, boxed: int, words: int, curve: list, failures: list[TaskFailure], output: Path) -> None:
    table = Table(title=f"Pretrain summary: {output}", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("Texts and pages", str(docs))
    table.add_row("With token boxes", str(boxed))
    table.add_row("Words", str(words))
    table.add_row("Epochs", str(len(curve)))
    table.add_row("Loss per word, first and last epoch", f"{curve[0].loss:.4f} -> {curve[-1].loss:.4f}")
    table.add_row("Failures", str(len(failures)))
    stderr.print(table)
    print_failures(failures)

