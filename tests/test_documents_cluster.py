"""OCR on a Dask cluster (--scheduler): a LocalCluster of worker processes started here, one worker killed."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import doc_options
from helpers.documents import image_only_pdf, scanned_page, text_image
from PIL import Image

from vnerteach.documents import PageCache, PageFailure, iter_documents, page_image
from vnerteach.errors import VnerteachError

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes (with nannies, which restart a killed worker)."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  worker_dashboard_address=None) as local:
        yield local


def small_scans(folder, count: int) -> list:
    """count one-line scans with different words, as PNG files."""
    folder.mkdir(exist_ok=True)
    words = "alpha station library winter harbour museum river garden office market budget review".split()
    paths = []
    for n in range(count):
        path = folder / f"scan{n:02d}.png"
        text_image([" ".join(words[(n + k) % len(words)] for k in range(3)) + f" {n}"], size=(700, 120)).save(path)
        paths.append(path)
    return paths


def pages_of(results) -> list:
    """What must agree between two runs: file, page, size, retry and the words with their boxes."""
    return [(r.path, r.page, getattr(r, "width", None), getattr(r, "retried", None),
             [(w.text, w.bbox) for w in getattr(r, "words", [])] if not isinstance(r, PageFailure) else r.error)
            for r in results]


def test_cluster_ocr_matches_the_local_pool_in_order_and_fills_the_cache(cluster, tmp_path):
    scan, _ = scanned_page(dpi=150, angle=2.0, lines=6)
    scan.save(tmp_path / "a_skewed.png")
    image_only_pdf(tmp_path / "b_two.pdf", [text_image(["river garden 2024"]), text_image(["office market 808"])],
                   dpi=150)
    buf = io.BytesIO()
    text_image(["truncated scan"]).save(buf, format="JPEG")
    (tmp_path / "c_cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    Image.new("L", (40_000, 20), 255).save(tmp_path / "d_wide.png")  # Tesseract refuses it
    paths = [tmp_path / "a_skewed.png", tmp_path / "b_two.pdf", tmp_path / "c_cut.jpg", tmp_path / "d_wide.png",
             *small_scans(tmp_path / "more", 3)]
    options = dict(preprocess="grayscale,deskew", dpi=150, ocr_engine="tesseract")  # the engine that refuses d_wide
    remote_cache, local_cache = tmp_path / "remote-cache", tmp_path / "local-cache"

    remote = list(iter_documents(paths, doc_options(scheduler=cluster.scheduler_address, **options,
                                             cache_dir=remote_cache), window=3))
    local = list(iter_documents(paths, doc_options(workers=2, cache_dir=local_cache, **options)))

    assert pages_of(remote) == pages_of(local)
    assert [(r.path.rsplit("/", 1)[1], r.page) for r in remote][:4] == [
        ("a_skewed.png", 1), ("b_two.pdf", 1), ("b_two.pdf", 2), ("c_cut.jpg", 1)]
    failed = {r.path.rsplit("/", 1)[1]: r for r in remote if isinstance(r, PageFailure)}
    assert set(failed) == {"c_cut.jpg", "d_wide.png"} and failed["d_wide.png"].page == 1
    assert "truncated" in failed["c_cut.jpg"].error and failed["d_wide.png"].error.startswith("Tesseract failed")
    assert abs(remote[0].skew - 2.0) <= 0.5 and [w.text for w in remote[1].words] == ["river", "garden", "2024"]

    # The cache this process wrote serves a second run without any cluster, and page images are re-made from it.
    again = list(iter_documents(paths, doc_options(cache_dir=remote_cache, **options)))
    assert pages_of(again) == pages_of(remote)
    assert all(r.cached for r in again if not isinstance(r, PageFailure))
    manifest = PageCache(remote_cache).read_manifest(remote[0].image_key)
    assert manifest["path"] == str((tmp_path / "a_skewed.png").resolve())
    shown = page_image(remote[0].image_key, cache_dir=remote_cache)
    with Image.open(shown) as image, Image.open(page_image(local[0].image_key, cache_dir=local_cache)) as same:
        assert image.size == same.size and image.tobytes() == same.tobytes()


def test_a_worker_killed_mid_run_loses_and_repeats_no_page(cluster, tmp_path):
    paths = small_scans(tmp_path / "scans", 10)
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        results, killed = [], None
        stream = iter_documents(paths, doc_options(scheduler=cluster.scheduler_address, cache_dir=tmp_path / "c"))
        for result in stream:
            results.append(result)
            if killed is None:  # after the first page: kill a worker that is busy with a later one
                busy = [addr for addr, keys in client.processing().items() if keys]
                assert busy, "no page in flight to lose"
                pids = client.run(os.getpid, workers=busy[:1])
                killed = pids[busy[0]]
                os.kill(killed, signal.SIGKILL)
        assert [(r.path, r.page) for r in results] == [(str(p), 1) for p in paths]
        assert not [r for r in results if isinstance(r, PageFailure)]
        assert all(r.words[-1].text == str(n) for n, r in enumerate(results))
        deadline = time.monotonic() + 60
        while killed in client.run(os.getpid).values() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert killed not in client.run(os.getpid).values()
    finally:
        client.close()


def test_losing_the_scheduler_mid_run_is_one_error_naming_the_flag(tmp_path):
    paths = small_scans(tmp_path / "scans", 6)
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  worker_dashboard_address=None) as short_lived:
        address = short_lived.scheduler_address
        stream = iter_documents(paths, doc_options(scheduler=address, cache_dir=tmp_path / "c"))
        first = next(stream)
        short_lived.close()
        with pytest.raises(VnerteachError, match=f"--scheduler {address}: lost the connection to the Dask scheduler"):
            list(stream)
    assert first.words and PageCache(tmp_path / "c").read_ocr(_ocr_key(first)) is not None


def _ocr_key(result) -> str:
    """The cache key of a page's OCR by the default engine, as pages.py makes it."""
    from vnerteach.documents.cache import ocr_key

    options = doc_options()
    return ocr_key(result.image_key, options.lang, options.check())


