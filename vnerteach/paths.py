"""Where vnerteach keeps its files: $VNERTEACH_HOME (default ~/.vnerteach) for the database and caches."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "VNERTEACH_HOME"


def home() -> Path:
    """The folder for the default database and the caches."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".vnerteach"
