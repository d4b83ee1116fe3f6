"""A lock that takes turns: the scorer's many short holds and an update's long one do not starve each other."""

from __future__ import annotations

import threading
from typing import Any


class FairLock:
    """A first-come, first-served lock: a thread that releases and re-acquires at once goes to the back."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that may hold the lock

    def __enter__(self) -> "FairLock":
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()
