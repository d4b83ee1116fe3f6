"""An annotator's turn: a page the detection got wrong, read again turned a further 90 degrees, as the same question.

The turned page is an image of its own in the cache (its key names the annotator's turn, so the
detected page stays cached beside it), read by the run's engine and language.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, PageImageNotFound
from .cache import PageCache, check_key
from .jobs import OcrJob, ocr_page, run_ocr_job
from .page_images import _source
from .results import PageFailure, PageResult

if TYPE_CHECKING:
    from .options import DocumentOptions

PAGE_FIELDS = ("text", "tokens", "width", "height", "image")
STALE = ("spans", "added_tokens")  # marked on the page as it was: they do not fit the turned one
STALE_META = ("retried", "poor_ocr", "rotation", "rotation_source")


def read_turned(key: str, rotation: int, options: DocumentOptions) -> PageResult:
    """The page of the page image ``key`` read turned clockwise by ``rotation`` degrees (0-270), from its file."""
    from .detect import file_sha256
    from .upright import check_rotation

    rotation = check_rotation(rotation)
    cache = PageCache(options.cache_root())
    manifest = cache.read_manifest(check_key(key))
    if manifest is None:
        raise PageImageNotFound(f"no page image with key {key} in the cache ({cache.root})")
    src = _source(manifest, options.password, rotate=rotation)
    page = src.page
    if not Path(src.path).exists():
        raise InputError("the page's file is gone; cannot read it again", src.path, page=page)
    if file_sha256(Path(src.path)) != src.sha256:
        raise InputError("the file has changed since its pages were read; read it again", src.path, page=page)
    options = replace(options, cache=True, ocr="always" if options.ocr == "never" else options.ocr)
    engine = options.check() or ""
    item = ocr_page(src.path, src, options, cache, engine)
    result = run_ocr_job(item) if isinstance(item, OcrJob) else item
    if isinstance(result, PageFailure):
        raise InputError(result.error, src.path, page=page)
    return result


def turn_task(task: dict, options: DocumentOptions) -> dict:
    """The page task read again turned a further 90 degrees clockwise: the same question (hashes, meta) with the turned
    page's text, tokens, size and image, and no spans. InputError for a task that is not a page of a document."""
    from .task import page_task

    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    key = meta.get("image_key")
    if not isinstance(key, str) or not isinstance(meta.get("page"), int):
        raise InputError("only a page of a document can be turned (this task has no page image)")
    current = meta.get("rotation", 0)
    current = current if type(current) is int and current in (0, 90, 180, 270) else 0
    page = page_task(read_turned(key, (current + 90) % 360, options))
    turned = {k: v for k, v in task.items() if k not in STALE and k not in PAGE_FIELDS}
    turned.update({k: page[k] for k in PAGE_FIELDS})
    turned["spans"] = []
    kept = {k: v for k, v in meta.items() if k not in STALE_META}
    turned["meta"] = {**kept, **page["meta"], "path": meta.get("path", page["meta"]["path"])}
    return turned
