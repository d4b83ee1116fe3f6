"""Benchmark of OCR on a Dask cluster (issue 15 point 4): pages/s against the local pool, a killed worker, cost.

    .venv/bin/python bench/bench_cluster.py               # 40 SROIE receipts, two rounds (about 10 minutes on 2 cores)
    .venv/bin/python bench/bench_cluster.py --pages 20 --rounds 1

The same receipts (SROIE images read from common.data_dir(), never copied) are OCR'd by the
local pool of 2 processes and by a 2-worker LocalCluster (processes, one thread each) started here, in
alternating rounds, each into a fresh page cache. Then one cluster run has a busy worker killed after
its fifth page: every page must come back once. Per-page CPU time (this process and Tesseract) is
measured on a few pages run one at a time, for the on-paper estimate of 1,000,000 pages on N workers.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from common import own_cpu, sroie_image, sroie_keys

PRICE_PER_CORE_HOUR = 0.04  # USD, an assumed on-demand price of one vCPU-hour (c-class cloud instance)


def receipts(n: int) -> list[Path]:
    """The first n SROIE receipt images, sorted by name."""
    return [sroie_image(k) for k in sroie_keys(n)]


def run(paths, options, cache: Path, on_result=None) -> tuple[float, list]:
    """Wall time and results of OCR'ing paths with options into cache."""
    from vnerteach.documents import iter_documents

    started = time.perf_counter()
    results = []
    for result in iter_documents(paths, replace(options, cache_dir=str(cache))):
        results.append(result)
        if on_result is not None:
            on_result(len(results))
    return time.perf_counter() - started, results


def cpu_per_page(paths) -> float:
    """CPU seconds per page (this process plus Tesseract's), pages OCR'd one at a time without the cache."""
    from vnerteach.documents import DocumentOptions
    from vnerteach.documents.cache import PageCache
    from vnerteach.documents.ocr import limit_threads
    from vnerteach.documents.jobs import run_ocr_job
    from vnerteach.documents.pages import _plan

    limit_threads()
    options = DocumentOptions(cache=False, cache_dir=tempfile.mkdtemp())
    engine = options.check()
    jobs = list(_plan(paths, options, PageCache(tempfile.mkdtemp()), engine))
    before = own_cpu()
    for job in jobs:
        run_ocr_job(job)
    return (own_cpu() - before) / len(jobs)


def client_cpu_per_page(paths) -> float:
    """CPU seconds per page this process spends to plan an OCR job (type, SHA-256, cache look-up) and read its bytes."""
    from vnerteach.documents import DocumentOptions
    from vnerteach.documents.cache import PageCache
    from vnerteach.documents.pages import _plan

    options = DocumentOptions(cache_dir=tempfile.mkdtemp())
    engine = options.check()
    started = time.process_time()
    jobs = list(_plan(paths, options, PageCache(tempfile.mkdtemp()), engine))
    sent = sum(len(Path(job.source.path).read_bytes()) for job in jobs)
    assert sent > 0
    return (time.process_time() - started) / len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="SROIE receipts to OCR per run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating local/cluster rounds")
    parser.add_argument("--cpu-pages", type=int, default=8, help="pages for the per-page CPU time")
    args = parser.parse_args()

    import distributed

    from vnerteach.documents import DocumentOptions, PageFailure

    paths = receipts(args.pages)
    print(f"{len(paths)} SROIE receipts, {sum(p.stat().st_size for p in paths) / len(paths) / 1024:.0f} KB each "
          f"on average; load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    started = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                  worker_dashboard_address=":0", silence_logs=40) as cluster:
        print(f"LocalCluster of 2 worker processes started in {time.perf_counter() - started:.1f} s (not timed below)")
        remote = DocumentOptions(scheduler=cluster.scheduler_address)
        local = DocumentOptions(workers=2)
        times: dict[str, list[float]] = {"local pool": [], "cluster": []}
        words: dict[str, list] = {}
        for n in range(args.rounds):
            for name, options in (("local pool", local), ("cluster", remote)):
                seconds, results = run(paths, options, tmp / f"{name}-{n}")
                times[name].append(seconds)
                words[name] = [[w.text for w in r.words] if not isinstance(r, PageFailure) else r.error
                               for r in results]
                print(f"round {n + 1} {name:10s}: {len(results)} pages in {seconds:6.1f} s = "
                      f"{len(results) / seconds:.2f} pages/s (load {os.getloadavg()[0]:.1f})")
        same = words["local pool"] == words["cluster"]
        local_rate = len(paths) / statistics.median(times["local pool"])
        cluster_rate = len(paths) / statistics.median(times["cluster"])
        print(f"median: local pool {local_rate:.2f} pages/s, cluster {cluster_rate:.2f} pages/s, "
              f"ratio cluster/local {cluster_rate / local_rate:.2f}x; same words on every page: {same}")

        client = distributed.Client(cluster.scheduler_address, set_as_default=False)
        killed = []

        def kill_after_fifth(count: int) -> None:
            if count == 5 and not killed:
                busy = [addr for addr, keys in client.processing().items() if keys]
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append((busy[0], len(client.processing()[busy[0]])))

        seconds, results = run(paths, remote, tmp / "killed", kill_after_fifth)
        client.close()
        order = [(r.path, r.page) for r in results]
        failed = [r for r in results if isinstance(r, PageFailure)]
        print(f"worker killed after page 5 ({killed[0][0]}, {killed[0][1]} jobs on it): {len(results)} pages back "
              f"of {len(paths)} in {seconds:.1f} s, {len(order) - len(set(order))} duplicated, {len(failed)} failed, "
              f"in source order: {order == [(str(p), 1) for p in paths]}, same words as the local pool: "
              f"{[[w.text for w in r.words] for r in results] == words['local pool']}")

    per_page = cpu_per_page(paths[:args.cpu_pages])
    per_worker_hour = 3600 / per_page
    print(f"CPU per page (one at a time, this process + Tesseract, {args.cpu_pages} pages): {per_page:.2f} s "
          f"-> {per_worker_hour:.0f} pages/hour per single-threaded worker (one core)")
    client = client_cpu_per_page(paths)
    print(f"client CPU per page (plan the job, read the file's bytes; not the OCR): {client * 1000:.1f} ms "
          f"-> one client feeds at most {3600 / client:,.0f} pages/hour")
    efficiency = min(1.0, cluster_rate / local_rate)
    core_hours = 1_000_000 / per_worker_hour / efficiency
    for workers in (8, 32, 128):
        hours = core_hours / workers
        print(f"1,000,000 pages on {workers:3d} workers: {workers * per_worker_hour * efficiency:,.0f} pages/hour, "
              f"{hours:.1f} h, {core_hours:,.0f} core-hours = ${core_hours * PRICE_PER_CORE_HOUR:,.0f} "
              f"at ${PRICE_PER_CORE_HOUR}/core-hour (assumed)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
