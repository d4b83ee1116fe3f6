"""What the tests share besides fixtures: the repository root, fixtures' helper modules (web, browser, postgres,
documents, receipts, teach, train, needs) and small file writers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vnerteach.documents import DocumentOptions

ROOT = Path(__file__).resolve().parent.parent.parent


def home_cache() -> Path:
    """The page cache folder of the test's own $VNERTEACH_HOME, where the command line would put it."""
    return Path(os.environ["VNERTEACH_HOME"]) / "cache"


def doc_options(**fields) -> DocumentOptions:
    """DocumentOptions for a library call, with the page cache in the test's own $VNERTEACH_HOME unless given."""
    fields.setdefault("cache_dir", str(home_cache()))
    return DocumentOptions(**fields)


def write_jsonl(path: Path, tasks: list[dict]) -> Path:
    """Write tasks as JSONL and return the path."""
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf8")
    return path
