"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary folder, a database per test.

``make test`` installs Debian's postgresql (no service is started: the session starts its own
cluster on a free port on 127.0.0.1, its socket in the cluster's folder, trust auth on loopback).
``initdb`` and ``pg_ctl`` refuse to run as root, so as root the cluster belongs to the system user
``vnerteach-pg`` (created if missing). Without PostgreSQL or its driver the tests skip, except
under CI=true, where they must run. conftest.py loads this module as a plugin.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from .needs import need

from .web import free_port

# The PostgreSQL runs of a test are slow-marked: make test runs them, make test-fast stays on SQLite.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
PG_USER = "vnerteach-pg"  # the system user that owns the cluster when the tests run as root
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # a test cluster need not survive a crash


def pg_bin() -> Path | None:
    """The newest of Debian's PostgreSQL binary folders (/usr/lib/postgresql/N/bin), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def unavailable() -> str | None:
    if pg_bin() is None:
        return "Debian's postgresql is not installed (make test installs it)"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[test]')"
    return None


def _as_owner() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts: ours, or PG_USER when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                              capture_output=True, text=True)
        if made.returncode not in (0, 9):  # 9: made meanwhile by another test run
            raise RuntimeError(f"useradd {PG_USER}: {made.stderr.strip()}")
    return ["runuser", "-u", PG_USER, "--"]


class PostgresServer:
    """A cluster in its own temporary folder, serving on 127.0.0.1:port until stopped."""

    def __init__(self, bin_dir: Path, settings: str = FAST):
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="vnerteach-pg-"))  # in /tmp: PG_USER can reach it
        self.data = self.folder / "data"
        self.prefix = _as_owner()
        if self.prefix:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.settings = settings
        self.resume()

    def _run(self, program: str, *args) -> None:
        done = subprocess.run([*self.prefix, str(self.bin / program), *map(str, args)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}"
                               + (f"\n{log.read_text()}" if log.exists() else ""))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg2

        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")  # no WAL copy: 10x faster
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def pause(self) -> None:
        """Stop the server as an administrator does (``pg_ctl stop -m fast``), keeping its data."""
        self._run("pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w")

    def resume(self) -> None:
        """Start the paused server again on the same port."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   f"-c max_connections=200 {self.settings}")
        self._run("pg_ctl", "start", "-D", self.data, "-w", "-t", "60", "-l", self.folder / "server.log", "-o", options)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():  # not paused
                self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server; skipped without PostgreSQL, except under CI=true."""
    need(unavailable(), "PostgreSQL tests")
    server = PostgresServer(pg_bin())
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh database on the session's server, dropped after the test: its postgresql:// URL."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)
