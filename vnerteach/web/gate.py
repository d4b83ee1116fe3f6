"""A bound on slow work that requests start (region OCR, a page read again turned): a few at a time, a few waiting, the rest turned away.

Without it, 100 requests at once started 90 Tesseract processes on two cores and the questions
the annotator waits for took 30 s.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class Gate:
    """At most ``at_once`` callers inside, at most ``waiting`` more queued for up to ``wait_s``; others are refused."""

    def __init__(self, at_once: int = 2, waiting: int = 4, wait_s: float = 20.0):
        self.at_once, self.waiting, self.wait_s = at_once, waiting, wait_s
        self._slots = threading.BoundedSemaphore(at_once)
        self._lock = threading.Lock()
        self._queued = 0

    @contextmanager
    def enter(self) -> Iterator[bool]:
        """Yield True inside the gate, or False at once when the queue is full or the wait timed out."""
        with self._lock:
            if self._queued >= self.at_once + self.waiting:
                admitted = False
            else:
                self._queued += 1
                admitted = True
        if not admitted:
            yield False
            return
        try:
            inside = self._slots.acquire(timeout=self.wait_s)
            try:
                yield inside
            finally:
                if inside:
                    self._slots.release()
        finally:
            with self._lock:
                self._queued -= 1
