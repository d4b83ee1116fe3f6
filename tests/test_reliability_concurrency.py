"""Issue 11, point 5: several processes on one database, driven over HTTP on loopback; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from vnerteach.store import connect
from vnerteach.store.backend import PG_WRITE_LOCK

from helpers import ROOT, write_jsonl
from helpers.web import ServedRecipe, annotate, free_port, http

pytestmark = [pytest.mark.both_backends, pytest.mark.reliability, pytest.mark.slow]


@contextmanager
def another_writer(db_url: str):
    """Another process's write transaction holding the database's write lock until the block ends
    (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the store's advisory lock); yields a function that ends it early."""
    if db_url.startswith("postgresql://"):
        import psycopg2

        conn = psycopg2.connect(db_url)
        conn.autocommit = True
        conn.cursor().execute("SELECT pg_advisory_lock(%s)", (PG_WRITE_LOCK,))
        yield conn.close  # the lock goes with the connection
        conn.close()
    else:
        conn = sqlite3.connect(db_url, timeout=10, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO dataset (name, created, meta, session) VALUES ('other', 0, '{}', 0)")
        yield lambda: conn.execute("COMMIT")
        conn.close()


def manual(dataset: str, src) -> list:
    return ["ner.manual", dataset, "blank:en", src, "--label", "ORG"]


def start(args: list, env: dict, port: int) -> subprocess.Popen:
    """A recipe process that may serve or be refused (ServedRecipe expects it to serve)."""
    return subprocess.Popen([sys.executable, "-m", "vnerteach", *map(str, args), "--port", str(port)], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def serving_or_exit(proc: subprocess.Popen, port: int, timeout: float = 60) -> int | None:
    """None once the recipe started with ``start`` answers on ``port``, or its exit code if it exits first
    (not a fixed wait: on a loaded machine start-up alone can take seconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return proc.returncode
        try:
            if http("GET", f"http://127.0.0.1:{port}/api/project", timeout=1)[0] == 200:
                return None
        except OSError:  # not listening yet
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the recipe neither served nor exited in {timeout} s")


def exit_count(err: str, dataset: str) -> int:
    return int(re.search(rf"dataset '{dataset}' now has (\d+) examples", " ".join(err.split())).group(1))


def test_two_servers_on_one_database_answer_every_request_and_store_each_answer_once(tmp_path, env, db_url):
    datasets = ("alpha", "beta")
    servers = {}
    for name in datasets:
        src = write_jsonl(tmp_path / f"{name}.jsonl", [{"text": f"{name} sentence {i} about Acme"} for i in range(700)])
        servers[name] = ServedRecipe(manual(name, src), env, free_port())
    acked = {name: [] for name in datasets}
    deadline = time.monotonic() + 150
    with ThreadPoolExecutor(4) as pool:  # 4 clients, 2 per server, 250 answers each
        futures = [pool.submit(annotate, servers[name].url, 250, deadline, acked[name]) for name in datasets * 2]
        statuses = sum((f.result() for f in futures), Counter())
    errs = {name: s.stop()[2] for name, s in servers.items()}
    assert set(statuses) == {200}, statuses
    assert sum(map(len, acked.values())) == 1000
    with connect(db_url) as store:
        for name in datasets:
            mine = acked[name]
            stored = [e["_task_hash"] for e in store.iter_examples(name)]
            assert sorted(stored) == sorted(set(mine)) and len(mine) == len(set(mine)) == 500
            [session] = {e["_session_id"] for e in store.iter_examples(name)}
            assert store.count(session) == 500
            assert exit_count(errs[name], name) == 500


def test_a_second_session_on_a_served_dataset_is_refused_until_the_first_stops(tmp_path, env):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(20)])
    first = ServedRecipe(manual("news", src), env, free_port())
    second = start(manual("news", src), env, free_port())
    try:
        code = second.wait(timeout=60)
    except subprocess.TimeoutExpired:
        second.kill()
        code = None
    _, err = second.communicate(timeout=30)
    try:
        assert code == 1, err
        assert f"http://127.0.0.1:{first.port}/" in err and "already" in err and "Traceback" not in err
    finally:
        first.stop()
    after_stop = ServedRecipe(manual("news", src), env, free_port())  # SIGTERM removed the first one's beat
    after_stop.stop(signal.SIGKILL)
    after_kill = ServedRecipe(manual("news", src), env, free_port())  # a killed process beats no more
    assert after_kill.stop()[0] == 0


def test_a_session_whose_heartbeat_stopped_no_longer_holds_its_dataset(tmp_path, env):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(20)])
    first = ServedRecipe(manual("news", src), env, free_port())
    first.proc.send_signal(signal.SIGSTOP)  # alive, but beating no more
    try:
        deadline = time.monotonic() + 60
        while True:
            port = free_port()
            proc = start(manual("news", src), env, port)
            code = serving_or_exit(proc, port)
            if code is None:  # serving: the stale beat did not hold it
                proc.terminate()
                proc.communicate(timeout=30)
                assert proc.returncode == 0
                break
            err = proc.communicate(timeout=30)[1]
            assert code == 1, err
            assert time.monotonic() < deadline, err  # refused while the beat is fresh
    finally:
        first.proc.send_signal(signal.SIGCONT)
        first.stop()


def test_two_sessions_started_at_once_on_a_new_dataset_one_serves_and_one_is_refused(tmp_path, env):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(20)])
    ports = [free_port(), free_port()]
    procs = [start(manual("fresh", src), env, port) for port in ports]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    try:
        refused = [i for i, p in enumerate(procs) if p.poll() is not None]
        assert len(refused) == 1, "both sessions serve the same dataset"
        [loser] = refused
        winner = 1 - loser
        err = procs[loser].communicate(timeout=30)[1]
        assert procs[loser].returncode == 1 and "Traceback" not in err, err
        assert f"http://127.0.0.1:{ports[winner]}/" in err
        assert http("GET", f"http://127.0.0.1:{ports[winner]}/api/project")[0] == 200
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.communicate(timeout=30)


CREATE = """
import sys, time
from vnerteach.store import connect
db, start_at, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
while time.time() < start_at:
    time.sleep(0.001)
store = connect(db)
for i in range(n):
    store.create_dataset(f"set-{i}")
    store.save_answers([], f"set-{i}", f"set-{i}-session")
print(len(store.datasets()))
"""


def test_processes_creating_the_same_new_datasets_at_once_all_succeed(db_url):
    db = db_url  # the database is new too: the processes create its tables
    start_at = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", CREATE, str(db), str(start_at), "300"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and "Traceback" not in err, err
    with connect(db) as store:
        assert len(store.datasets()) == 300 and len(store.datasets(session=True)) == 300


def test_an_answer_waits_for_another_writer_instead_of_failing(tmp_path, env, db_url):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(5)])
    served = ServedRecipe(manual("news", src), env, free_port())
    try:
        session = http("GET", served.url + "/api/project")[1]["session"]
        tasks = http("GET", served.url + "/api/questions?n=2")[1]["tasks"]
        # A session dataset must exist first: the answer then reads before it writes.
        assert http("POST", served.url + "/api/answers", {"session": session, "answers": [{**tasks[0], "answer": "accept"}]})[0] == 200
        result = {}

        def answer():
            result["r"] = http("POST", served.url + "/api/answers",
                               {"session": session, "answers": [{**tasks[1], "answer": "accept"}]}, timeout=30)

        with another_writer(db_url) as commit:  # another process writing (an import, another session)
            thread = threading.Thread(target=answer)
            thread.start()
            time.sleep(1.5)
            assert "r" not in result  # waiting
            commit()
        thread.join(timeout=30)
        assert result["r"][0] == 200, result
        with connect(db_url) as store:
            assert store.count("news") == 2
    finally:
        served.stop()


def test_an_answer_delayed_past_the_busy_timeout_is_refused_as_busy_and_kept_for_a_resend(tmp_path, env, db_url):
    from vnerteach.store.backend import BUSY_TIMEOUT_S

    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(5)])
    served = ServedRecipe(manual("news", src), env, free_port())
    try:
        session = http("GET", served.url + "/api/project")[1]["session"]
        [task] = http("GET", served.url + "/api/questions?n=1")[1]["tasks"]
        payload = {"session": session, "answers": [{**task, "answer": "accept"}]}
        with another_writer(db_url):  # an import holding the lock longer than the busy timeout
            code, body = http("POST", served.url + "/api/answers", payload, timeout=BUSY_TIMEOUT_S + 20)
        assert code == 503 and "busy" in body["error"], (code, body)  # the app's outbox keeps it and sends it again
        assert http("POST", served.url + "/api/answers", payload)[1]["added"] == 1
    finally:
        served.stop()


def test_the_exit_line_reports_the_datasets_true_count(tmp_path, env):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Acme"} for i in range(5)])
    more = write_jsonl(tmp_path / "more.jsonl", [{"text": f"Imported {i}"} for i in range(3)])
    served = ServedRecipe(manual("news", src), env, free_port())
    session = http("GET", served.url + "/api/project")[1]["session"]
    for task in http("GET", served.url + "/api/questions?n=2")[1]["tasks"]:
        assert http("POST", served.url + "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]})[0] == 200
    imported = subprocess.run([sys.executable, "-m", "vnerteach", "db-in", "news", str(more)], cwd=ROOT,
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    code, _, err = served.stop()
    assert code == 0 and exit_count(err, "news") == 5 and "Saved 2 answers" in err


OPEN = """
import sys, time
from vnerteach.store import connect
db, start_at = sys.argv[1], float(sys.argv[2])
while time.time() < start_at:
    pass
connect(db).close()
"""


def test_processes_opening_one_new_sqlite_file_at_once_all_succeed(tmp_path):
    """Two processes switching a new file to WAL at once can deadlock, and SQLite fails one of them at
    once ("database is locked", no busy wait): the store retries. Failed 2 in 100 opens before."""
    failures = []
    for round_ in range(12):
        db, start_at = tmp_path / f"new-{round_}.db", time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(db), str(start_at)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        failures += [err for p in procs if (err := p.communicate(timeout=60)[1]) or p.returncode]
    assert failures == []
