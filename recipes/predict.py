"""The `predict` command: a trained model applied to text, images or PDFs, entities or fields as JSONL."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from itertools import groupby
from pathlib import Path
from typing import Annotated

from vnerteach import Arg, Opt, recipe
from vnerteach.documents import DocumentOptions
from vnerteach.errors import UsageError, VnerteachError
from vnerteach.failures import TaskFailure
from vnerteach.files import atomic_file, check_output
from vnerteach.output import plural, print_summary, progress_bar

from .common import check_labels, print_failures


@recipe("predict")
def predict(
    model: Annotated[str, Arg("Trained pipeline folder (ner.batch-train's output)")],
    source: Annotated[str, Arg("Text (JSONL or .txt), an image, a PDF, a folder of them, or - for JSONL on stdin")],
    output: Annotated[Path | None, Opt("JSONL file to write (default: stdout)", "-o")] = None,
    fields: Annotated[bool, Opt("One best value per label per document instead of every entity per page")] = False,
    min_score: Annotated[float, Opt("Leave out entities (and field values) scoring below this, from 0 to 1")] = 0.0,
    label: Annotated[list[str] | None, Opt("Only these labels, e.g. TOTAL,DATE", "-l")] = None,
    recursive: Annotated[bool, Opt("Read subfolders too")] = False,
    documents: DocumentOptions = DocumentOptions(),
    strict: Annotated[bool, Opt("Exit with 1 if any file, line or page failed")] = False,
    corrections: Annotated[str | None, Opt("Dataset whose OCR corrections to apply: a word an annotator corrected "
                                           "on a page is read as corrected where OCR read the same in the same box")]
    = None,
    *, db: str,
) -> None:
    """Apply a trained model to new text, images or PDFs and write JSONL: entities with scores and boxes.

    Without --fields, one line per page (or text): every entity of the best parse with its label,
    beam score, text, token range and token boxes. With --fields, one line per document: per label
    the highest-scoring candidate of all its pages, with its score and page. Documents are OCR'd in
    parallel and cached like `ocr`; a file, line or page that fails is recorded and the run goes on.

    Example: vnerteach predict ./receipts-model scans/ --fields --output fields.jsonl
    """
    from vnerteach.nlp.fields import best_fields, page_entities
    from vnerteach.nlp.pipeline import load_pipeline
    from vnerteach.sources import get_stream, source_size
    from vnerteach.tasks import tokenized

    if not 0.0 <= min_score <= 1.0:
        raise UsageError(f"--min-score must be from 0 to 1, not {min_score}")
    if output is not None:
        check_output(output)
    labels = check_labels(label, required=False)
    nlp = load_pipeline(model, beam=True)
    unknown = sorted(set(labels) - set(nlp.get_pipe("ner").labels))
    if unknown:
        raise UsageError(f"--label: the model has no label {', '.join(unknown)} "
                         f"(it has {', '.join(nlp.get_pipe('ner').labels)})")
    fixes = _fixes(db, corrections) if corrections else {}
    failures: list[TaskFailure] = []
    tasks = tokenized(nlp, get_stream(source, recursive=recursive, documents=documents, on_failure=failures.append),
                      failures.append)
    counts = {"documents": 0, "pages": 0, "values": 0, "retried": 0, "empty": 0, "corrected": 0}
    if fixes:
        tasks = _corrected(tasks, fixes, counts)
    try:
        with atomic_file(output) if output else nullcontext(sys.stdout) as sink, \
                progress_bar("Predict", "pages") as progress:
            bar = progress.add_task("pages", total=source_size(source, recursive=recursive, password=documents.password))
            for _, run in groupby(tasks, key=_document):
                pages = list(run)
                counts["documents"] += 1
                counts["pages"] += len(pages)
                for page in pages:
                    meta = page.get("meta") or {}
                    counts["retried"] += bool(meta.get("retried"))
                    counts["empty"] += bool(meta.get("ocr")) and not page.get("tokens")
                if fields:
                    found = best_fields(nlp, pages, labels or None, min_score)
                    counts["values"] += len(found)
                    sink.write(_dumps(_document_line(pages, found)) + "\n")
                else:
                    for page, ents in zip(pages, page_entities(nlp, pages, labels or None, min_score)):
                        counts["values"] += len(ents)
                        sink.write(_dumps(_page_line(page, ents)) + "\n")
                progress.update(bar, completed=counts["pages"] + len(failures))
    finally:
        sys.stdout.flush()
    _print_summary(counts, failures, fields, output)
    if strict and failures:
        raise VnerteachError(f"{plural(len(failures), 'file, line or page')} failed (--strict)")


def _fixes(db: str, dataset: str) -> dict:
    """The OCR corrections of a dataset's answers, per input hash (``corrections.stored_fixes``)."""
    from vnerteach.tasks.corrections import stored_fixes
    from vnerteach.store import connect

    with connect(db) as store:
        store.get_dataset(dataset)  # DatasetNotFound: one clear message
        return stored_fixes(store.iter_examples(dataset))


def _corrected(tasks, fixes: dict, counts: dict):
    """Pages with the corrections an annotator made to the same page applied, lazily."""
    from vnerteach.tasks.corrections import apply_fixes
    from vnerteach.tasks import INPUT_HASH, input_hash

    for task in tasks:
        key = task.get(INPUT_HASH)
        found = fixes.get(input_hash(task) if key is None else key)
        if found:
            counts["corrected"] += apply_fixes(task, found)
        yield task


def _document(task: dict) -> object:
    """The pages of one file go together; every text is a document of its own."""
    from vnerteach.documents.identity import document_of

    return document_of(task, by_input=False) or object()


def _page_line(task: dict, ents: list) -> dict:
    line = {"text": task.get("text", "")}
    for key in ("image", "meta", "_input_hash"):
        if key in task:
            line[key] = task[key]
    line["entities"] = [e.to_dict() for e in ents]
    return line


def _document_line(pages: list[dict], found: dict) -> dict:
    meta = pages[0].get("meta") or {}
    line: dict = {"path": meta["path"], "pages": len(pages)} if meta.get("path") else {"text": pages[0].get("text", "")}
    if "image" in pages[0]:
        line["image"] = pages[0]["image"].split("#", 1)[0]
    if "_input_hash" in pages[0] and not meta.get("path"):
        line["_input_hash"] = pages[0]["_input_hash"]
    line["fields"] = {label: value.to_dict() for label, value in found.items()}
    return line


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _print_summary(counts: dict, failures: list[TaskFailure], fields: bool, output: Path | None) -> None:
    corrected = [("Words read as an annotator corrected them (--corrections)", counts["corrected"])]
    print_summary("Predict summary" + (f": {output}" if output else ""), [
        ("Documents and texts", counts["documents"]), ("Pages and texts", counts["pages"]),
        ("Field values" if fields else "Entities", counts["values"]),
        ("Retried with stronger preprocessing (no words)", counts["retried"]),
        ("OCR pages still without words", counts["empty"]), *(corrected if counts["corrected"] else []),
        ("Failures", len(failures))])
    print_failures(failures)
