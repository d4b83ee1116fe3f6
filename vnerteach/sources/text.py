"""Text loaders: JSONL (one task per line) and plain text (one task per non-empty line)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from ..errors import InputError
from ..tasks import TaskError, parse_json, validate_task
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


def _lines(path: Path | str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; bytes are decoded per line so errors name it."""
    with _open(path) as f:
        for line_no, line in enumerate(f, start=1):
            if isinstance(line, bytes):
                try:
                    line = line.decode("utf-8-sig" if line_no == 1 else "utf8")
                except UnicodeDecodeError as err:
                    raise InputError(f"not UTF-8 text ({err.reason})", _name(path), line_no) from None
            if line.strip():
                yield line_no, line


def _name(path: Path | str) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def read_jsonl(path: Path | str) -> Iterator[dict]:
    """Validated tasks from a JSONL file or stdin (``-``); blank lines are skipped.

    A line that only names a document (``{"path": "scan.pdf"}``) is passed on as it is.
    """
    for line_no, line in _lines(path):
        try:
            task = parse_json(line)
            if is_path_line(task):  # a document to read, not a task: get_stream expands it
                yield task
                continue
            yield validate_task(task)
        except TaskError as err:
            raise InputError(str(err), _name(path), line_no) from None


def read_text(path: Path | str) -> Iterator[dict]:
    """A task per non-empty line of a plain-text file."""
    for _, line in _lines(path):
        yield {"text": line.strip()}
