"""The session's reader: pulls a recipe's stream into the feed in the background, a small buffer ahead of the annotators.

A slow source (OCR) then never stalls a request. Tasks whose hash is done already (in the dataset
or an excluded one) or asked already this run are skipped.
"""

from __future__ import annotations

import threading
from typing import Iterable

from ..errors import VnerteachError
from ..tasks import TASK_HASH, set_hashes
from .feed import Feed


class StreamReader:
    """Reads ``stream`` into ``feed`` in a thread while someone has fewer than ``buffer`` tasks left to take.

    It shares the controller's lock (``cond``): its sets and counts are read and changed with it
    held. ``key`` names the hash ``done`` holds (task or input); within the run a question is never
    asked twice (task hash), but other questions about an input still are (ner.teach's candidates).
    """

    def __init__(self, stream: Iterable[dict], feed: Feed, cond: threading.Condition, key: str, done: set[int],
                 buffer: int) -> None:
        self._stream, self._feed, self._cond, self._key, self._buffer = iter(stream), feed, cond, key, buffer
        self.done = done  # hashes (by key) answered before this run, or since in the shared dataset
        self.asked: set[int] = set()  # task hashes read (or answered) this run
        self.resent: set[int] = set()  # answered this run before the reader read them (a resend after a restart)
        self.skipped = 0
        self.exhausted = False
        self.error: str | None = None  # why the source stopped early
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reading in the background (idempotent)."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._read, name="vnerteach-stream", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop reading: the task in hand is not added (lock held)."""
        self._closed = True
        self._cond.notify_all()

    def _read(self) -> None:
        try:
            for task in self._stream:
                set_hashes(task)
                with self._cond:
                    if task[TASK_HASH] in self.resent:  # counted as answered already: not a skip too
                        self.resent.discard(task[TASK_HASH])
                        continue
                    if task[self._key] in self.done or task[TASK_HASH] in self.asked:
                        self.skipped += 1
                        continue
                    self.asked.add(task[TASK_HASH])
                    while not self._feed.wants_more(self._buffer) and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    self._feed.add(task)
                    self._cond.notify_all()
        except Exception as err:  # a broken source line: shown in the app and at the end, not a crash
            with self._cond:
                self.error = str(err) if isinstance(err, VnerteachError) else f"{type(err).__name__}: {err}"
        finally:
            with self._cond:
                self.exhausted = True
                self._cond.notify_all()
