"""Defaults from the environment, read by the command layer: $VNERTEACH_HOME and $VNERTEACH_DB."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "VNERTEACH_HOME"
DB_ENV = "VNERTEACH_DB"


def home() -> Path:
    """The folder for the default database and the caches."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".vnerteach"


def page_cache_dir() -> Path:
    """The page cache folder when --cache-dir is not given: the cache in the home folder."""
    return home() / "cache"


def default_db() -> str:
    """The database when --db is not given: $VNERTEACH_DB, else SQLite in the home folder (created if missing)."""
    url = os.environ.get(DB_ENV)
    if url:
        return url
    home().mkdir(parents=True, exist_ok=True)
    return str(home() / "vnerteach.db")
