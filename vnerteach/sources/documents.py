"""Document sources: image and PDF files, or a JSONL of their paths, become page tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from ..activity import Activity
from ..documents import DocumentOptions, PageFailure, iter_documents, page_task
from ..errors import TaskError
from ..failures import OnFailure, skip
from ..tasks import check_token_chars


def read_documents(paths: Iterable[Path], options: DocumentOptions,
                   on_failure: OnFailure | None = None, activity: Activity | None = None) -> Iterator[dict]:
    """Page tasks of the documents, in order; a failed file or page goes to ``on_failure`` (or raises TaskError)."""
    for result in iter_documents(paths, options, activity=activity):
        if isinstance(result, PageFailure):
            skip(result, on_failure)
            continue
        try:
            task = check_token_chars(page_task(result))
        except TaskError as err:
            skip(PageFailure(result.path, result.page, err.reason), on_failure)
            continue
        yield task


def is_path_line(task: object) -> bool:
    """True for a JSONL line that names a document instead of holding a task: ``{"path": "scan.pdf"}``."""
    return isinstance(task, dict) and "path" in task and not {"text", "image", "tokens"} & task.keys()


def line_path(task: dict, jsonl: Path | str) -> Path:
    """The document path of a path line; a relative path is taken from the JSONL file's folder."""
    path = Path(task["path"]).expanduser()
    base = Path.cwd() if str(jsonl) == "-" else Path(jsonl).parent
    return path if path.is_absolute() else base / path
