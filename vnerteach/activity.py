"""What a thread is waiting on (e.g. a page's OCR): noted around a slow step, read from other threads for a status line."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_waiting: dict[int, str] = {}  # thread ident -> what it waits on


@contextmanager
def waiting_on(what: str) -> Iterator[None]:
    """Note that this thread waits on ``what`` while the block runs."""
    ident = threading.get_ident()
    previous = _waiting.get(ident)
    _waiting[ident] = what
    try:
        yield
    finally:
        if previous is None:
            _waiting.pop(ident, None)
        else:
            _waiting[ident] = previous


def waiting(thread: threading.Thread | None) -> str | None:
    """What ``thread`` is waiting on right now, if it noted it."""
    if thread is None or thread.ident is None:
        return None
    return _waiting.get(thread.ident)
