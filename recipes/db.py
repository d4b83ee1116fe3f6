"""Dataset commands: stats, db-in, db-out, drop."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import click
from rich import box
from rich.table import Table

from vnerteach import Arg, Opt, recipe
from vnerteach.files import atomic_file, check_output
from vnerteach.errors import UsageError
from vnerteach.output import good, info, plural, stdout, warn
from vnerteach.documents import DocumentOptions, PageImages
from vnerteach.sources import get_stream
from vnerteach.store import connect, to_json
from vnerteach.tasks import ANSWERS, set_hashes

from .common import dataset_names, report_merge



def _check_answers(answers: list[str] | None) -> list[str] | None:
    bad = [a for a in answers or [] if a not in ANSWERS]
    if bad:
        raise UsageError(f"--answer: unknown answer {', '.join(bad)} (use {', '.join(ANSWERS)})")
    return answers


def _when(timestamp: int | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


@recipe("stats")
def stats(dataset: Annotated[str | None, Arg("Dataset to show (default: all datasets); comma-separated datasets "
                                             "with --agreement")] = None,
          patterns: Annotated[bool, Opt("Show the dataset's patterns: the answers to each one's matches and its score")]
          = False,
          agreement: Annotated[bool, Opt("Show the agreement between annotators per label: span-level F1 over the "
                                         "inputs two annotators annotated")] = False,
          lang: Annotated[str, Opt("--agreement: language for tokenizing answers without tokens")] = "en",
          *, db: str) -> None:
    """Show datasets with their examples, answers, sessions and last activity.

    Example: vnerteach stats news_ner

    Example: vnerteach stats news_ner --patterns

    Example: vnerteach stats news-alice,news-bob --agreement
    """
    with connect(db) as store:
        if agreement:
            if dataset is None:
                raise UsageError("--agreement: name the dataset(s), e.g. vnerteach stats news_ner --agreement")
            _agreement_table(store, dataset_names(dataset), lang)
            return
        if patterns:
            if dataset is None:
                raise UsageError("--patterns: name the dataset, e.g. vnerteach stats news_ner --patterns")
            _pattern_table(store, dataset)
            return
        _dataset_tables(store, dataset)


def _dataset_tables(store, dataset: str | None) -> None:
    """The counts of every dataset (or of one, with its sessions and the model's payoff), as tables."""
    rows = store.stats(dataset)
    if not rows:
        info(f"No datasets yet in {store.url}")
        return
    stdout.print(_stats_table(f"Datasets in {store.url}", "Dataset", rows))
    if dataset is not None and (sessions := store.session_stats(dataset)):
        stdout.print(_stats_table(f"Sessions of '{dataset}': each annotator (/?session=NAME) or run", "Session",
                                  sessions))
    if dataset is not None and (payoff := _payoff_table(store, dataset)) is not None:
        stdout.print(payoff)


def _payoff_table(store, dataset: str) -> Table | None:
    """Whether the model in the loop pays (pre-fills kept, questions accepted, with their trend); None for ner.manual."""
    from vnerteach.teach.payoff import BREAK_EVEN, HISTORY, Payoff, sparkline

    figures = Payoff(store.tail(dataset, HISTORY)).figures()
    if not figures:
        return None
    table = Table(title=f"Is the model in the loop paying? '{dataset}', latest answers", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for column, justify in (("Figure", "left"), ("Share", "right"), ("Of", "right"), ("Over", "left"),
                            ("Trend", "left")):
        table.add_column(column, justify=justify, no_wrap=True)
    for f in figures:
        what, over = (("pre-fills kept", f"{f.answers} inputs") if f.name == "kept" else
                      ("questions accepted", f"{f.answers} questions"))
        share = "-" if f.value is None else f"{100 * f.value:.0f}%"
        table.add_row(what, share, f"{f.hits}/{f.of}", over, sparkline(f.trend))
    if any(f.name == "kept" for f in figures):
        table.caption = (f"ner.correct's pre-filling saves time when more than {100 * BREAK_EVEN:.0f}% of the "
                         "pre-fills are kept; below that, ner.manual is faster")
    return table


def _stats_table(title: str, first: str, rows: list) -> Table:
    """Examples, answers (and sessions) and last activity per dataset or session, as a rich table."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    longest = max((len(s.name) for s in rows), default=7)
    table.add_column(first, overflow="fold", min_width=min(longest, 20))  # folded onto more lines, never cut
    sessions = first == "Dataset"
    corrected = sessions and any(s.corrected for s in rows)  # tokens whose OCR text was corrected by hand
    for column in ("Total", "Accept", "Reject", "Ignore", *["Sessions"] * sessions, *["Corrected"] * corrected):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("Last activity", no_wrap=True)
    for s in rows:
        table.add_row(s.name, str(s.examples), str(s.accept), str(s.reject), str(s.ignore),
                      *[str(s.sessions)] * sessions, *[str(s.corrected)] * corrected, _when(s.last_activity))
    if corrected:
        table.caption = "Corrected: tokens whose OCR text an annotator corrected (kept as ocr_text beside it)"
    return table


def _agreement_table(store, names: list[str], lang: str) -> None:
    """Span-level F1 between annotators per label and overall, with the inputs and annotators it rests on."""
    from vnerteach.datasets.agreement import agreement
    from vnerteach.nlp.pipeline import load_pipeline
    from vnerteach.datasets.review import collect, complete_annotations

    for name in names:
        store.get_dataset(name)  # DatasetNotFound before anything is read
    items = collect({name: store.iter_examples(name) for name in names}, load_pipeline(f"blank:{lang}"))
    annotations, left_out = complete_annotations(items)
    result = agreement(annotations)
    where = ", ".join(repr(n) for n in names)
    if left_out:
        info(f"{plural(left_out, 'version')} left out: rejected inputs and binary (ner.teach) answers are not compared")
    if not result.pairs:
        warn(f"No input in {where} was annotated completely by two annotators: no agreement to show "
             f"({plural(result.single, 'input')} with one annotator)")
        return
    table = Table(title=f"Agreement between annotators in {where}", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("Label", overflow="fold")
    for column in ("F1", "Agreed", "Disagreed", "Inputs", "Annotators"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in [*result.labels, result.overall]:
        f1 = "-" if row.f1 is None else f"{100 * row.f1:.1f}"
        table.add_row(row.label or "All labels", f1, str(row.agreed), str(row.disagreed), str(row.inputs),
                      str(row.annotators), end_section=row is result.labels[-1] if result.labels else False)
    stdout.print(table)
    info(f"{plural(result.overall.inputs, 'input')} compared ({plural(result.pairs, 'annotator pair')}); "
         f"{plural(result.single, 'input')} with one annotator not compared. Agreed and Disagreed count spans per pair.")


def _pattern_table(store, dataset: str) -> None:
    """The answers to each pattern's matches in a dataset, with the score ner.teach asks it by."""
    from vnerteach.teach.patterns import pattern_counts

    counts = pattern_counts(store.iter_examples(dataset))
    if not counts:
        info(f"No answers to pattern matches in '{dataset}'")
        return
    table = Table(title=f"Patterns in '{dataset}'", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Pattern", overflow="fold")
    table.add_column("Label", overflow="fold")
    for column in ("Accept", "Reject", "Ignore", "Score"):
        table.add_column(column, justify="right", no_wrap=True)
    for pattern, c in sorted(counts.items(), key=lambda item: (item[1].score, item[0])):
        table.add_row(pattern, c.label or "-", str(c.accept), str(c.reject), str(c.ignore), f"{c.score:.2f}")
    stdout.print(table)


@recipe("db-in")
def db_in(
    dataset: Annotated[str, Arg("Dataset to import into (created if missing)")],
    source: Annotated[str, Arg("JSONL or text file, image or PDF, a folder of them, or - for stdin")],
    answer: Annotated[str, Opt("Answer to give tasks that have none")] = "accept",
    rehash: Annotated[bool, Opt("Recompute the hashes; --no-rehash keeps hashes the file already has")] = True,
    documents: DocumentOptions = DocumentOptions(),
    *,
    db: str,
) -> None:
    """Import annotations into a dataset: validated, hashed, duplicates skipped, all or nothing.

    A task that is already in the dataset with the same answer is skipped, so importing the
    same file twice adds nothing. Any invalid line stops the import and nothing is saved.

    Example: vnerteach db-in news_ner annotations.jsonl --answer accept
    """
    _check_answers([answer])
    seen = 0

    def prepared():
        nonlocal seen
        for task in get_stream(source, documents=documents):
            seen += 1
            task.setdefault("answer", answer)
            yield set_hashes(task, overwrite=rehash)

    with connect(db) as store:
        added = store.add_examples(prepared(), [dataset], skip_duplicates=True)
    good(f"Imported {plural(added, 'example')} into '{dataset}' from {source}"
         + (f" ({seen - added} already there, skipped)" if seen > added else ""))


@recipe("db-out")
def db_out(
    dataset: Annotated[str, Arg("Dataset to export")],
    output: Annotated[Path | None, Arg("File to write (default: stdout; required for --format spacy)")] = None,
    answer: Annotated[list[str] | None, Opt("Only these answers, e.g. accept,reject (jsonl)")] = None,
    format: Annotated[str, Opt("jsonl (every answer), spacy (DocBin), conll (IOB per token), boxes (entity boxes "
                               "of page tasks, JSONL)", "-f")] = "jsonl",
    partial: Annotated[bool, Opt("spacy/conll: include binary ner.teach inputs (unknown tokens missing / '-')")] = False,
    label: Annotated[list[str] | None, Opt("spacy, conll, boxes, --draw: only these entity labels; "
                                           "with --redact, the labels to cover (required)", "-l")] = None,
    draw: Annotated[Path | None, Opt("Folder for page images with the entity boxes and labels drawn")] = None,
    redact: Annotated[Path | None, Opt("Folder for page images and PDFs with --label entities blacked out")] = None,
    lang: Annotated[str, Opt("Language for tokenizing tasks without tokens (spacy, conll)")] = "en",
    strict: Annotated[bool, Opt("spacy, conll, boxes: stop at the first answer that cannot be used (exit 1) "
                                "instead of leaving it out")] = False,
    embed_images: Annotated[bool, Opt("jsonl: each page task's image as a PNG data URI (for Prodigy and other "
                                      "tools), instead of its reference sha256:FILE#page=N")] = False,
    history: Annotated[bool, Opt("Write the answer events (stored, replaced, retracted by undo) as JSONL instead "
                                 "of the examples")] = False,
    *,
    db: str,
    page_cache: Path,
) -> None:
    """Export a dataset: its answers as JSONL, or merged annotations as a spaCy DocBin, CoNLL or entity boxes.

    spacy, conll and boxes merge every answer per input (as ner.batch-train does). --draw and
    --redact write page images of visual tasks: entity boxes drawn, or the --label entities
    covered by filled boxes (de-identification), with one image-only PDF per document.

    --history writes what happened in the annotation sessions instead, one event a line (time,
    event, session, hashes, answer): answers stored, replaced, and retracted by undo.

    Example: vnerteach db-out forms redacted.jsonl --format boxes --redact ./redacted --label PERSON

    Example: vnerteach db-out news_ner --history
    """
    from vnerteach.datasets.export import EXPORTERS, FORMATS, Source

    if history:
        return _history(dataset, output, answer, db,
                        format != "jsonl" or bool(label or draw or redact or partial or strict or embed_images))
    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {format!r}")
    if embed_images and format != "jsonl":
        raise UsageError("--embed-images is for --format jsonl: the other formats carry no images")
    if output is not None:
        check_output(output)
    if redact is not None and not label:
        raise UsageError("--redact needs --label: the entity labels to cover, e.g. --label PERSON")
    if EXPORTERS[format].binary and output is None:
        raise UsageError(f"--format {format} writes a binary file: give the OUTPUT path")
    pages = [(mode, folder) for mode, folder in (("draw", draw), ("redact", redact)) if folder is not None]
    images_only = bool(pages) and output is None and format == "jsonl"
    if format == "jsonl" and not images_only:
        _check_answers(answer)
    jobs = ([] if images_only else [(format, output)]) + pages
    with connect(db) as store:
        source = Source(store, dataset, labels=None if redact else label, cover=label, answers=answer,
                        partial=partial, lang=lang, strict=strict, embed_images=embed_images,
                        page_images=PageImages(page_cache))
        _export(source, jobs, dataset)


def _export(source, jobs: list[tuple[str, Path | None]], dataset: str) -> None:
    """Run each export job (format or page images, and its target) on the dataset's answers, with their summaries."""
    from vnerteach.datasets.export import EXPORTERS

    merge_told = False
    for name, target in jobs:
        exporter = EXPORTERS[name]
        if exporter.merged and not merge_told:
            merge_told = True
            merged = source.merged
            report_merge(merged.conflicts, merged.conflict_inputs, merged.unusable)
        result = exporter.run(source, target)
        if result.lines is not None:
            _write_lines(result.lines, target, dataset, result.unit)
        for line in result.summary:
            good(line)
        for line in result.warnings:
            warn(line)


def _history(dataset: str, output: Path | None, answer: list[str] | None, db: str, other_options: bool) -> None:
    if other_options:
        raise UsageError("--history writes answer events as JSONL: it takes OUTPUT and --answer, "
                         "not --format, --label, --draw, --redact, --partial or --strict")
    _check_answers(answer)
    if output is not None:
        check_output(output)
    with connect(db) as store:
        events = store.events(dataset, answer)
        _write_lines((to_json(event) for event in events), output, dataset, "answer events")


def _write_lines(lines, output: Path | None, dataset: str, what: str) -> None:
    """Write lines to stdout (streamed, quiet on a closed pipe) or to a file with a summary."""
    if output is None:
        try:
            for line in lines:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. `db-out ... | head`: the reader has what it wanted
            sys.stderr.close()
        return
    count = 0
    with atomic_file(output) as f:
        for count, line in enumerate(lines, start=1):
            f.write(line + "\n")
    good(f"Exported {count} {what} from '{dataset}' to {output}")


@recipe("drop")
def drop(
    dataset: Annotated[str, Arg("Dataset to delete")],
    yes: Annotated[bool, Opt("Do not ask for confirmation", "-y")] = False,
    *,
    db: str,
) -> None:
    """Delete a dataset and its examples (examples other datasets share are kept).

    Example: vnerteach drop news_ner --yes
    """
    with connect(db) as store:
        count = store.count(dataset)
        if not yes:
            try:
                confirmed = click.confirm(f"Delete dataset '{dataset}' and its {plural(count, 'example')}?", err=True)
            except click.Abort:
                confirmed = False
            if not confirmed:
                raise UsageError(f"Dataset '{dataset}' was not dropped (confirm, or pass --yes)")
        store.drop(dataset)
    good(f"Dropped dataset '{dataset}' ({plural(count, 'example')})")
