"""One page's OCR as a job: what a worker process (or a Dask worker) needs to make the page image, read its words
and cache them. The pool (pages.py), the cluster (cluster.py) and a page read again turned (turning.py) share it."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DependencyError, InputError
from .cache import PageCache, image_key, ocr_key
from .page_images import Made, Source, make_png, make_upright_png
from .results import PageFailure, PageResult

if TYPE_CHECKING:
    from .options import DocumentOptions

RETRY_STEPS = ("grayscale", "upscale", "adaptive")
"""The stronger preprocessing a page is OCR'd with once more when OCR read no word from it."""


@dataclass(frozen=True)
class OcrJob:
    """One page for a worker to make an image of and OCR, with the settings and cache it needs."""

    path: str
    source: Source
    image_key: str
    ocr_key: str
    options: DocumentOptions
    cache_dir: str


def ocr_page(path: str, src: Source, options: DocumentOptions, cache: PageCache,
              engine: str) -> PageResult | OcrJob:
    """A page's OCR from the cache if it is there, else a job for the pool (keyed by the engine and its version)."""
    ikey = image_key(src.sha256, src.page, src.dpi, src.preprocess, src.rotate)
    okey = ocr_key(ikey, options.lang, engine)
    if options.cache:
        entry = cache.read_ocr(okey)
        if entry is not None:
            return page_result(path, src, ikey, entry, options.ocr_engine, cached=True)
    return OcrJob(path, src, ikey, okey, options, str(cache.root))


def page_result(path: str, src: Source, ikey: str, entry: dict, engine: str, cached: bool = False) -> PageResult:
    """A PageResult of an OCR'd page from its (cached or fresh) entry; a retried page names the retry's image."""
    retried = entry.get("retried")
    steps = tuple(retried) if retried and entry["words"] else src.preprocess
    return PageResult(path, src.page, src.pages, entry["width"], entry["height"], entry["image_dpi"], True,
                      src.sha256, entry.get("image_key", ikey), src.kind, steps, entry["skew"], entry["scale"],
                      cached, entry["words"], retried=bool(retried), rotation=entry.get("rotation", 0),
                      rotation_source=entry.get("rotation_source"), engine=engine)


def run_ocr_job(job: OcrJob) -> PageResult | PageFailure:
    """In a worker: make the page image (or reuse the cached one), OCR it, cache the words.

    A page OCR reads no word from (a faint print) is tried once more with RETRY_STEPS; the entry
    then records the retry, and the retry's image when it found words.
    """
    src, options, path = job.source, job.options, job.path
    try:
        made, words = _attempt(job, src, job.image_key)
        entry = {"width": made.width, "height": made.height, "image_dpi": made.image_dpi, "skew": made.skew,
                 "scale": made.scale, "words": words, "rotation": made.rotation,
                 "rotation_source": made.rotation_source}
        if not words and src.preprocess != RETRY_STEPS:
            retry = replace(src, preprocess=RETRY_STEPS)
            retry_key = image_key(src.sha256, src.page, src.dpi, RETRY_STEPS, src.rotate)
            made, words = _attempt(job, retry, retry_key)
            entry["retried"] = list(RETRY_STEPS)
            if words:
                entry.update(width=made.width, height=made.height, image_dpi=made.image_dpi, skew=made.skew,
                             scale=made.scale, words=words, image_key=retry_key, rotation=made.rotation,
                             rotation_source=made.rotation_source)
        if options.cache:
            PageCache(job.cache_dir).write_ocr(job.ocr_key, entry)
        return page_result(path, src, job.image_key, entry, options.ocr_engine)
    except DependencyError:
        raise
    except InputError as e:
        return PageFailure(path, e.page or src.page, e.reason)
    except MemoryError:
        return PageFailure(path, src.page, "out of memory making the page image")
    except Exception as e:  # one bad page must not end the run: record it and go on
        return PageFailure(path, src.page, f"{type(e).__name__}: {e}")


def _attempt(job: OcrJob, src: Source, key: str) -> tuple[Made, list]:
    """One OCR attempt: the page image of src (cached under key, or a temporary file) and its words.

    A page to turn upright (rotate "auto") whose image is not made yet is read as it is and turned
    as its reading says (page_images.make_upright_png); the image made is the upright one.
    """
    def read(image: str) -> list:
        return read_words(image, job.options, job.path, src.page)

    if job.options.cache:
        cache = PageCache(job.cache_dir)
        png = cache.image_path(key)
        manifest = cache.read_manifest(key) if cache.cached_image(key) else None
        if manifest is not None and "width" in manifest:
            return Made.of(manifest), read(str(png))
        if src.rotate == "auto":
            made, words = make_upright_png(src, png, read)
        else:
            made = make_png(src, png)
            words = read(str(png))
        cache.write_manifest(key, src.manifest(**made.__dict__))
        return made, words
    if src.rotate == "auto":
        return make_upright_png(src, None, read)
    fd, tmp = tempfile.mkstemp(prefix="vnerteach-page-", suffix=".png")
    os.close(fd)
    try:
        made = make_png(src, Path(tmp))
        return made, read(tmp)
    finally:
        _unlink(tmp)


def read_words(image: str, options: DocumentOptions, path: str, page: int) -> list:
    """The words of a page image read by the engine the options name."""
    if options.ocr_engine == "rapidocr":
        from .rapid import rapid_words

        return rapid_words(image, path, page)
    if options.ocr_engine == "ppocrv5":
        from .ppocr import ppocr_words

        return ppocr_words(image, path, page)
    from .ocr import ocr_words

    return ocr_words(image, options.lang, path, page)


def _unlink(path: str) -> None:
    """Remove a file if it is there."""
    try:
        os.unlink(path)
    except OSError:
        pass
