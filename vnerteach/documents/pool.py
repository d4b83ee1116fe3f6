"""Worker processes for OCR: a bounded window of work, results yielded in input order as they finish."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

from ..activity import Activity
from .ocr import limit_threads

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def make_executor(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers run Tesseract single-threaded (OMP_THREAD_LIMIT=1 in their environment)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=limit_threads)


def ordered(items: Iterable[R | J], is_job: Callable[[object], bool], run: Callable[[J], R],
            failed: Callable[[J, str], R], workers: int, window: int,
            describe: Callable[[J], str] | None = None, *, start: Callable[[], Executor] | None = None,
            lost: tuple[type[BaseException], ...] = (), activity: Activity | None = None) -> Iterator[R]:
    """Results of items in input order: jobs run in the pool (started at the first job), others pass through.

    ``start`` makes the executor (default: a local pool of ``workers`` processes; cluster.py's runs on
    Dask); a job whose future raises one of ``lost`` (its worker died for good) becomes a failure.
    While it waits for an unfinished job, ``activity`` notes ``describe(job)`` (for the app's status line).
    """
    # At most `window` items wait, so memory stays flat however long the input; a finished head is
    # yielded at once, so the caller can show progress. A job whose worker dies becomes failed(job, message).
    start = start or (lambda: make_executor(workers))
    executor: Executor | None = None
    pending: deque = deque()

    def resolve(entry) -> R:
        """The result of a finished item (waiting for a job if needed)."""
        nonlocal executor
        if not isinstance(entry, tuple):
            return entry
        job, future = entry
        try:
            if describe is None or activity is None or future.done():
                return future.result()
            with activity.waiting_on(describe(job)):
                return future.result()
        except BrokenProcessPool:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            executor = None
            return failed(job, "the OCR worker process died (out of memory or killed)")
        except lost:
            return failed(job, "the OCR worker died on this page too often (out of memory or killed)")

    try:
        for item in items:
            if is_job(item):
                if executor is None:
                    executor = start()
                pending.append((item, _submit(executor, run, item)))
            else:
                pending.append(item)
            while pending and (len(pending) >= window or _ready(pending[0])):
                yield resolve(pending.popleft())
        while pending:
            yield resolve(pending.popleft())
    finally:
        if executor is not None:
            for entry in pending:
                if isinstance(entry, tuple):
                    entry[1].cancel()
            executor.shutdown(wait=True, cancel_futures=True)


def _submit(executor: Executor, run: Callable, job) -> Future:
    """Submit a job; a pool broken by an earlier death is replaced by the caller on the next resolve."""
    try:
        return executor.submit(run, job)
    except BrokenProcessPool as e:
        future: Future = Future()
        future.set_exception(e)
        return future


def _ready(entry) -> bool:
    """True if the entry is a passed-through item or a finished job."""
    return not isinstance(entry, tuple) or entry[1].done()
