"""Documents to pages: the text layer where there is one, OCR in worker processes where not, cached."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..activity import Activity
from ..errors import InputError, VnerteachError
from .cache import PageCache, image_key
from .detect import file_kind, file_sha256
from .jobs import OcrJob, ocr_page, run_ocr_job
from .options import DocumentOptions
from .page_images import Source
from .results import PageFailure, PageResult

if TYPE_CHECKING:
    from .cluster import ClusterExecutor


def iter_pages(path: str | Path, options: DocumentOptions) -> Iterator[PageResult]:
    """The pages of one document, lazily and in order; InputError at the first page that fails."""
    return _raise_failures(iter_documents([path], options))


def _raise_failures(results: Iterator[PageResult | PageFailure]) -> Iterator[PageResult]:
    """Pass pages through; turn the first failure into an InputError."""
    with closing(results):
        for result in results:
            if isinstance(result, PageFailure):
                raise InputError(result.error, result.path, page=result.page)
            yield result


def iter_documents(paths: Iterable[str | Path], options: DocumentOptions, *, window: int | None = None,
                   activity: Activity | None = None) -> Iterator[PageResult | PageFailure]:
    """Pages of many documents in input order, each a PageResult or a PageFailure (path, page, error).

    Options are checked, and the OCR engine looked for (unless ocr="never"), before anything is read; pages are
    cached in `options.cache_dir` (UsageError when it is not set).
    Text-layer pages and cached pages are read in this process; OCR runs in `options.workers`
    processes (default: the number of cores), or on the Dask cluster of `options.scheduler` (connected
    to here), with at most `window` pages in flight. While the reader waits for a page's OCR, `activity` says which.
    """
    from .pool import default_workers

    engine = options.check()
    cache = PageCache(options.cache_root())
    if options.scheduler is not None:  # connect now, so an unreachable scheduler fails before any work
        from .cluster import ClusterExecutor

        return _stream_cluster(paths, options, cache, engine or "", window, ClusterExecutor(options.scheduler),
                               activity)
    workers = default_workers() if options.workers is None else options.workers
    return _stream(paths, options, cache, engine or "", workers, window or max(4, 3 * workers), activity)


def _stream(paths, options: DocumentOptions, cache: PageCache, engine: str, workers: int,
            window: int, activity: Activity | None) -> Iterator[PageResult | PageFailure]:
    """Plan pages in this process, OCR the ones that need it in the pool, yield in order."""
    from .pool import ordered

    yield from ordered(_plan(paths, options, cache, engine), lambda item: isinstance(item, OcrJob),
                       run_ocr_job, _job_failed, workers, window, _describe, activity=activity)


def _stream_cluster(paths, options: DocumentOptions, cache: PageCache, engine: str, window: int | None,
                    executor: ClusterExecutor, activity: Activity | None) -> Iterator[PageResult | PageFailure]:
    """As _stream, with the OCR jobs run by a ClusterExecutor (Dask) and their results cached here."""
    from .cluster import RemotePage, gone_errors, lost_errors, run_remote, settle
    from .pool import ordered

    workers = executor.threads if options.workers is None else options.workers
    window = window or max(4, 3 * workers)
    try:
        for item in ordered(_plan(paths, options, cache, engine), lambda item: isinstance(item, OcrJob),
                            run_remote, _job_failed, workers, window, _describe, start=lambda: executor,
                            lost=lost_errors(), activity=activity):
            yield settle(item, cache) if isinstance(item, RemotePage) else item
    except gone_errors():  # the client cannot reconnect: Dask cancels every future, or a call finds the comm closed
        raise VnerteachError(f"--scheduler {executor.address}: lost the connection to the Dask scheduler; the "
                             "pages done so far are cached, run again to go on") from None
    finally:
        executor.shutdown()


def _describe(job: OcrJob) -> str:
    """What a reader waiting for this job is waiting on."""
    return f"OCR is running on {Path(job.path).name} page {job.source.page}"


def _job_failed(job: OcrJob, message: str) -> PageFailure:
    """The failure record of a job whose worker died."""
    return PageFailure(job.path, job.source.page, message)


def _plan(paths: Iterable[str | Path], options: DocumentOptions, cache: PageCache,
          engine: str) -> Iterator[PageResult | PageFailure | OcrJob]:
    """Each page as a finished result (text layer, cache, failure) or an OcrJob for the pool."""
    for path in paths:
        path = Path(path)
        try:
            kind = file_kind(path)
            sha = file_sha256(path)
            source_path = str(path.resolve())
            if kind == "pdf":
                yield from _plan_pdf(path, source_path, sha, options, cache, engine)
            else:
                yield from _plan_image(path, source_path, kind, sha, options, cache, engine)
        except InputError as e:
            yield PageFailure(str(path), e.page, e.reason)
        except VnerteachError:
            raise
        except OSError as e:
            yield PageFailure(str(path), None, f"cannot read the file: {e}")
        except Exception as e:  # a damaged file must not end the run: record it and go on
            yield PageFailure(str(path), None, f"{type(e).__name__}: {e}")


def _plan_pdf(path: Path, source_path: str, sha: str, options: DocumentOptions, cache: PageCache,
              engine: str) -> Iterator[PageResult | PageFailure | OcrJob]:
    """The pages of a PDF: words from the text layer, or OCR for pages with (nearly) none."""
    from .pdf import mupdf_messages, open_pdf, pixel_size, text_words
    from .raster import check_pixels

    doc = open_pdf(path, options.password)
    try:
        pages = doc.page_count
        for index in range(pages):
            try:
                page = doc.load_page(index)
                width, height = pixel_size(page, options.dpi)
                check_pixels(width, height, path, index + 1)
                words = [] if options.ocr == "always" else text_words(page, options.dpi)
                src = Source(source_path, "pdf", index, pages, sha, options.dpi, (), options.password)
                if options.ocr == "never" or (options.ocr == "auto" and
                                              sum(len(w.text) for w in words) >= options.min_text):
                    key = image_key(sha, index + 1, options.dpi, ())
                    if options.cache:
                        cache.write_manifest(key, src.manifest(width=width, height=height,
                                                               image_dpi=float(options.dpi), skew=0.0, scale=1.0))
                    yield PageResult(str(path), index + 1, pages, width, height, options.dpi, False, sha, key,
                                     "pdf", words=words)
                else:
                    yield ocr_page(str(path), Source(source_path, "pdf", index, pages, sha, options.dpi,
                                                      options.steps, options.password, _rotate(options)),
                                    options, cache, engine)
            except InputError as e:
                yield PageFailure(str(path), e.page or index + 1, e.reason)
            except VnerteachError:
                raise
            except Exception as e:  # pymupdf's errors on a damaged page
                said = mupdf_messages()
                yield PageFailure(str(path), index + 1, f"cannot read the page: {e}" + (f" (MuPDF: {said})" if said else ""))
    finally:
        doc.close()


def _plan_image(path: Path, source_path: str, kind: str, sha: str, options: DocumentOptions,
                cache: PageCache, engine: str) -> Iterator[PageResult | PageFailure | OcrJob]:
    """The pages (frames) of an image file: each OCR'd unless ocr='never'."""
    from .raster import check_pixels, frame_count, image_dpi, open_image

    image = open_image(path)
    try:
        pages = frame_count(image)
        for index in range(pages):
            try:
                if options.ocr != "never":
                    src = Source(source_path, kind, index, pages, sha, None, options.steps, None, _rotate(options))
                    yield ocr_page(str(path), src, options, cache, engine)
                    continue
                if index:
                    image.seek(index)
                check_pixels(image.width, image.height, path, index + 1)
                src = Source(source_path, kind, index, pages, sha, None, (), None)
                key = image_key(sha, index + 1, None, ())
                dpi = image_dpi(image)
                if options.cache:
                    cache.write_manifest(key, src.manifest(width=image.width, height=image.height, image_dpi=dpi,
                                                           skew=0.0, scale=1.0))
                yield PageResult(str(path), index + 1, pages, image.width, image.height, dpi, False, sha, key,
                                 kind)
            except InputError as e:
                yield PageFailure(str(path), e.page or index + 1, e.reason)
            except (OSError, EOFError, ValueError) as e:
                yield PageFailure(str(path), index + 1, f"cannot read the image: {e}")
    finally:
        image.close()


def _rotate(options: DocumentOptions) -> str | None:
    """How a page to OCR is turned: upright as detected ("auto"), or left as it is (None)."""
    return "auto" if options.turn else None


