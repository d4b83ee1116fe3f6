"""What the recipes share: option checks, pattern loading, skipped-task, failure and merge reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from vnerteach.activity import Activity
from vnerteach.loop.components import EXCLUDE_BY
from vnerteach.errors import UsageError
from vnerteach.failures import FailureLog, TaskFailure
from vnerteach.output import info, warn

if TYPE_CHECKING:
    from vnerteach.nlp.merge import Unusable

# The controller's read-ahead of a ranked stream (ner.correct, ner.manual --lookahead): the ranker is
# the buffer, and what the controller holds was chosen before the latest updates
RANKED_BUFFER = 4
# A model in the loop (ner.teach, ner.correct): the controller holds one question beyond what the app asks for,
# so the next is chosen, and scored again as it is shown, by a model that has learnt the answers before it
IN_LOOP_BUFFER = 1


def dataset_names(value: str) -> list[str]:
    """Dataset names given comma-separated (``news,news_teach``); UsageError for none."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise UsageError("Name at least one dataset")
    return names


def check_labels(label: list[str] | None, required: bool) -> list[str]:
    """The --label values without repeats; UsageError when labels are required and none were given."""
    labels = list(dict.fromkeys(label or []))
    spaced = [name for name in labels if any(ch.isspace() for ch in name)]
    if spaced:
        raise UsageError(f"--label {spaced[0]!r}: a label is one word (spaCy's entity labels), "
                         f"e.g. {'_'.join(spaced[0].split())}")
    if required and not labels:
        raise UsageError("--label: give the labels to annotate, e.g. --label ORG,PERSON")
    return labels


def check_exclude_by(exclude_by: str) -> str:
    """The --exclude-by value if it is one the controller knows."""
    if exclude_by not in EXCLUDE_BY:
        raise UsageError(f"--exclude-by: use one of {', '.join(EXCLUDE_BY)}, not '{exclude_by}'")
    return exclude_by


def report_failure(failure: TaskFailure) -> None:
    """Warn about a line, task or document page that is skipped; the run goes on."""
    warn(f"{failure} - skipped")


def failure_log() -> FailureLog:
    """The ``on_failure`` of an annotation recipe's stream: warns of each skipped task; the controller counts them."""
    return FailureLog(report_failure)


def print_failures(failures: Sequence[TaskFailure], shown: int = 50) -> None:
    """The table of files, lines or pages a command skipped (the first ``shown``), for its summary."""
    from rich.table import Table

    from vnerteach.output import stderr

    if not failures:
        return
    failed = Table(title="Failures")
    for column in ("File", "Line/page", "Error"):
        failed.add_column(column, overflow="fold")
    for failure in failures[:shown]:
        where = f"line {failure.line}" if failure.line is not None else f"page {failure.page}" if failure.page else "-"
        failed.add_row(failure.path or "-", where, failure.error)
    stderr.print(failed)
    if len(failures) > shown:
        warn(f"... and {len(failures) - shown} more failures")


def report_merge(conflicts: int, conflict_inputs: Sequence[int], unusable: Sequence[Unusable], shown: int = 5) -> None:
    """Warn about what merging answers dropped: contradictions (with their inputs) and unusable answers (the first few)."""
    if conflicts:
        more = f", ... ({len(conflict_inputs)} inputs)" if len(conflict_inputs) > shown else ""
        warn(f"{conflicts} contradictory answers dropped (e.g. the same span accepted and rejected, or overlapping "
             f"accepted spans); inputs: {', '.join(map(str, conflict_inputs[:shown]))}{more}")
    if unusable:
        warn(f"{len(unusable)} answers left out: they cannot be used (--strict stops at the first instead)")
        for problem in unusable[:shown]:
            warn(f"  {problem}")
        if len(unusable) > shown:
            info(f"  ... and {len(unusable) - shown} more")


def annotation_source(source: str | Path, dataset: str, db: str | None, documents: Any,
                      failures: FailureLog, activity: Activity) -> Iterator[dict]:
    """The source's tasks for an annotation recipe; a document annotated in ``dataset`` under other bytes is named.

    ``activity`` says which page's OCR reading waits on: the recipe hands its ``waiting`` to the server.
    """
    from vnerteach.documents.identity import files_by_path, flag_changed
    from vnerteach.sources import get_stream
    from vnerteach.store import connect

    def answered() -> dict[str, set[str]]:
        if db is None:  # called as a function, without a database
            return {}
        with connect(db) as store:
            return files_by_path(store.iter_examples(dataset)) if dataset in store else {}

    return flag_changed(get_stream(source, documents=documents, on_failure=failures, activity=activity), answered, warn)


def only_labels(stream: Iterable[dict], labels: list[str]) -> Iterator[dict]:
    """Drop pre-existing spans whose label is not one of the annotated labels."""
    wanted = set(labels)
    for task in stream:
        if task.get("spans"):
            task["spans"] = [s for s in task["spans"] if s.get("label") in wanted]
        yield task


def load_matcher(patterns: Path | None, nlp: Any, labels: list[str]) -> Any:
    """The --patterns matcher for the annotated labels (patterns of other labels are ignored, with a warning)."""
    if patterns is None:
        return None
    from vnerteach.teach.patterns import PatternMatcher, read_patterns

    entries = read_patterns(patterns)
    others = sorted({e["label"] for e in entries} - set(labels))
    if others:
        warn(f"--patterns: ignoring patterns for labels not in --label: {', '.join(others)}")
    return PatternMatcher(nlp, [e for e in entries if e["label"] in labels])
