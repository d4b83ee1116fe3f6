"""What identifies a document's page: the bytes of its file, and its page number.

A page task's ``image`` is ``sha256:<hash of the file>#page=<n>`` and its input hash is made from it
alone, so a page keeps its answers when it is read again (another OCR engine, other preprocessing),
moved or renamed, and two files with the same bytes are one question. A file saved again with other
bytes (a PDF re-saved by a viewer, a scan exported again) is another document: its pages are new
questions, and the answers to the earlier file stay in the dataset under its hash. That is never
silent: :func:`flag_changed` says which files of a source were annotated under other bytes. Where pages
are put together by file (``predict --fields``, the look-ahead, exports), :func:`document_of` tells them
apart by path as well: a copy of a receipt under another name is a record of its own.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

PAGE_REF = re.compile(r"sha256:([0-9a-f]{64})#page=\d+")


def document_of(task: dict, by_input: bool = True) -> str | None:
    """Which document a task belongs to, the one rule of predict, the look-ahead, field scores and exports: its file by
    path and bytes (the same bytes under two names are two documents there), else its input hash (with
    ``by_input``); None: a document of its own."""
    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    path = meta.get("path") if isinstance(meta.get("path"), str) else ""
    image = task.get("image")
    sha = image.split("#", 1)[0] if isinstance(image, str) and image.startswith("sha256:") else ""
    if path or sha:
        return f"{path}#{sha}"
    return f"input:{task['_input_hash']}" if by_input and "_input_hash" in task else None


def page_file(task: dict) -> tuple[str, str] | None:
    """(path, file hash) of a page task, None for any other task."""
    image, path = task.get("image"), (task.get("meta") or {}).get("path")
    match = PAGE_REF.fullmatch(image) if isinstance(image, str) else None
    return (path, match.group(1)) if match and isinstance(path, str) else None


def files_by_path(examples: Iterable[dict]) -> dict[str, set[str]]:
    """The file hashes each path had when its pages were answered."""
    out: dict[str, set[str]] = {}
    for eg in examples:
        if (found := page_file(eg)) is not None:
            out.setdefault(found[0], set()).add(found[1])
    return out


def flag_changed(stream: Iterable[dict], answered: Callable[[], dict[str, set[str]]],
                 say: Callable[[str], None]) -> Iterator[dict]:
    """The stream as it is; once per file whose path was answered under other bytes, ``say`` so.

    ``answered`` (the dataset's :func:`files_by_path`) is read at the first page task only.
    """
    known: dict[str, set[str]] | None = None
    told: set[str] = set()
    for task in stream:
        found = page_file(task)
        if found is not None and found[0] not in told:
            if known is None:
                known = answered()
            path, sha = found
            if path in known and sha not in known[path]:
                told.add(path)
                say(f"{path} is not the file annotated before (its bytes differ): its pages are new questions; "
                    "the answers to the earlier file stay in the dataset")
        yield task
