"""Issue 15, point 1: the commands on a postgresql:// database give what they give on SQLite (slow: a server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vnerteach.store import connect
from vnerteach.store.backend import ANALYZE_AFTER
from vnerteach.store.paging import PAGE
from vnerteach.tasks import set_hashes

from helpers import ROOT, write_jsonl
from helpers.train import binary_tasks, manual_tasks
from helpers.web import free_port


@pytest.fixture
def backend() -> str:
    return "postgresql"


def tasks(n: int) -> list[dict]:
    return [{"text": f"Anna Weber joined Acme in Köln {i} 😀", "spans": [{"start": 0, "end": 10, "label": "PERSON"}],
             "answer": "reject" if i % 3 == 0 else "accept"} for i in range(n)]


@pytest.mark.slow
def test_db_in_stats_db_out_and_drop_on_postgres_match_sqlite(cli, db_url, tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", tasks(1200))
    sqlite = tmp_path / "same.db"
    exported = {}
    for db in (db_url, sqlite):
        imported = cli("db-in", "news", src, "--db", db)
        assert imported.exit_code == 0 and "Imported 1200 examples" in imported.stderr, imported.stderr
        again = cli("db-in", "news", src, "--db", db)
        assert again.exit_code == 0 and "Imported 0 examples" in again.stderr and "1200 already there" in again.stderr
        out = tmp_path / f"{'pg' if db == db_url else 'sqlite'}.jsonl"
        assert cli("db-out", "news", out, "--db", db).exit_code == 0
        exported[db] = out.read_bytes()
        rejects = cli("db-out", "news", "--answer", "reject", "--db", db)
        assert rejects.exit_code == 0 and len(rejects.stdout.splitlines()) == 400
        conll = cli("db-out", "news", "--format", "conll", "--db", db)
        assert conll.exit_code == 0 and "B-PERSON" in conll.stdout, conll.stderr
    assert exported[db_url] == exported[sqlite]
    lines = exported[db_url].decode().splitlines()
    assert len(lines) == 1200 and json.loads(lines[7])["text"] == "Anna Weber joined Acme in Köln 7 😀"

    stats = cli("stats", "--db", db_url)
    assert stats.exit_code == 0 and db_url in " ".join(stats.stdout.split()).replace(" ", "")
    row = next(line.split() for line in stats.stdout.splitlines() if line.split()[:1] == ["news"])
    assert row[1:6] == ["1200", "800", "400", "0", "0"]
    dropped = cli("drop", "news", "--yes", "--db", db_url)
    assert dropped.exit_code == 0 and "Dropped dataset 'news' (1200 examples)" in dropped.stderr
    assert "No datasets yet" in cli("stats", "--db", db_url).stderr
    with connect(db_url) as store:
        assert store.db.execute_sql("SELECT COUNT(*) FROM example").fetchone() == (0,)


def plan_rows(node: dict) -> list[int]:
    """Rows each node of an EXPLAIN (ANALYZE, FORMAT JSON) plan produced."""
    return [node["Actual Rows"], *(rows for child in node.get("Plans", []) for rows in plan_rows(child))]


@pytest.mark.slow
def test_after_a_large_import_each_page_of_db_out_reads_a_page_not_the_dataset(db_url, monkeypatch):
    with connect(db_url) as store:
        store.add_examples((set_hashes({"text": f"text {i}", "answer": "accept"}) for i in range(ANALYZE_AFTER)), ["big"])
        store.add_examples([set_hashes({"text": "elsewhere", "answer": "accept"})], ["other"])
        pages, execute = [], store.db.execute_sql
        monkeypatch.setattr(store.db, "execute_sql", lambda sql, params=None, *a, **k: (
            pages.append((sql, params)) if "LIMIT" in sql else None) or execute(sql, params, *a, **k))
        assert sum(1 for _ in store.iter_raw("big")) == ANALYZE_AFTER
        # Read by a plan that scans from the first row (or sorts all rows after the page), a page reads the dataset.
        read = [max(plan_rows(execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]))
                for sql, params in pages]
    assert len(read) > ANALYZE_AFTER // PAGE and max(read) <= 2 * PAGE, read


@pytest.mark.slow
def test_a_server_that_does_not_answer_is_one_line_without_the_password(cli):
    result = cli("stats", "--db", f"postgresql://anna:secret@127.0.0.1:{free_port()}/annotations")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "postgresql://anna:***@127.0.0.1:" in result.stderr and "secret" not in result.stderr


BLOCKED = """
import sys
sys.modules["psycopg2"] = None  # as when the driver is not installed
from vnerteach.cli import main
main(sys.argv[1:])
"""


def test_without_the_driver_a_postgres_url_is_one_line_naming_the_extra(tmp_path):
    done = subprocess.run([sys.executable, "-c", BLOCKED, "stats", "--db", "postgresql://anna@127.0.0.1/annotations"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'vnerteach[postgres]'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_batch_train_from_a_postgres_dataset_trains_the_model_sqlite_does(cli, db_url, tmp_path):
    answers = manual_tasks(120) + binary_tasks(30, seed=3)
    sqlite = tmp_path / "same.db"
    meta = {}
    for db in (db_url, sqlite):
        with connect(str(db)) as store:
            store.add_examples(answers, ["news"])
        out = tmp_path / ("pg" if db == db_url else "sqlite")
        result = cli("ner.batch-train", "news", "-o", out, "-n", 2, "--eval-split", 0.25, "--db", db)
        assert result.exit_code == 0, result.stderr
        meta[db] = json.loads((out / "meta.json").read_text())
    assert meta[db_url]["vnerteach"]["datasets"] == {"news": len(answers)}
    assert meta[db_url]["vnerteach"]["train_inputs"] + meta[db_url]["vnerteach"]["eval_inputs"] == 150
    assert meta[db_url]["performance"] == meta[sqlite]["performance"]
    assert meta[db_url]["performance"]["ents_f"] > 0.3


@pytest.mark.slow
def test_a_postgresql_restart_is_a_503_while_away_then_answers_go_on_and_the_server_exits_cleanly(tmp_path):
    """Issue 23 point 1: after ``pg_ctl stop -m fast`` and ``start`` every answer got a 500 page (the closed
    connection was never reopened), the heartbeat died and SIGTERM ended in a traceback."""
    import time

    from helpers.needs import need
    from helpers.postgres import PostgresServer, unavailable, pg_bin
    from helpers.web import ServedRecipe, http

    need(unavailable(), "PostgreSQL tests")
    server = PostgresServer(pg_bin())  # its own: this test stops it
    try:
        src = write_jsonl(tmp_path / "t.jsonl", [{"text": f"Acme hired Anna {i}"} for i in range(6)])
        served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG", "--db", server.url()],
                              {"VNERTEACH_HOME": str(tmp_path / "home")}, free_port())
        try:
            session = http("GET", served.url + "/api/project")[1]["session"]
            tasks = http("GET", served.url + "/api/questions?n=4")[1]["tasks"]

            def answer(task: dict) -> tuple[int, dict]:
                return http("POST", served.url + "/api/answers",
                            {"session": session, "answers": [{**task, "answer": "accept"}]})

            assert answer(tasks[0])[0] == 200
            server.pause()
            code, body = answer(tasks[1])
            assert code == 503 and "Cannot reach the database" in body["error"], body  # JSON, and the app resends
            code, body = http("GET", served.url + f"/api/history?session={session}")  # a read: 503 too
            assert code == 503 and "Cannot reach the database" in body["error"], body
            server.resume()
            code, body = answer(tasks[1])  # the same answer again: reconnected, no restart of vnerteach
            assert code == 200 and body["added"] == 1, body
            assert answer(tasks[2])[0] == 200
            time.sleep(1.2)  # a heartbeat or two after the restart (HEARTBEAT_S)
        finally:
            code, _out, err = served.stop()
        assert code == 0 and "Traceback" not in err, err
        with connect(server.url()) as store:
            assert store.count("news") == 3
            assert store.datasets(session=True) == [session]
    finally:
        server.stop()
