"""Opening the database (SQLite or PostgreSQL) and the dialect that owns what differs between the two."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import peewee

from ..errors import DependencyError, StoreBusy, StoreError, StoreUnreachable, UsageError

BUSY_TIMEOUT_S = 10
ANALYZE_AFTER = 10_000  # rows added in one call after which PostgreSQL's statistics are refreshed
PG_WRITE_LOCK = 0x766E657274656163  # the advisory lock every PostgreSQL write transaction takes first ("vnerteac")
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/:@\s]*:)\S*@", re.IGNORECASE)


def masked(text: str) -> str:
    """Text with the password of any database URL in it shown as ``***``."""
    return URL_PASSWORD.sub(r"\1***@", text)


def one_line(err: BaseException) -> str:
    """A driver's message on one line (psycopg2's span several), without any URL's password."""
    return masked(" ".join(str(err).split()))


def open_database(url: str) -> peewee.Database:
    """A peewee database for a SQLite path or URL, or a ``postgresql://`` URL (not yet connected)."""
    if url.startswith(("postgres://", "postgresql://")):
        return _open_postgres(url)
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


def _open_postgres(url: str) -> _Postgres:
    """The PostgreSQL database of a ``postgresql://`` URL; UsageError when the URL cannot name one."""
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
        """StoreUnreachable naming the server; a dead connection outside a transaction is dropped first."""
        if self.lost() and not self.in_transaction():
            self.drop()
        return StoreUnreachable(f"Cannot reach the database {self.shown}: {one_line(err)}")

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


def _check_sqlite_path(path: Path) -> None:
    """StoreError naming the problem when a SQLite file cannot be opened: a folder, a missing parent, no permission."""
    if path.is_dir():
        raise StoreError(f"Cannot open database {path}: it is a folder, not a file")
    parent = path.parent
    if not parent.exists():
        raise StoreError(f"Cannot open database {path}: folder {parent} does not exist")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"Cannot open database {path}: no permission to read and write it")


def dialect_for(db: peewee.Database, shown: str) -> Dialect:
    """The dialect of an opened database; ``shown`` is its URL as messages name it."""
    return PostgresDialect(db, shown) if isinstance(db, _Postgres) else SqliteDialect(db, shown)


class Dialect:
    """What differs between the backends: connecting, the write lock, row insertion and the work after an import."""

    def __init__(self, db: peewee.Database, shown: str):
        self.db = db
        self.shown = shown

    def connect(self) -> None:
        """Connect this thread to the database."""
        self.db.connect(reuse_if_open=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """A transaction that takes the database's one write lock first, waiting up to BUSY_TIMEOUT_S for it."""
        raise NotImplementedError

    def insert(self, rows: list[tuple], dataset_ids: list[int]) -> None:
        """Insert example rows ``(input hash, task hash, answer, content, created)`` and link each to the datasets."""
        raise NotImplementedError

    def after_import(self, added: int) -> None:
        """Work due after ``added`` rows went in by one call (inside its transaction)."""

    def lost(self) -> bool:
        """Whether this thread's connection was closed by the server."""
        return False

    @contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction under the write lock (``locked``), so waiting for another writer obeys the busy timeout.

        A deferred transaction that reads before it writes fails at once when another process has
        written meanwhile; taking the lock first waits instead, up to BUSY_TIMEOUT_S (then StoreBusy).
        Any other database error (disk full, I/O, a server gone) becomes one StoreError, everything rolled back.
        """
        try:
            with self.locked():
                yield
        except peewee.InterfaceError as err:  # psycopg2's "connection already closed", at commit
            raise StoreUnreachable(f"Cannot reach the database {self.shown}: {one_line(err)}") from None
        except (peewee.DatabaseError, sqlite3.Error) as err:
            if self.lost():
                raise StoreUnreachable(f"Cannot reach the database {self.shown}: {one_line(err)}") from None
            while isinstance(err.__context__, (peewee.DatabaseError, sqlite3.Error)):
                err = err.__context__  # the cause, not a failed rollback after it
            if "locked" in str(err) or "lock timeout" in str(err):
                raise StoreBusy(f"The database {self.shown} is busy: another process held its write lock "
                                f"for over {BUSY_TIMEOUT_S} s") from None
            raise StoreError(f"Cannot write to database {self.shown}: {one_line(err)}") from None


class SqliteDialect(Dialect):
    """SQLite: ``BEGIN IMMEDIATE`` is the write lock; rows go in through the raw cursor."""

    def connect(self) -> None:
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
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``; a nested call is a savepoint of the outer transaction, which holds the lock already."""
        outer = self.db.transaction_depth() == 0
        with self.db.atomic(**({"lock_type": "IMMEDIATE"} if outer else {})):
            yield

    def insert(self, rows: list[tuple], dataset_ids: list[int]) -> None:
        """Insert the rows one by one on the raw cursor: peewee has no RETURNING for SQLite, and it is ~5x faster."""
        cursor = self.db.cursor()
        example_ids = []
        for row in rows:
            cursor.execute("INSERT INTO example (input_hash, task_hash, answer, content, created) "
                           "VALUES (?, ?, ?, ?, ?)", row)
            example_ids.append(cursor.lastrowid)
        cursor.executemany("INSERT INTO link (example_id, dataset_id) VALUES (?, ?)",
                           [(e, d) for e in example_ids for d in dataset_ids])


class PostgresDialect(Dialect):
    """PostgreSQL: an advisory lock is the write lock; rows and links go in by one statement; large imports ANALYZE."""

    @contextmanager
    def locked(self) -> Iterator[None]:
        """A transaction-scoped advisory lock (PG_WRITE_LOCK) under a ``lock_timeout``.

        Writers queue one at a time as on SQLite, and a transaction that reads before it writes
        (a claim, an answer) sees every write committed before it. A nested call is a savepoint
        of the outer transaction, which holds the lock already.
        """
        outer = self.db.transaction_depth() == 0
        with self.db.atomic():
            if outer:
                # One round trip: the timeout is set (for this transaction) before the lock is waited for.
                self.db.execute_sql("SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s)",
                                    (f"{BUSY_TIMEOUT_S}s", PG_WRITE_LOCK))
            yield

    def insert(self, rows: list[tuple], dataset_ids: list[int]) -> None:
        """Insert the rows in one round trip: the links are made from the new ids inside the server."""
        self.db.execute_sql(
            "WITH e AS (INSERT INTO example (input_hash, task_hash, answer, content, created) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)) + " RETURNING id) "
            "INSERT INTO link (example_id, dataset_id) SELECT e.id, d.id FROM e CROSS JOIN (VALUES "
            + ", ".join(["(%s::integer)"] * len(dataset_ids)) + ") AS d(id)",
            [value for row in rows for value in row] + list(dataset_ids))

    def after_import(self, added: int) -> None:
        """Refresh the statistics after a large import (ANALYZE_AFTER rows), in its transaction: errors are StoreErrors.

        Before autovacuum gets to it, PostgreSQL plans db-out's page query over a table it thinks
        small: a sort of the whole dataset for every page (100 ms a page at 100,000 rows, 1 ms after).
        """
        if added >= ANALYZE_AFTER:
            self.db.execute_sql("ANALYZE example, link")

    def lost(self) -> bool:
        """Whether this thread's connection was closed by the server."""
        return self.db.lost()
