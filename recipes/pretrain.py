"""The `pretrain` command: the NER's tok2vec pretrained on unlabelled text and pages, for --init-tok2vec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rich.progress import Progress

from vnerteach import Arg, Opt, recipe
from vnerteach.documents import DocumentOptions
from vnerteach.errors import NoText, VnerteachError
from vnerteach.output import good, info, print_summary, progress_bar, warn

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
    from vnerteach.nlp.pretraining import PretrainSettings, pretrain_source

    try:
        with _Shown(spacy_lang, epochs) as shown:
            run = pretrain_source(source, output, lang=spacy_lang, layout=layout,
                                  settings=PretrainSettings(epochs=epochs, seed=seed), max_docs=max_docs,
                                  recursive=recursive, documents=documents, on_event=shown)
    except NoText as err:
        print_failures(err.failures)
        raise
    print_summary(f"Pretrain summary: {output}", [
        ("Texts and pages", run.docs), ("With token boxes", run.boxed), ("Words", run.words),
        ("Epochs", len(run.curve)), ("Loss per word, first and last epoch",
                                     f"{run.curve[0].loss:.4f} -> {run.curve[-1].loss:.4f}"),
        ("Failures", len(run.failures))])
    print_failures(run.failures)
    good(f"Saved the pretrained tok2vec to {output}: use it with --init-tok2vec {output}")
    if strict and run.failures:
        raise VnerteachError(f"{len(run.failures)} files, lines or pages failed (--strict)")


class _Shown:
    """Shows pretraining as it goes: a bar over the source as it is read, then one over the words of every epoch."""

    def __init__(self, lang: str, epochs: int):
        self.lang, self.epochs = lang, epochs
        self.progress: Progress | None = None

    def __enter__(self) -> "_Shown":
        return self

    def __exit__(self, *exc) -> None:
        self._bar(None)

    def _bar(self, title: str | None, unit: str = "", total: int | None = None) -> None:
        """The bar shown: one at a time, as rich has one live display."""
        if self.progress is not None:
            self.progress.stop()
        self.progress = progress_bar(title, unit) if title else None
        if self.progress is not None:
            self.progress.start()
            self.progress.add_task(title, total=total)

    def __call__(self, event) -> None:
        from vnerteach.nlp.pretraining import PretrainBatch, PretrainEpoch, PretrainStart, SourceRead

        if isinstance(event, SourceRead):
            if self.progress is None:
                self._bar("Reading", "texts and pages", event.total)
            self.progress.update(self.progress.task_ids[0], completed=event.done)
        elif isinstance(event, PretrainStart):
            self._bar(None)
            if event.layout and not event.boxed:
                warn("--layout: no text or page of the source has token boxes; the layout features will all be zero")
            info(f"Pretraining on {event.docs} texts and pages ({event.words} words, {event.boxed} with boxes); "
                 f"layout features {'on' if event.layout else 'off'}; blank '{self.lang}' tok2vec, "
                 f"{self.epochs} epochs")
            self._bar("Pretraining", "words", event.words * self.epochs)
        elif isinstance(event, PretrainBatch):
            self.progress.update(self.progress.task_ids[0],
                                 completed=(event.epoch - 1) * event.total_words + event.words)
        elif isinstance(event, PretrainEpoch):
            self.progress.console.print(f"epoch {event.epoch:>3}  loss {event.loss:8.4f} per word  "
                                        f"{event.words / event.seconds if event.seconds else 0:8.0f} words/s")
