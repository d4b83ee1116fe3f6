"""The dataset store: peewee models and the Store API that recipes use."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import peewee
from peewee import (BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField, IntegerField, Model,
                    TextField, fn)

from .errors import DatasetInUse, DatasetNotFound, DependencyError, StoreBusy, StoreError, StoreUnreachable, UsageError
from .tasks import INPUT_HASH, TASK_HASH

BUSY_TIMEOUT_S = 10
CHUNK = 1000
ANALYZE_AFTER = 10 * CHUNK  # rows added in one call after which PostgreSQL's statistics are refreshed
PAGE = 1000  # rows per query when a dataset is streamed (keyset pagination): memory stays flat on any backend
PG_WRITE_LOCK = 0x766E657274656163  # the advisory lock every PostgreSQL write transaction takes first ("vnerteac")
EVENT_ROWS = 100  # answer events per INSERT: 8 parameters each, under SQLite's oldest limit of 999
HEARTBEAT_S = 2.0  # how often a serving session renews its live_session row
LIVE_BEATS = 3  # a session whose last beat is older than this many intervals serves no more
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s]*:)\S*@", re.IGNORECASE)


def masked(text: str) -> str:
    """Text with the password of any database URL in it shown as ``***``."""
    return URL_PASSWORD.sub(r"\1***@", text)


def _models(db: peewee.Database) -> tuple[type[Model], ...]:
    """The model classes bound to one database: each Store has its own, so two stores never share a binding."""

    class Dataset(Model):
        """A named collection of examples; session datasets record one annotation run each."""

        name = CharField(unique=True)
        created = IntegerField()
        meta = TextField(default="{}")
        session = BooleanField(default=False)

        class Meta:
            database = db

    class Example(Model):
        """One decision: the task as answered, as JSON text, with its hashes."""

        input_hash = BigIntegerField(index=True)
        task_hash = BigIntegerField(index=True)
        answer = CharField(null=True)
        content = TextField()
        created = IntegerField()

        class Meta:
            database = db

    class Link(Model):
        """Which datasets an example belongs to (its dataset and its session)."""

        example = ForeignKeyField(Example, backref="links", on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, backref="links", on_delete="CASCADE")

        class Meta:
            database = db
            indexes = ((("dataset", "example"), True),)

    class LiveSession(Model):
        """The annotation session serving a dataset right now, kept alive by its heartbeat."""

        dataset = CharField(unique=True)
        owner = CharField()
        address = CharField()
        pid = IntegerField()
        host = CharField()
        beat = DoubleField()  # seconds since the epoch: PostgreSQL's REAL (FloatField) would round them to minutes

        class Meta:
            database = db
            table_name = "live_session"

    class AnswerEvent(Model):
        """The audit log of a session's answers: stored, replaced or retracted (undo), by dataset and session."""

        time = DoubleField()
        event = CharField()
        dataset = CharField(index=True)
        session = CharField()
        input_hash = BigIntegerField()
        task_hash = BigIntegerField()
        answer = CharField(null=True)
        content = TextField(null=True)  # the answer as stored; none for a retraction

        class Meta:
            database = db
            table_name = "answer_event"

    return Dataset, Example, Link, LiveSession, AnswerEvent


@dataclass(frozen=True)
class DatasetStats:
    """Counts for one dataset, as shown by `stats`."""

    name: str
    created: int
    examples: int
    accept: int
    reject: int
    ignore: int
    sessions: int
    last_activity: int | None
    corrected: int = 0  # tokens whose OCR text was corrected by hand (``corrections.OCR_TEXT``)


@dataclass(frozen=True)
class SavedAnswers:
    """What :meth:`Store.save_answers` did: answers added, replaced in place, and repeats ignored."""

    added: int
    replaced: int
    unchanged: int
    taken: frozenset[int] = frozenset()  # task hashes refused: another session answered them (``unique_by``)


