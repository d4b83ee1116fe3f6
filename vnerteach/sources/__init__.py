"""Lazy loaders that turn a source (file, folder or stdin) into a stream of task dicts.

Text: JSONL (one task per line) and plain text (one task per line). Documents: images and
PDFs become one task per page with word boxes; a JSONL may also list documents by path.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..activity import Activity
from ..documents import SUFFIXES as DOCUMENT_SUFFIXES, DocumentOptions, is_document
from ..errors import InputError
from ..failures import OnFailure
from .documents import is_path_line, line_path, read_documents
from .text import read_jsonl, read_text

__all__ = ["document_paths", "get_stream", "source_size"]

Loader = Callable[[Path | str, OnFailure | None], Iterator[dict]]
TEXT_LOADERS: dict[str, Loader] = {".jsonl": read_jsonl, ".txt": read_text}
SUPPORTED = sorted(TEXT_LOADERS) + sorted(DOCUMENT_SUFFIXES)


def get_stream(source: str | Path, *, recursive: bool = False, documents: DocumentOptions | None = None,
               on_failure: OnFailure | None = None, activity: Activity | None = None) -> Iterator[dict]:
    """Tasks from a file, a folder (its supported files, sorted) or ``-`` (JSONL on stdin).

    Documents are read with ``documents`` (default options). A bad line, an oversized task (see
    ``tasks.MAX_TASK_BYTES``) or a document or page that cannot be read goes to ``on_failure``
    as a TaskFailure and the stream goes on, or raises TaskError without it. Options and
    Tesseract are checked before the first task is read. ``activity`` says when reading waits on a page's OCR.
    """
    files = [source] if str(source) == "-" else _files(Path(source), recursive)
    options = documents or DocumentOptions()
    if any(is_document(f) for f in files):
        options.check()
    return _read(files, options, on_failure, activity)


def document_paths(source: str | Path, recursive: bool = False) -> Iterator[Path]:
    """The documents a source names: a document file, a folder's documents, or a JSONL of paths."""
    if str(source) == "-":
        return _jsonl_paths("-")
    path = Path(source)
    if path.is_dir():
        documents = [f for f in _files(path, recursive) if is_document(f)]
        if not documents:
            raise InputError("no images or PDFs in this folder", path)
        return iter(documents)
    _files(path, recursive)  # exists, and of a supported type
    if is_document(path):
        return iter([path])
    if path.suffix.lower() == ".jsonl":
        return _jsonl_paths(path)
    raise InputError("not an image, a PDF, a folder of them or a JSONL of their paths", path)


def source_size(source: str | Path, *, recursive: bool = False, password: str | None = None) -> int | None:
    """How many tasks a source holds, for a progress bar: lines of text files, pages of documents (read from their
    headers), the files ``get_stream`` would read; None for stdin or a source it would refuse (it says why)."""
    from ..documents.summary import count_pages

    if str(source) == "-":
        return None
    try:
        files = _files(Path(source), recursive)
    except InputError:
        return None
    total = 0
    for file in files:
        if is_document(file):
            total += count_pages([file], password)
            continue
        with open(file, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                if file.suffix.lower() == ".jsonl" and b'"path"' in line:  # perhaps a document's path: its pages
                    try:
                        task = json.loads(line)
                    except ValueError:
                        task = None
                    if is_path_line(task):
                        total += count_pages([line_path(task, file)], password)
                        continue
                total += 1
    return total


def _files(path: Path, recursive: bool) -> list[Path]:
    if path.is_dir():
        pattern = path.rglob("*") if recursive else path.iterdir()
        files = sorted(p for p in pattern if p.is_file() and p.suffix.lower() in SUPPORTED)
        if not files:
            raise InputError(f"no supported files in this folder (supported: {', '.join(SUPPORTED)})", path)
        return files
    if not path.exists():
        raise InputError("no such file or folder", path)
    if path.suffix.lower() not in SUPPORTED:
        raise InputError(f"unsupported file type '{path.suffix or '(none)'}' "
                         f"(supported: {', '.join(SUPPORTED)})", path)
    return [path]


def _read(files: list, options: DocumentOptions, on_failure: OnFailure | None,
          activity: Activity | None) -> Iterator[dict]:
    """Text files through their loaders; consecutive documents together, so OCR runs in parallel."""
    for is_doc, run in groupby(files, key=is_document):
        if is_doc:
            yield from read_documents(run, options, on_failure, activity)
        else:
            for file in run:
                loader = TEXT_LOADERS.get(Path(file).suffix.lower(), read_jsonl)
                yield from _expand_path_lines(loader(file, on_failure), file, options, on_failure, activity)


def _expand_path_lines(stream: Iterable[dict], jsonl: Path | str, options: DocumentOptions,
                       on_failure: OnFailure | None, activity: Activity | None) -> Iterator[dict]:
    """Pass tasks through; replace runs of ``{"path": ...}`` lines with the pages of those documents."""
    for is_path, run in groupby(stream, key=is_path_line):
        if is_path:
            yield from read_documents((line_path(t, jsonl) for t in run), options, on_failure, activity)
        else:
            yield from run


def _jsonl_paths(jsonl: Path | str) -> Iterator[Path]:
    for task in read_jsonl(jsonl):
        if not is_path_line(task):
            raise InputError("expected a JSONL of document paths, like {\"path\": \"scan.pdf\"}", jsonl)
        yield line_path(task, jsonl)
