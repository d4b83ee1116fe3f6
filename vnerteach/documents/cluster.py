"""OCR on a Dask cluster (--scheduler): page jobs sent with their file's bytes, cache entries written back here."""

from __future__ import annotations

import logging
import socket
import tempfile
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import DependencyError, UsageError
from .cache import PageCache, image_key
from .jobs import RETRY_STEPS, run_ocr_job
from .ocr import limit_threads
from .results import PageFailure, PageResult

INSTALL_HINT = "install it with `pip install 'vnerteach[cluster]'`"
CONNECT_TIMEOUT = 5
CLOSE_TIMEOUT = 2


def require_distributed() -> None:
    """Fail before any work when Dask distributed (the extra vnerteach[cluster]) is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise DependencyError(f"--scheduler needs Dask distributed, which is not installed: {INSTALL_HINT}") from None


@dataclass(frozen=True)
class RemotePage:
    """A page OCR'd on a worker: its result and the cache files for this process to write."""

    result: PageResult | PageFailure
    entry: dict | None = None
    manifests: dict = field(default_factory=dict)
    ocr_key: str = ""


class ClusterExecutor(Executor):
    """Jobs submitted to a Dask scheduler; shutting down cancels what is left and closes the connection."""

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT):
        require_distributed()
        from distributed import Client

        self.address = address
        # vnerteach says in one line what went wrong with the scheduler; the client's own reconnect
        # attempts would log a traceback each (to stderr, after that line).
        for name in ("distributed", "distributed.batched", "distributed.client", "distributed.comm", "distributed.core"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            _probe(address, timeout)  # before a Client, whose failed start leaves a close that hangs at exit
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler {address}: cannot reach the Dask scheduler "
                             f"({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None

    @property
    def threads(self) -> int:
        """How many jobs the cluster runs at once (its workers' threads)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn, job, /):
        """A Dask future of fn(job, the bytes of the job's file): workers need no access to the file."""
        try:
            data = Path(job.source.path).read_bytes()
        except OSError as e:
            future: Future = Future()
            future.set_result(RemotePage(PageFailure(job.path, job.source.page, f"cannot read the file: {e}")))
            return future
        return self.client.submit(fn, job, data, pure=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the connection to the scheduler (the cluster keeps running); again does nothing.

        A scheduler that is gone cannot be told: the close gives up after CLOSE_TIMEOUT s, quietly."""
        if self.client.status not in ("closing", "closed"):
            try:
                self.client.close(timeout=CLOSE_TIMEOUT)
            except (OSError, TimeoutError):
                self.client.status = "closed"  # so that its __del__ does not try (and time out) again


def _probe(address: str, timeout: float) -> None:
    """OSError unless a Dask scheduler answers at ``address`` within ``timeout`` s (handshake included).

    distributed's own connect waits for the handshake of a listener that is not Dask (a web server,
    a database) for ever; here the whole exchange has one deadline.
    """
    import asyncio

    from distributed.comm import connect

    async def handshake() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(handshake(), timeout))
    except asyncio.TimeoutError:
        raise OSError(f"no Dask scheduler answered within {timeout:g} s: is something else listening there?") from None


def gone_errors() -> tuple[type[BaseException], ...]:
    """What the client raises once the scheduler is gone: its futures cancelled, or its connection closed."""
    from concurrent.futures import CancelledError

    from distributed.comm import CommClosedError

    return (CancelledError, CommClosedError)


def lost_errors() -> tuple[type[BaseException], ...]:
    """What a future raises when the scheduler gave its job up after its workers kept dying."""
    from distributed.scheduler import KilledWorker

    return (KilledWorker,)


def run_remote(job, data: bytes) -> RemotePage:
    """On a worker: OCR the page from a private copy of its file and cache, return the result and cache entries."""

    limit_threads()
    src = job.source
    with tempfile.TemporaryDirectory(prefix="vnerteach-remote-") as tmp:
        copy = Path(tmp) / ("source" + Path(src.path).suffix)
        copy.write_bytes(data)
        local = replace(job, source=replace(src, path=str(copy)), cache_dir=str(Path(tmp) / "cache"))
        try:
            result = run_ocr_job(local)
        except DependencyError as e:  # raised again in the client, which must say where Tesseract is missing
            raise DependencyError(f"on the Dask worker {socket.gethostname()}: {e}") from None
        if isinstance(result, PageFailure) or not job.options.cache:
            return RemotePage(result)
        cache = PageCache(local.cache_dir)
        manifests = {}
        for key in (job.image_key, image_key(src.sha256, src.page, src.dpi, RETRY_STEPS, src.rotate)):
            manifest = cache.read_manifest(key)
            if manifest is not None:
                manifests[key] = dict(manifest, path=src.path)  # the file's path where the job came from
        return RemotePage(result, cache.read_ocr(job.ocr_key), manifests, job.ocr_key)


def settle(remote: RemotePage, cache: PageCache) -> PageResult | PageFailure:
    """In this process: write a remote page's OCR and image manifests to the page cache, return its result."""
    for key, manifest in remote.manifests.items():
        cache.write_manifest(key, manifest)
    if remote.entry is not None:
        cache.write_ocr(remote.ocr_key, remote.entry)
    return remote.result