def test_a_worker_without_tesseract_is_named(tmp_path, monkeypatch):
    import socket

    from vnerteach.documents.cache import image_key, ocr_key
    from vnerteach.documents.cluster import run_remote
    from vnerteach.documents.page_images import Source
    from vnerteach.documents.jobs import OcrJob
    from vnerteach.errors import DependencyError

    path = small_scans(tmp_path / "scans", 1)[0]
    key = image_key("0" * 64, 1, None, ())
    job = OcrJob(str(path), Source(str(path), "png", 0, 1, "0" * 64, None), key, ocr_key(key, "eng", "t"),
                 doc_options(ocr_engine="tesseract"), str(tmp_path / "unused"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # as on a worker without Tesseract
    with pytest.raises(DependencyError, match=f"on the Dask worker {socket.gethostname()}: Tesseract OCR is not"):
        run_remote(job, path.read_bytes())


def test_unreachable_scheduler_is_one_line_naming_the_flag(cli, tmp_path):
    small_scans(tmp_path / "scans", 1)
    started = time.monotonic()
    result = cli("ocr", tmp_path / "scans", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2 and time.monotonic() - started < 30
    assert "--scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_distributed_names_the_extra(tmp_path):
    small_scans(tmp_path / "scans", 1)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker), "VNERTEACH_HOME": str(tmp_path / "h")}
    result = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", str(tmp_path / "scans"), "--scheduler",
                             "tcp://127.0.0.1:8786"], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pip install 'vnerteach[cluster]'" in result.stderr and "--scheduler" in result.stderr


def _ocr_process(scans, scheduler: str, home) -> subprocess.Popen:
    """`vnerteach ocr` as a user runs it, in its own process (so what the Dask client prints at exit shows)."""
    return subprocess.Popen([sys.executable, "-m", "vnerteach", "ocr", str(scans), "--scheduler", scheduler],
                            env={**os.environ, "VNERTEACH_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _said(stderr: str) -> list[str]:
    """The lines the user reads on stderr (progress bars aside)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("OCR ")]


@pytest.mark.parametrize("kind", ["silent listener", "unknown scheme"])
def test_a_scheduler_address_that_is_not_dask_is_one_line_and_no_hang(tmp_path, home, kind):
    """Issue 23 point 6: a listener that is not Dask hung `ocr` with no output; garbage://x printed its line, then
    a traceback from the client's close."""
    import socket

    small_scans(tmp_path / "scans", 1)
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never speaks
    address = f"tcp://127.0.0.1:{listener.getsockname()[1]}" if kind == "silent listener" else "garbage://x"
    try:
        started = time.monotonic()
        proc = _ocr_process(tmp_path / "scans", address, home)
        _out, err = proc.communicate(timeout=60)
    finally:
        listener.close()
    assert proc.returncode == 2 and time.monotonic() - started < 30
    assert _said(err) == [_said(err)[0]] and f"--scheduler {address}: cannot reach the Dask scheduler" in err, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_a_scheduler_killed_mid_run_is_one_line_in_the_process(tmp_path, home):
    """Issue 23 point 6: the right line, then the Dask client's reconnect traceback."""
    from helpers.web import free_port

    small_scans(tmp_path / "scans", 60)
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = [sys.executable, "-m", "distributed.cli"]
    scheduler = subprocess.Popen([*dask[:2], "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--dashboard-address", ":0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([*dask[:2], "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--dashboard-address", ":0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc = _ocr_process(tmp_path / "scans", address, home)
        first = proc.stdout.readline()  # a page is done: the cluster works
        assert first.startswith("{"), proc.stderr.read()
        scheduler.kill()
        _out, err = proc.communicate(timeout=120)
    finally:
        for p in (scheduler, worker, proc):
            p.kill()
            p.wait()
    assert proc.returncode == 1
    assert _said(err) == [f"✘ --scheduler {address}: lost the connection to the Dask scheduler; the pages done so "
                          "far are cached, run again to go on"], err
