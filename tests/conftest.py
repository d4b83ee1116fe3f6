"""Shared fixtures: a private database and home folder per test, and an in-process CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vnerteach.cli import build_app, load_builtin
from vnerteach.store import connect

pytest_plugins = ["helpers.browser", "helpers.postgres"]  # the Chromium and PostgreSQL fixtures, for every test file


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """Every test's own $VNERTEACH_HOME (page cache, default database): nothing of the user's is read or written."""
    monkeypatch.setenv("VNERTEACH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A fresh SQLite database that the recipes pick up from the environment."""
    path = tmp_path / "test.db"
    monkeypatch.setenv("VNERTEACH_DB", str(path))
    return path


@pytest.fixture
def backend() -> str:
    """The test database's kind: SQLite, unless the test is marked both_backends."""
    return "sqlite"


def pytest_generate_tests(metafunc) -> None:
    """A test marked ``both_backends`` runs on SQLite and on PostgreSQL (that run slow-marked), unless it
    parametrizes ``backend`` itself."""
    if "backend" not in metafunc.fixturenames or not metafunc.definition.get_closest_marker("both_backends"):
        return
    own = {name.strip() for mark in metafunc.definition.iter_markers("parametrize")
           for name in (mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0])}
    if "backend" not in own:
        from helpers.postgres import BACKENDS

        metafunc.parametrize("backend", BACKENDS)


@pytest.fixture
def db_url(request, backend, db_path, monkeypatch) -> str:
    """The test's database as --db takes it (also in VNERTEACH_DB): db_path, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return str(db_path)
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("VNERTEACH_DB", url)
    return url


@pytest.fixture
def env(tmp_path, db_url) -> dict:
    """The environment a recipe started as a process needs to use the test's database and home folder."""
    return {"VNERTEACH_DB": db_url, "VNERTEACH_HOME": str(tmp_path / "home")}


@pytest.fixture
def store(db_url):
    """The store of the test's database, closed after the test."""
    with connect(db_url) as s:
        yield s


@pytest.fixture
def cli(db_url):
    """Run the CLI in-process: ``cli("stats")`` returns click's Result (stdout and stderr apart)."""
    load_builtin()
    app = build_app()

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(app, [str(a) for a in args], input=input)

    return run