def to_json(example: dict) -> str:
    """An example as stored: compact JSON text, non-ASCII kept as is."""
    return json.dumps(example, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def open_database(url: str) -> peewee.Database:
    """A peewee database for a SQLite path or URL, or a ``postgresql://`` URL (not yet connected)."""
    if url.startswith(("postgres://", "postgresql://")):
        from playhouse.db_url import parse

        _check_postgres_driver()
        try:
            settings = parse(url)
        except ValueError as err:  # a port out of range or not a number, an unclosed IPv6 bracket
            raise UsageError(f"--db {masked(url)}: not a PostgreSQL URL ({err}); "
                             "use postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
        if not settings.get("database"):
            raise UsageError(f"--db {masked(url)}: name the database, e.g. postgresql://USER@HOST/vnerteach")
        db = _Postgres(**settings)
        db.shown = masked(url)
        return db
    if "://" in url and not url.startswith("sqlite:///"):
        scheme = url.split("://", 1)[0]
        raise UsageError(f"Unsupported database URL scheme '{scheme}://' in --db: "
                         "use a SQLite path, sqlite:///PATH or postgresql://...")
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if path != ":memory:":
        _check_sqlite_path(Path(path))
    return peewee.SqliteDatabase(path, timeout=BUSY_TIMEOUT_S, pragmas={
        "journal_mode": "wal",
        "busy_timeout": BUSY_TIMEOUT_S * 1000,
        "foreign_keys": 1,
        # WAL + NORMAL: a committed answer survives a crash or SIGKILL of the process.
        "synchronous": "normal",
    })


class _Postgres(peewee.PostgresqlDatabase):
    """PostgreSQL that survives a server restart: a connection the server closed is dropped, not reused.

    peewee keeps a broken psycopg2 connection as open, so every later statement failed ("connection
    already closed"). Here a statement outside a transaction that finds its connection gone is run
    once more on a new one; one inside a transaction fails (its transaction is lost; the caller
    sends it again) and the next transaction connects anew. While the server is away, each is a
    StoreUnreachable (503 to the app, which keeps the answers and resends them).
    """

    shown = "postgresql://"  # the URL for messages, password masked (set by open_database)

    def execute_sql(self, sql, params=None):
        try:
            return super().execute_sql(sql, params)
        except (peewee.OperationalError, peewee.InterfaceError) as err:
            if not self._gone():
                raise
            if self.in_transaction() or self._state.conn is None:
                raise self._unreachable(err) from None
            self.drop()  # the server closed this connection: once more on a new one
        try:
            return super().execute_sql(sql, params)
        except (peewee.OperationalError, peewee.InterfaceError) as err:
            if not self._gone():
                raise
            raise self._unreachable(err) from None

    def _gone(self) -> bool:
        """Whether the last error means no server: it refused a new connection, or closed this one."""
        return self._state.conn is None or self.lost()

    def _unreachable(self, err: Exception) -> StoreUnreachable:
        if self.lost() and not self.in_transaction():
            self.drop()
        return StoreUnreachable(f"Cannot reach the database {self.shown}: {_one_line(err)}")

    def begin(self, *args, **kwargs):
        if self.lost():  # a transaction starts on a live connection (no transaction holds the dead one now)
            self.drop()
        return super().begin(*args, **kwargs)

    def rollback(self):
        if self.lost():  # nothing to roll back on a connection the server closed
            return None
        return super().rollback()

    def lost(self) -> bool:
        """Whether this thread's connection was closed by the server (or the network)."""
        conn = self._state.conn
        return conn is not None and bool(conn.closed)

    def drop(self) -> None:
        """Forget this thread's dead connection; the next statement connects again."""
        try:
            self._state.conn.close()
        except Exception:  # noqa: BLE001 - it is gone either way
            pass
        self._state.reset()


def _check_postgres_driver() -> None:
    """DependencyError naming the extra when psycopg2, PostgreSQL's driver, is not installed."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        raise DependencyError("A postgresql:// database needs the psycopg2 driver: "
                              "pip install 'vnerteach[postgres]'") from None


def _one_line(err: BaseException) -> str:
    """A driver's message on one line (psycopg2's span several), without any URL's password."""
    return masked(" ".join(str(err).split()))


def _check_sqlite_path(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"Cannot open database {path}: it is a folder, not a file")
    parent = path.parent
    if not parent.exists():
        raise StoreError(f"Cannot open database {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"Cannot open database {path}: no permission to read and write it")


def connect(url: str) -> "Store":
    """Open the store at a SQLite path or database URL, creating tables if needed."""
    return Store(url)


class Store:
    """Datasets and examples in one database; every write is one transaction that takes the write lock first."""

    def __init__(self, url: str):
        self.url = masked(url)  # as shown in titles and messages
        self.db = open_database(url)
        self.Dataset, self.Example, self.Link, self.LiveSession, self.AnswerEvent = _models(self.db)
        self.postgres = isinstance(self.db, peewee.PostgresqlDatabase)
        try:
            self._connect()
            # On PostgreSQL under the write lock: processes creating the tables of a new database at
            # once would otherwise collide in the catalog (duplicate key in pg_type).
            with self._locked():
                self.db.create_tables([self.Dataset, self.Example, self.Link, self.LiveSession, self.AnswerEvent],
                                      safe=True)
        except (peewee.DatabaseError, peewee.ImproperlyConfigured, sqlite3.Error) as err:
            raise StoreError(f"Cannot open database {self.url}: {_one_line(err)}") from None

    def _connect(self) -> None:
        """Connect, retrying up to BUSY_TIMEOUT_S while SQLite reports the file locked at once.

        Processes opening a new SQLite file together can deadlock switching it to WAL; SQLite then
        fails one of them with "database is locked" without calling its busy handler.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.db.connect(reuse_if_open=True)
                return
            except (peewee.OperationalError, sqlite3.OperationalError) as err:
                if self.postgres or "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        """Close the connection (the database stays on disk)."""
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """A transaction that takes the database's one write lock first, waiting up to BUSY_TIMEOUT_S for it.

        SQLite: ``BEGIN IMMEDIATE``. PostgreSQL: a transaction-scoped advisory lock (PG_WRITE_LOCK)
        under a ``lock_timeout``, so writers queue one at a time as on SQLite, and a transaction
        that reads before it writes (a claim, an answer) sees every write committed before it.
        A nested call is a savepoint of the outer transaction, which holds the lock already.
        """
        outer = self.db.transaction_depth() == 0
        lock = {"lock_type": "IMMEDIATE"} if outer and not self.postgres else {}
        with self.db.atomic(**lock):
            if outer and self.postgres:
                # One round trip: the timeout is set (for this transaction) before the lock is waited for.
                self.db.execute_sql("SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s)",
                                    (f"{BUSY_TIMEOUT_S}s", PG_WRITE_LOCK))
            yield

    @contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction under the write lock (``_locked``), so waiting for another writer obeys the busy timeout.

        A deferred transaction that reads before it writes fails at once when another process has
        written meanwhile; taking the lock first waits instead, up to BUSY_TIMEOUT_S (then StoreBusy).
        Any other database error (disk full, I/O, a server gone) becomes one StoreError, everything rolled back.
        """
        try:
            with self._locked():
                yield
        except peewee.InterfaceError as err:  # psycopg2's "connection already closed", at commit
            raise StoreUnreachable(f"Cannot reach the database {self.url}: {_one_line(err)}") from None
        except (peewee.DatabaseError, sqlite3.Error) as err:
            if isinstance(self.db, _Postgres) and self.db.lost():
                raise StoreUnreachable(f"Cannot reach the database {self.url}: {_one_line(err)}") from None
            while isinstance(err.__context__, (peewee.DatabaseError, sqlite3.Error)):
                err = err.__context__  # the cause, not a failed rollback after it
            if "locked" in str(err) or "lock timeout" in str(err):
                raise StoreBusy(f"The database {self.url} is busy: another process held its write lock "
                                f"for over {BUSY_TIMEOUT_S} s") from None
            raise StoreError(f"Cannot write to database {self.url}: {_one_line(err)}") from None

    # datasets

    def datasets(self, session: bool = False) -> list[str]:
        """Names of the datasets (or of the session datasets), oldest first."""
        query = self.Dataset.select(self.Dataset.name).where(self.Dataset.session == session).order_by(self.Dataset.id)
        return [name for (name,) in query.tuples()]

    def __contains__(self, name: str) -> bool:
        return self.Dataset.select().where(self.Dataset.name == name).exists()

    def get_dataset(self, name: str) -> Model:
        """The dataset called ``name``; DatasetNotFound lists the existing ones."""
        dataset = self.Dataset.get_or_none(self.Dataset.name == name)
        if dataset is None:
            raise DatasetNotFound(name, self.datasets())
        return dataset

    def create_dataset(self, name: str, meta: dict | None = None, session: bool = False) -> Model:
        """Get or create a dataset; safe when other processes create it at the same moment."""
        with self._write():
            (self.Dataset.insert(name=name, created=int(time.time()), meta=json.dumps(meta or {}), session=session)
             .on_conflict_ignore().execute())
            return self.Dataset.get(self.Dataset.name == name)

    def drop(self, name: str) -> int:
        """Delete a dataset and its answer events; examples no longer in any dataset go too, and so do emptied sessions."""
        dataset = self.get_dataset(name)
        with self._write():
            count = self.Link.delete().where(self.Link.dataset == dataset).execute()
            self.AnswerEvent.delete().where(self.AnswerEvent.dataset == name).execute()
            dataset.delete_instance()
            # NOT EXISTS, not NOT IN (subquery): PostgreSQL runs NOT IN over a large table row by row.
            self.db.execute_sql("DELETE FROM example WHERE NOT EXISTS (SELECT 1 FROM link l JOIN dataset d "
                                "ON d.id = l.dataset_id WHERE l.example_id = example.id AND NOT d.session)")
            self.db.execute_sql("DELETE FROM link WHERE NOT EXISTS (SELECT 1 FROM example e WHERE e.id = link.example_id)")
            self.db.execute_sql("DELETE FROM dataset WHERE session AND NOT EXISTS "
                                "(SELECT 1 FROM link l WHERE l.dataset_id = dataset.id)")
        return count

    # live sessions

    def claim(self, dataset: str, address: str) -> str:
        """Record this process as the session serving ``dataset`` at ``address``; return its owner id.

        DatasetInUse names the live session of another process (or server) that serves it already;
        a session whose beat is stale, or whose process on this host is gone, is replaced.
        """
        owner = uuid.uuid4().hex
        with self._write():
            other = self.LiveSession.get_or_none(self.LiveSession.dataset == dataset)
            if other is not None and _alive(other):
                raise DatasetInUse(dataset, other.address, other.pid, other.host)
            self.LiveSession.delete().where(self.LiveSession.dataset == dataset).execute()
            self.LiveSession.create(dataset=dataset, owner=owner, address=address, pid=os.getpid(),
                                    host=socket.gethostname(), beat=time.time())
        return owner

    def beat(self, dataset: str, owner: str) -> bool:
        """Renew a session's heartbeat; False when it no longer holds the dataset."""
        with self._write():
            query = self.LiveSession.update(beat=time.time()).where(
                (self.LiveSession.dataset == dataset) & (self.LiveSession.owner == owner))
            return query.execute() == 1

    def release(self, dataset: str, owner: str) -> None:
        """Remove a session's claim on a dataset (its clean exit)."""
        with self._write():
            self.LiveSession.delete().where(
                (self.LiveSession.dataset == dataset) & (self.LiveSession.owner == owner)).execute()

    # examples

    def add_examples(self, examples: Iterable[dict], datasets: Sequence[str],
                     skip_duplicates: bool = False) -> int:
        """Store hashed examples in the datasets in one transaction; return how many were added.

        With ``skip_duplicates``, an example whose task hash and answer are already in the first
        dataset (or earlier in ``examples``) is not added again. The examples are consumed in
        chunks, so a long stream is never held in memory; an exception rolls everything back.
        """
        if not datasets:
            raise ValueError("add_examples needs at least one dataset")
        added = 0
        now = int(time.time())
        with self._write():
            ids = [self.create_dataset(name).id for name in datasets]
            seen = self._decisions(ids[0]) if skip_duplicates else None
            it = iter(examples)
            while chunk := list(islice(it, CHUNK)):
                rows = []
                for eg in chunk:
                    key = (eg[TASK_HASH], eg.get("answer"))
                    if seen is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    rows.append((eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"),
                                 to_json(eg), now))
                if rows:
                    self._insert(rows, ids)
                    added += len(rows)
            if self.postgres and added >= ANALYZE_AFTER:
                # Before autovacuum gets to it, PostgreSQL plans db-out's page query over a table it thinks
                # small: a sort of the whole dataset for every page (100 ms a page at 100,000 rows, 1 ms after).
                self.db.execute_sql("ANALYZE example, link")  # in the transaction: its errors are StoreErrors too
        return added

    def save_answers(self, answers: Sequence[dict], dataset: str, session: str,
                     unique_by: str | None = None) -> SavedAnswers:
        """Store a session's answers in one transaction, idempotent per session and task hash.

        A new answer is added to the dataset and the session dataset; a resend of the same answer
        (whatever its ``_timestamp``) changes nothing; a different answer to the same question in
        the same session replaces the stored example in place. Each addition and replacement is
        logged as an answer event in the same transaction. With ``unique_by`` ("task" or "input"),
        a new answer to a question (or input) that another session answered in the dataset is not
        stored but returned as ``taken``: one answer per dataset, also when a browser still held a
        task of a run that was killed and the next run handed it to someone else.
        """
        added = replaced = unchanged = 0
        now = int(time.time())
        events = []
        with self._write():
            target, sess = self._pair(dataset, session, create=True)
            latest: dict[int, tuple[int, str]] = {}
            for task_hash, example_id, content in self._session_examples(sess, [eg[TASK_HASH] for eg in answers]):
                latest.setdefault(task_hash, (example_id, content))
            key = TASK_HASH if unique_by == "task" else INPUT_HASH
            others = self._answered_elsewhere(target, sess, unique_by, [eg[key] for eg in answers
                                                                        if eg[TASK_HASH] not in latest])
            taken = frozenset(eg[TASK_HASH] for eg in answers if eg[TASK_HASH] not in latest and eg[key] in others)
            new_rows: dict[int, tuple] = {}  # by task hash: a question answered twice in one call
            for eg in answers:
                if eg[TASK_HASH] in taken:
                    continue
                content = to_json(eg)
                row = (eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"), content, now)
                if eg[TASK_HASH] in new_rows:
                    same = new_rows[eg[TASK_HASH]][3] == content
                    unchanged += same
                    replaced += not same
                    if not same:
                        events.append(("replaced", *row[:4]))
                    new_rows[eg[TASK_HASH]] = row
                    continue
                stored = latest.get(eg[TASK_HASH])
                if stored is None:
                    new_rows[eg[TASK_HASH]] = row
                    events.append(("stored", *row[:4]))
                    added += 1
                elif stored[1] == content or _same_decision(stored[1], eg):
                    unchanged += 1
                else:
                    (self.Example.update(input_hash=eg[INPUT_HASH], answer=eg.get("answer"), content=content, created=now)
                     .where(self.Example.id == stored[0]).execute())
                    self.Link.insert(example=stored[0], dataset=target).on_conflict_ignore().execute()
                    latest[eg[TASK_HASH]] = (stored[0], content)
                    events.append(("replaced", *row[:4]))
                    replaced += 1
            if new_rows:
                self._insert(list(new_rows.values()), [target, sess])
            self._log(dataset, session, events)
        return SavedAnswers(added, replaced, unchanged, taken)

    def _answered_elsewhere(self, target: int, sess: int, kind: str | None, keys: list[int]) -> set[int]:
        """Of these task or input hashes (``kind``), those the dataset holds answers to from outside this session."""
        if kind is None or not keys:
            return set()
        column = self.Example.task_hash if kind == "task" else self.Example.input_hash
        mine = self.Link.select(self.Link.example).where(self.Link.dataset == sess)
        query = (self.Example.select(column).join(self.Link)
                 .where((self.Link.dataset == target) & column.in_(keys) & self.Example.id.not_in(mine)))
        return {value for (value,) in query.tuples()}

    def retract(self, dataset: str, session: str, task_hash: int) -> list[dict]:
        """Withdraw a session's answer to a question (undo); return the examples removed, none if it has no answer.

        The example leaves the dataset and the session dataset (and the database, when no other
        dataset holds it); a ``retracted`` answer event records it, in the same transaction.
        """
        p = self.db.param
        with self._write():
            target, sess = self._pair(dataset, session)
            if target is None or sess is None:
                return []
            found = [(example_id, content) for _hash, example_id, content in self._session_examples(sess, [task_hash])]
            for example_id, _content in found:
                self.db.execute_sql(f"DELETE FROM link WHERE example_id = {p} AND dataset_id IN ({p}, {p})",
                                    (example_id, target, sess))
                self.db.execute_sql(f"DELETE FROM example WHERE id = {p} AND NOT EXISTS "
                                    f"(SELECT 1 FROM link WHERE example_id = {p})", (example_id, example_id))
            removed = [json.loads(content) for _id, content in found]
            self._log(dataset, session, [("retracted", eg[INPUT_HASH], eg[TASK_HASH], eg.get("answer"), None)
                                         for eg in removed])
        return removed

    def _session_examples(self, session_id: int, task_hashes: Sequence[int]) -> list[tuple[int, int, str]]:
        """(task hash, id, content) of a session dataset's examples with these task hashes, each hash's newest first."""
        unique, found = list(dict.fromkeys(task_hashes)), []
        for start in range(0, len(unique), 500):  # plain SQL on the answer path: no query building
            chunk = unique[start:start + 500]
            found += self.db.execute_sql(
                "SELECT e.task_hash, e.id, e.content FROM example e JOIN link l ON l.example_id = e.id "
                f"WHERE l.dataset_id = {self.db.param} AND e.task_hash IN ({', '.join([self.db.param] * len(chunk))}) "
                "ORDER BY e.id DESC", (session_id, *chunk)).fetchall()
        return found

    def _log(self, dataset: str, session: str, events: list[tuple]) -> None:
        """Record answer events ``(event, input hash, task hash, answer, content)`` (inside a write)."""
        now = time.time()
        row = "(" + ", ".join([self.db.param] * 8) + ")"
        for start in range(0, len(events), EVENT_ROWS):
            chunk = events[start:start + EVENT_ROWS]
            self.db.execute_sql(  # plain SQL: on the answer path, like save_answers' own queries
                "INSERT INTO answer_event (time, dataset, session, event, input_hash, task_hash, answer, content) "
                "VALUES " + ", ".join([row] * len(chunk)),
                [value for event in chunk for value in (now, dataset, session, *event)])

    def events(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[dict]:
        """A dataset's answer events, oldest first: time, event (stored, replaced, retracted), session, hashes, answer."""
        self.get_dataset(dataset)
        A = self.AnswerEvent
        query = A.select(A.id, A.time, A.event, A.session, A.input_hash, A.task_hash, A.answer).where(A.dataset == dataset)
        if answers:
            query = query.where(A.answer.in_(list(answers)))
        return ({"time": round(when, 3), "event": event, "session": session, INPUT_HASH: input_hash,
                 TASK_HASH: task_hash, "answer": answer}
                for _id, when, event, session, input_hash, task_hash, answer in _pages(query, A.id))

    def _pair(self, dataset: str, session: str, create: bool = False) -> tuple[int | None, int | None]:
        """The ids of a regular dataset and a session dataset in one query (the answer path); created if asked, else None."""
        rows = {name: (id_, bool(flag)) for name, id_, flag in self.db.execute_sql(
            f"SELECT name, id, session FROM dataset WHERE name IN ({self.db.param}, {self.db.param})",
            (dataset, session)).fetchall()}
        ids = []
        for name, is_session in ((dataset, False), (session, True)):
            found = rows.get(name)
            if found is None and create:
                created = self.create_dataset(name, session=is_session)
                found = rows[name] = (created.id, bool(created.session))
            if found is not None and found[1] != is_session:
                raise UsageError(f"Session '{name}' is the name of a regular dataset, not a session" if is_session
                                 else f"'{name}' is a session dataset; answers go to a regular dataset")
            ids.append(None if found is None else found[0])
        return ids[0], ids[1]

    def _insert(self, rows: list[tuple], dataset_ids: list[int]) -> None:
        if isinstance(self.db, peewee.SqliteDatabase):
            # peewee has no RETURNING for SQLite; the raw cursor is also ~5x faster per row.
            cursor = self.db.cursor()
            example_ids = []
            for row in rows:
                cursor.execute("INSERT INTO example (input_hash, task_hash, answer, content, created) "
                               "VALUES (?, ?, ?, ?, ?)", row)
                example_ids.append(cursor.lastrowid)
            cursor.executemany("INSERT INTO link (example_id, dataset_id) VALUES (?, ?)",
                               [(e, d) for e in example_ids for d in dataset_ids])
        else:  # one round trip: the links are made from the new ids inside the server
            self.db.execute_sql(
                "WITH e AS (INSERT INTO example (input_hash, task_hash, answer, content, created) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)) + " RETURNING id) "
                "INSERT INTO link (example_id, dataset_id) SELECT e.id, d.id FROM e CROSS JOIN (VALUES "
                + ", ".join(["(%s::integer)"] * len(dataset_ids)) + ") AS d(id)",
                [value for row in rows for value in row] + list(dataset_ids))

    def _decisions(self, dataset_id: int) -> set[tuple[int, str | None]]:
        query = (self.Example.select(self.Example.task_hash, self.Example.answer)
                 .join(self.Link).where(self.Link.dataset == dataset_id))
        return set(query.tuples().iterator())

    def hashes(self, datasets: Iterable[str], kind: str = "task", among: Iterable[int] | None = None) -> set[int]:
        """The task (or input) hashes of all examples in the datasets (only those ``among`` some): what not to ask again."""
        column = {"task": self.Example.task_hash, "input": self.Example.input_hash}[kind]
        names = list(datasets)
        if not names:
            return set()
        ids = [self.get_dataset(name).id for name in names]
        query = self.Example.select(column).join(self.Link).where(self.Link.dataset.in_(ids))
        if among is not None:
            query = query.where(column.in_(list(among)))
        return {h for (h,) in query.tuples().iterator()}

    def iter_examples(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[dict]:
        """The examples of a dataset in the order they were added, decoded lazily."""
        return (json.loads(raw) for raw in self.iter_raw(dataset, answers))

    def iter_raw(self, dataset: str, answers: Sequence[str] | None = None) -> Iterator[str]:
        """The examples of a dataset as stored JSON text: the fast path for exports."""
        # Paged by link.example_id, not example.id (the same value): the range is then one of the
        # (dataset, example) index, which SQLite would otherwise rescan from the start for every page.
        query = (self.Example.select(self.Link.example, self.Example.content).join(self.Link)
                 .where(self.Link.dataset == self.get_dataset(dataset)))
        if answers:
            query = query.where(self.Example.answer.in_(list(answers)))
        return (content for _id, content in _pages(query, self.Link.example, self.Example.id))

    def latest_answers(self, dataset: str, session: str, n: int) -> list[dict]:
        """A session's last ``n`` answers in a dataset, oldest first; none before the session's first answer."""
        target, sess = self._pair(dataset, session)
        if target is None or sess is None:
            return []
        p = self.db.param
        rows = self.db.execute_sql(
            "SELECT e.content FROM example e JOIN link s ON s.example_id = e.id JOIN link d ON d.example_id = e.id "
            f"WHERE s.dataset_id = {p} AND d.dataset_id = {p} ORDER BY e.id DESC LIMIT {p}", (sess, target, n)).fetchall()
        return [json.loads(content) for (content,) in reversed(rows)]

    def tail(self, dataset: str, n: int) -> list[dict]:
        """A dataset's last ``n`` examples, oldest first (what its annotators answered most recently)."""
        query = (self.Example.select(self.Example.content).join(self.Link)
                 .where(self.Link.dataset == self.get_dataset(dataset))
                 .order_by(self.Link.example.desc()).limit(n))
        return [json.loads(content) for (content,) in reversed(list(query.tuples()))]

    def count(self, dataset: str) -> int:
        """How many examples a dataset holds."""
        return self.Link.select().where(self.Link.dataset == self.get_dataset(dataset)).count()

    def stats(self, name: str | None = None) -> list[DatasetStats]:
        """Counts per dataset (all non-session datasets, or the one named)."""
        datasets = [self.get_dataset(name)] if name else list(
            self.Dataset.select().where(self.Dataset.session == False).order_by(self.Dataset.id))  # noqa: E712
        return [self._stats(d) for d in datasets]

    def _stats(self, dataset: Model) -> DatasetStats:
        answers = dict((self.Example.select(self.Example.answer, fn.COUNT(self.Example.id)).join(self.Link)
                        .where(self.Link.dataset == dataset).group_by(self.Example.answer).tuples()))
        last = (self.Example.select(fn.MAX(self.Example.created)).join(self.Link)
                .where(self.Link.dataset == dataset).scalar())
        other = self.Link.alias()
        sessions = (self.Link.select(fn.COUNT(other.dataset.distinct()))
                    .join(other, on=(other.example == self.Link.example))
                    .join(self.Dataset, on=(other.dataset == self.Dataset.id))
                    .where((self.Link.dataset == dataset) & self.Dataset.session).scalar())
        return DatasetStats(name=dataset.name, created=dataset.created, examples=sum(answers.values()),
                            accept=answers.get("accept", 0), reject=answers.get("reject", 0),
                            ignore=answers.get("ignore", 0), sessions=sessions or 0, last_activity=last,
                            corrected=self._corrected(dataset))

    def _corrected(self, dataset: Model) -> int:
        """The tokens corrected by hand in a dataset's examples: only examples whose text names ``ocr_text`` are read."""
        from .corrections import OCR_TEXT_JSON, corrected

        query = (self.Example.select(self.Example.id, self.Example.content).join(self.Link)
                 .where((self.Link.dataset == dataset) & self.Example.content.contains(OCR_TEXT_JSON)))
        return sum(len(corrected(json.loads(content))) for _id, content in _pages(query, self.Example.id))

    def session_stats(self, name: str) -> list[DatasetStats]:
        """Counts of a dataset's examples per session that answered them (one row per annotator or run), oldest first."""
        dataset, sessions, link = self.get_dataset(name), self.Dataset.alias(), self.Link.alias()
        query = (self.Link.select(sessions.id, sessions.name, sessions.created, self.Example.answer,
                                  fn.COUNT(self.Example.id), fn.MAX(self.Example.created))
                 .join(link, on=(link.example == self.Link.example))
                 .join(sessions, on=(link.dataset == sessions.id))
                 .switch(self.Link).join(self.Example, on=(self.Link.example == self.Example.id))
                 .where((self.Link.dataset == dataset) & sessions.session)
                 .group_by(sessions.id, sessions.name, sessions.created, self.Example.answer).tuples())
        rows: dict[int, dict] = {}
        for sid, sname, created, answer, count, last in query:
            row = rows.setdefault(sid, {"name": sname, "created": created, "answers": {}, "last": None})
            row["answers"][answer] = count
            row["last"] = max(last, row["last"] or 0)
        return [DatasetStats(name=r["name"], created=r["created"], examples=sum(r["answers"].values()),
                             accept=r["answers"].get("accept", 0), reject=r["answers"].get("reject", 0),
                             ignore=r["answers"].get("ignore", 0), sessions=1, last_activity=r["last"])
                for _sid, r in sorted(rows.items())]


def _pages(query: peewee.Select, key: peewee.Field, *equal: peewee.Field) -> Iterator[tuple]:
    """A query's rows in ``key`` order (its first column), PAGE rows per query (``key > last``): bounded memory.

    psycopg2 fetches a whole result on execute (peewee's ``.iterator()`` only saves model
    instances), so one query over a large dataset would hold it all; a page at a time does not.
    Rows committed meanwhile with a larger key are included. ``equal`` are columns joined equal
    to ``key``: bounded too, so that PostgreSQL starts their index scan at the page, not at the first row.
    """
    last = None
    while True:
        page = query if last is None else query.where(*(field > last for field in (key, *equal)))
        rows = list(page.order_by(key).limit(PAGE).tuples())
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1][0]


def _alive(session: Model) -> bool:
    """Whether a recorded session still serves: its beat is recent and, on this host, its process exists."""
    if time.time() - session.beat > LIVE_BEATS * HEARTBEAT_S:
        return False
    if session.host == socket.gethostname():
        try:
            os.kill(session.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            pass
    return True


def _same_decision(stored: str, example: dict) -> bool:
    """Whether a stored example and a new one differ at most in their ``_timestamp``."""
    old = json.loads(stored)
    old.pop("_timestamp", None)
    return old == {k: v for k, v in example.items() if k != "_timestamp"}
