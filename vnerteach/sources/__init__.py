"""Lazy loaders that turn a source (file, folder or stdin) into a stream of task dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from ..errors import InputError
from .text import read_jsonl, read_text

Loader = Callable[[Path | str], Iterator[dict]]

LOADERS: dict[str, Loader] = {".jsonl": read_jsonl, ".txt": read_text}


def get_stream(source: str | Path, recursive: bool = False) -> Iterator[dict]:
    """Tasks from a file, a folder (its supported files, sorted) or ``-`` (JSONL on stdin)."""
    if str(source) == "-":
        return read_jsonl("-")
    path = Path(source)
    if path.is_dir():
        return _read_folder(path, recursive)
    if not path.exists():
        raise InputError("no such file or folder", path)
    return loader_for(path)(path)


def loader_for(path: Path) -> Loader:
    """The loader for a file, chosen by its extension."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        raise InputError(f"unsupported file type '{path.suffix or '(none)'}' (supported: {known})", path)
    return loader


def _read_folder(folder: Path, recursive: bool) -> Iterator[dict]:
    files = sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir())
                   if p.is_file() and p.suffix.lower() in LOADERS)
    if not files:
        raise InputError(f"no supported files ({', '.join(sorted(LOADERS))}) in this folder", folder)
    for path in files:
        yield from LOADERS[path.suffix.lower()](path)
