"""The store: datasets, examples, hashes, transactions, URLs, SQLite settings; every store test on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3

import peewee
import pytest

from vnerteach.errors import DatasetNotFound, StoreError, UsageError
from vnerteach.paths import default_db
from vnerteach.store import Store, paging
from vnerteach.store import backend as store_backend
from vnerteach.store.backend import open_database
from vnerteach.tasks import set_hashes

pytestmark = pytest.mark.both_backends
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


def examples(n, answer="accept", prefix="text"):
    return [set_hashes({"text": f"{prefix} {i}", "answer": answer}) for i in range(n)]


def test_add_and_iterate_in_order(store):
    assert store.add_examples(examples(5), ["news"]) == 5
    assert [e["text"] for e in store.iter_examples("news")] == [f"text {i}" for i in range(5)]
    assert store.count("news") == 5
    assert store.datasets() == ["news"]


def test_iteration_is_lazy(store):
    store.add_examples(examples(3000), ["news"])
    stream = store.iter_examples("news")
    assert next(stream)["text"] == "text 0"
    assert sum(1 for _ in stream) == 2999


def test_filter_by_answer(store):
    store.add_examples(examples(3) + examples(2, "reject", "bad") + examples(1, "ignore", "skip"), ["news"])
    assert [e["answer"] for e in store.iter_examples("news", ["reject", "ignore"])] == ["reject"] * 2 + ["ignore"]


def test_hashes(store):
    egs = examples(4)
    store.add_examples(egs, ["news"])
    assert store.hashes(["news"]) == {e["_task_hash"] for e in egs}
    assert store.hashes(["news"], kind="input") == {e["_input_hash"] for e in egs}
    assert store.hashes([]) == set()


def test_skip_duplicates_by_task_and_answer(store):
    assert store.add_examples(examples(3), ["news"], skip_duplicates=True) == 3
    assert store.add_examples(examples(4), ["news"], skip_duplicates=True) == 1
    # The same question answered differently is a different decision: it is kept.
    assert store.add_examples(examples(1, "reject"), ["news"], skip_duplicates=True) == 1
    assert store.count("news") == 5


def test_a_failure_rolls_back_everything(store):
    def stream():
        yield from examples(2500)
        raise ValueError("bad line")

    with pytest.raises(ValueError):
        store.add_examples(stream(), ["news"])
    assert "news" not in store
    assert store.db.execute_sql("SELECT COUNT(*) FROM example").fetchone() == (0,)


def test_example_in_dataset_and_session(store):
    store.create_dataset("news")
    store.create_dataset("news-2026-11-21", session=True)
    store.add_examples(examples(2), ["news", "news-2026-11-21"])
    [stats] = store.stats("news")
    assert (stats.examples, stats.accept, stats.sessions) == (2, 2, 1)
    assert store.datasets() == ["news"] and store.datasets(session=True) == ["news-2026-11-21"]


def test_stats_counts_answers(store):
    store.add_examples(examples(3) + examples(2, "reject", "r") + examples(1, "ignore", "i"), ["news"])
    store.add_examples(examples(1), ["other"])
    by_name = {s.name: s for s in store.stats()}
    assert (by_name["news"].accept, by_name["news"].reject, by_name["news"].ignore) == (3, 2, 1)
    assert by_name["news"].examples == 6 and by_name["other"].examples == 1
    assert by_name["news"].last_activity is not None


def test_drop_keeps_shared_examples_and_removes_sessions(store):
    store.create_dataset("s1", session=True)
    store.add_examples(examples(2), ["a", "s1"])
    store.add_examples(examples(3, prefix="shared"), ["a", "b"])
    assert store.drop("a") == 5
    assert "a" not in store and store.datasets(session=True) == []
    assert store.count("b") == 3
    assert store.db.execute_sql("SELECT COUNT(*) FROM example").fetchone() == (3,)
    assert store.db.execute_sql("SELECT COUNT(*) FROM link").fetchone() == (3,)


def test_unknown_dataset_lists_existing(store):
    store.add_examples(examples(1), ["news"])
    with pytest.raises(DatasetNotFound, match="Dataset 'nwes' not found. Existing datasets: news"):
        store.count("nwes")


@sqlite_only
def test_sqlite_is_in_wal_mode_with_a_busy_timeout(store, db_path):
    store.add_examples(examples(1), ["news"])
    assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert (db_path.parent / (db_path.name + "-wal")).exists()


def test_committed_examples_are_visible_to_another_connection(store, db_url):
    store.add_examples(examples(2), ["news"])
    if db_url.startswith("postgresql://"):
        import psycopg2

        other = psycopg2.connect(db_url).cursor()
        other.execute("SELECT COUNT(*) FROM example")
        assert other.fetchone() == (2,)
    else:
        assert sqlite3.connect(db_url).execute("SELECT COUNT(*) FROM example").fetchone() == (2,)


def test_default_database_is_the_environment_or_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VNERTEACH_HOME", str(tmp_path / "new-home"))
    monkeypatch.delenv("VNERTEACH_DB", raising=False)
    assert default_db() == str(tmp_path / "new-home" / "vnerteach.db")
    assert (tmp_path / "new-home").is_dir()
    monkeypatch.setenv("VNERTEACH_DB", "/x/env.db")
    assert default_db() == "/x/env.db"


def test_two_stores_in_one_process_each_use_their_own_file(tmp_path):
    a = Store(str(tmp_path / "a.db"))
    a.create_dataset("x")
    b = Store(str(tmp_path / "b.db"))
    assert a.datasets() == ["x"] and b.datasets() == []
    assert a.add_examples(examples(3), ["x"]) == 3
    assert b.add_examples(examples(2, prefix="b"), ["y"]) == 2
    assert (a.count("x"), a.datasets(), b.datasets()) == (3, ["x"], ["y"])
    a.close(), b.close()


def test_two_stores_written_from_two_threads_side_by_side(tmp_path):
    import threading

    stores = [Store(str(tmp_path / f"{name}.db")) for name in ("a", "b")]
    errors: list[BaseException] = []

    def write(store, name):
        try:
            for i in range(20):
                store.add_examples(examples(5, prefix=f"{name}{i}"), [name])
                assert store.datasets() == [name]
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=write, args=(s, n)) for s, n in zip(stores, ("a", "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [(s.datasets(), s.count(n)) for s, n in zip(stores, ("a", "b"))] == [(["a"], 100), (["b"], 100)]


def test_sqlite_url_form(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'u.db'}") as s:
        s.create_dataset("x")
    assert (tmp_path / "u.db").is_file()


def test_postgres_url_is_parsed_not_connected():
    db = open_database("postgresql://anna:secret@db.example:5433/annotations")
    assert isinstance(db, peewee.PostgresqlDatabase)
    assert db.database == "annotations"
    assert db.connect_params == {"user": "anna", "password": "secret", "host": "db.example", "port": 5433}


def test_unsupported_url_scheme():
    with pytest.raises(UsageError, match="mysql://"):
        open_database("mysql://x/y")


def test_unreadable_database_paths(tmp_path):
    with pytest.raises(StoreError, match=f"Cannot open database {tmp_path}/missing/x.db: folder .* does not exist"):
        Store(str(tmp_path / "missing" / "x.db"))
    with pytest.raises(StoreError, match="it is a folder"):
        Store(str(tmp_path))
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match=f"Cannot open database {junk}"):
        Store(str(junk))


def test_iteration_fetches_a_bounded_page_per_query(store, monkeypatch):
    monkeypatch.setattr(paging, "PAGE", 100)
    store.add_examples(examples(1050) + examples(30, "reject", "r"), ["news"])
    store.save_answers([examples(1)[0]], "news", "news-s1")
    fetched = _count_rows_per_query(store, monkeypatch)
    stream = store.iter_raw("news")
    next(stream)
    assert fetched == [100]  # lazily: one page so far
    assert sum(1 for _ in stream) == 1080
    assert fetched == [100] * 10 + [81]
    fetched.clear()
    assert sum(1 for _ in store.iter_examples("news", ["reject"])) == 30
    assert fetched == [30]
    fetched.clear()
    assert sum(1 for _ in store.events("news")) == 1
    assert fetched == [1]


def _count_rows_per_query(store, monkeypatch) -> list[int]:
    """Rows each SELECT from example or answer_event hands back, in order (the driver's cursor counted as it is read)."""
    counts: list[int] = []
    real = store.db.execute_sql

    class Counting:
        def __init__(self, cursor):
            self.cursor, self.i = cursor, len(counts)
            counts.append(0)

        def fetchone(self):
            row = self.cursor.fetchone()
            counts[self.i] += row is not None
            return row

        def fetchall(self):
            rows = self.cursor.fetchall()
            counts[self.i] += len(rows)
            return rows

        def __iter__(self):
            for row in self.cursor:
                counts[self.i] += 1
                yield row

        def __getattr__(self, name):
            return getattr(self.cursor, name)

    def execute_sql(sql, *args, **kwargs):
        cursor = real(sql, *args, **kwargs)
        table = sql.split(" FROM ", 1)[1].split()[0].strip('"') if sql.startswith("SELECT") else None
        return Counting(cursor) if table in ("example", "answer_event") else cursor

    monkeypatch.setattr(store.db, "execute_sql", execute_sql)
    return counts


def test_hashes_keep_all_64_bits(store):
    extremes = [{"text": "low", "_input_hash": -2**63, "_task_hash": 2**63 - 1, "answer": "accept"},
                {"text": "high", "_input_hash": 2**63 - 1, "_task_hash": -2**63, "answer": "accept"}]
    store.add_examples(extremes, ["news"])
    assert [(e["_input_hash"], e["_task_hash"]) for e in store.iter_examples("news")] == [(-2**63, 2**63 - 1), (2**63 - 1, -2**63)]
    assert store.hashes(["news"]) == {2**63 - 1, -2**63}


def test_a_heartbeat_is_stored_to_the_millisecond(store):
    import time

    owner = store.claim("news", "http://127.0.0.1:8080/")
    before = time.time()
    assert store.beat("news", owner)
    beat = store.LiveSession.get(store.LiveSession.dataset == "news").beat
    assert abs(beat - before) < 0.5, (beat, before)


def test_a_writer_waits_for_another_one_then_writes(store, db_url):
    import threading

    other = Store(db_url)
    done = threading.Event()

    def write():
        store.create_dataset("second")
        done.set()

    with other.dialect.write():
        other.create_dataset("first")
        thread = threading.Thread(target=write)
        thread.start()
        assert not done.wait(0.5)  # waiting for the lock, not failing
    thread.join(timeout=10)
    assert done.is_set() and store.datasets() == ["first", "second"]
    other.close()


def test_a_writer_kept_waiting_past_the_busy_timeout_is_told_the_store_is_busy(db_url, monkeypatch):
    from vnerteach.errors import StoreBusy

    monkeypatch.setattr(store_backend, "BUSY_TIMEOUT_S", 1)
    first, second = Store(db_url), Store(db_url)
    with first.dialect.write():
        first.create_dataset("first")
        with pytest.raises(StoreBusy, match="is busy: another process held its write lock for over 1 s"):
            second.create_dataset("second")
    assert second.datasets() == ["first"]
    first.close(), second.close()


def test_a_missing_postgres_driver_names_the_extra(monkeypatch):
    import sys

    from vnerteach.errors import DependencyError

    monkeypatch.setitem(sys.modules, "psycopg2", None)  # import psycopg2 now fails, as when it is not installed
    with pytest.raises(DependencyError, match=r"psycopg2 driver: pip install 'vnerteach\[postgres\]'"):
        open_database("postgresql://anna@localhost/annotations")


def test_postgres_that_does_not_answer_is_one_line_without_the_password():
    from helpers.web import free_port

    url = f"postgresql://anna:secret@127.0.0.1:{free_port()}/annotations"
    with pytest.raises(StoreError) as err:
        Store(url)
    message = str(err.value)
    assert message.startswith(f"Cannot open database postgresql://anna:***@127.0.0.1:") and "refused" in message
    assert "\n" not in message and "secret" not in message


@sqlite_only
def test_a_late_page_costs_what_the_first_one_costs(store, monkeypatch):
    monkeypatch.setattr(paging, "PAGE", 100)
    store.add_examples(examples(3000), ["news"])
    store.add_examples(examples(3000, prefix="other"), ["other"])
    steps = [0]  # SQLite virtual machine instructions run so far

    def tick():
        steps[0] += 1
        return 0

    store.db.connection().set_progress_handler(tick, 1)
    per_page, last = [], 0
    for i, _ in enumerate(store.iter_raw("news"), start=1):
        if i % 100 == 1:  # the page holding this row was just read
            per_page.append(steps[0] - last)
            last = steps[0]
    store.db.connection().set_progress_handler(None, 1)
    assert len(per_page) == 30
    assert max(per_page[1:]) < 2 * min(per_page[1:]), per_page  # no page rescans the ones before it
