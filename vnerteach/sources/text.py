"""Text loaders: JSONL (one task per line) and plain text (one task per non-empty line)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

from ..errors import InputError, TaskError
from ..failures import LocatedTask, OnFailure, TaskFailure, skip
from ..tasks import check_task_bytes, check_token_chars, parse_json, validate_task
from .documents import is_path_line


@contextmanager
def _open(path: Path | str) -> Iterator[IO]:
    if str(path) == "-":
        yield getattr(sys.stdin, "buffer", sys.stdin)
        return
    try:
        with open(path, "rb") as f:
            yield f
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path) from None


def _name(path: Path | str) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def read_jsonl(path: Path | str, on_failure: OnFailure | None = None) -> Iterator[dict]:
    """Validated tasks from a JSONL file or stdin (``-``); blank lines are skipped.

    A line that only names a document (``{"path": "scan.pdf"}``) is passed on as it is. A bad
    line goes to ``on_failure`` and the file goes on, or raises TaskError without it. Tasks are
    LocatedTasks: later stages can name their file and line too.
    """
    return _read(path, _parse_jsonl, on_failure)


def read_text(path: Path | str, on_failure: OnFailure | None = None) -> Iterator[dict]:
    """A task per non-empty line of a plain-text file; a bad line is handled as in :func:`read_jsonl`."""
    return _read(path, lambda line: check_token_chars({"text": line.strip()}), on_failure)


def _read(path: Path | str, parse: Callable[[str], dict], on_failure: OnFailure | None) -> Iterator[dict]:
    """Tasks parsed from the non-blank lines; line numbers come from the file, so errors can name them."""
    name = _name(path)
    with _open(path) as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = _decoded(raw, line_no)
                if not line.strip():
                    continue
                task = parse(line)
            except TaskError as err:
                skip(TaskFailure(name, None, err.reason, line_no), on_failure)
                continue
            yield task if is_path_line(task) else LocatedTask(task, name, line_no)


def _decoded(line: bytes | str, line_no: int) -> str:
    """The line as text; one over MAX_TASK_BYTES is refused before it is decoded."""
    if isinstance(line, str):  # a text-mode stdin
        line = line.encode("utf8")
    check_task_bytes(len(line))
    try:
        return line.decode("utf-8-sig" if line_no == 1 else "utf8")
    except UnicodeDecodeError as err:
        raise TaskError(f"not UTF-8 text ({err.reason})") from None


def _parse_jsonl(line: str) -> dict:
    task = parse_json(line)
    if is_path_line(task):  # a document to read, not a task: get_stream expands it
        return task
    return check_token_chars(validate_task(task))
