"""Document sources: image and PDF files, or a JSONL of their paths, become page tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..documents import DocumentOptions, PageFailure, iter_documents, page_task
from ..errors import InputError

OnFailure = Callable[[PageFailure], None]


def read_documents(paths: Iterable[Path], options: DocumentOptions,
                   on_failure: OnFailure | None = None) -> Iterator[dict]:
    """Page tasks of the documents, in order; a failed file or page goes to ``on_failure`` (or raises)."""
    for result in iter_documents(paths, options):
        if isinstance(result, PageFailure):
            if on_failure is None:
                raise InputError(result.error, result.path, page=result.page)
            on_failure(result)
        else:
            yield page_task(result)


def is_path_line(task: object) -> bool:
    """True for a JSONL line that names a document instead of holding a task: ``{"path": "scan.pdf"}``."""
    return isinstance(task, dict) and "path" in task and not {"text", "image", "tokens"} & task.keys()


def line_path(task: dict, jsonl: Path | str) -> Path:
    """The document path of a path line; a relative path is taken from the JSONL file's folder."""
    path = Path(task["path"]).expanduser()
    base = Path.cwd() if str(jsonl) == "-" else Path(jsonl).parent
    return path if path.is_absolute() else base / path
