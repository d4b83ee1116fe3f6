"""A session's use of the store: its claim on the dataset, kept up by heartbeats, and its reads and writes.

The reads and writes run on one writer thread with one open connection: writes are serialised
(as SQLite's are anyway) and a request thread never pays for opening the database.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..errors import AnswerError, UsageError, VnerteachError
from ..store import SavedAnswers, Store
from ..store.sessions import HEARTBEAT_S
from ..tasks import INPUT_HASH, TASK_HASH


class SessionStore:
    """The store as one session of ``dataset`` uses it (``exclude``: datasets whose hashes also count as done)."""

    def __init__(self, store: Store, dataset: str, exclude: list[str], exclude_by: str) -> None:
        self.store, self.dataset, self.exclude, self.exclude_by = store, dataset, exclude, exclude_by
        self._key = TASK_HASH if exclude_by == "task" else INPUT_HASH
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vnerteach-store")
        self._heartbeat: threading.Thread | None = None
        self._stop_beat = threading.Event()

    def go_live(self, address: str) -> None:
        """Claim the dataset for this session at ``address`` (DatasetInUse names a live one) and beat until close."""
        owner = self.store.claim(self.dataset, address)
        self.store.create_dataset(self.dataset)
        self._heartbeat = threading.Thread(target=self._beat, args=(owner,), name="vnerteach-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self, owner: str) -> None:
        try:
            while not self._stop_beat.wait(HEARTBEAT_S):
                try:
                    self.store.beat(self.dataset, owner)
                except Exception:  # e.g. a long import holds the lock, the server restarts: beat again next time
                    pass
            try:
                self.store.release(self.dataset, owner)
            except VnerteachError:  # the server is away: the claim expires with the beats (LIVE_BEATS)
                pass
        finally:
            self.store.close()  # this thread's own connection

    def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)`` on the writer thread."""
        return self._writer.submit(call, *args).result()

    def _answering(self, call: Callable[..., Any], *args: Any) -> Any:
        """As :meth:`_run`, for a request's session: the store's UsageError (e.g. a session named like a regular
        dataset) becomes the request's AnswerError."""
        try:
            return self._run(call, *args)
        except UsageError as err:
            raise AnswerError(str(err)) from None

    def save(self, answers: list[dict], session: str, unique_by: str | None) -> SavedAnswers:
        """Store a request's checked answers together (one transaction)."""
        return self._answering(self.store.save_answers, answers, self.dataset, session, unique_by)

    def retract(self, session: str, task_hash: int) -> tuple[list[dict], set[int]]:
        """The examples an undo retracted, and which of their hashes the dataset or excluded datasets still hold."""
        return self._answering(self._retract, session, task_hash)

    def _retract(self, session: str, task_hash: int) -> tuple[list[dict], set[int]]:
        removed = self.store.retract(self.dataset, session, task_hash)
        if not removed:
            return removed, set()
        among = {eg[self._key] for eg in removed}
        return removed, self.store.hashes([self.dataset, *self.exclude], self.exclude_by, among=among)

    def latest(self, session: str, n: int) -> list[dict]:
        """A session's latest stored answers, oldest first."""
        return self._answering(self.store.latest_answers, self.dataset, session, n)

    def named(self, session: str) -> int:
        """An annotator's answers so far in their session dataset; AnswerError when it is a regular dataset's name."""
        return self._run(self._named, session)

    def _named(self, session: str) -> int:
        if session in self.store.datasets():
            raise AnswerError(f"annotator name {session[len(self.dataset) + 1:]!r}: '{session}' is a regular dataset, "
                              "not a session; choose another name")
        return self.store.count(session) if session in self.store else 0

    def hashes_of(self, dataset: str) -> set[int]:
        """The hashes of a dataset's examples, none if it does not exist."""
        return self._run(self._hashes_of, dataset)

    def _hashes_of(self, dataset: str) -> set[int]:
        return self.store.hashes([dataset], kind=self.exclude_by) if dataset in self.store else set()

    def close(self, timeout: float) -> int | None:
        """Give up the dataset and close the connections; the dataset's true size (other processes may have added to
        it), None if it cannot be read (e.g. dropped meanwhile)."""
        if self._heartbeat is not None:
            self._stop_beat.set()
            self._heartbeat.join(timeout)
        count = self._run(self._close)
        self._writer.shutdown()
        return count

    def _close(self) -> int | None:
        try:
            return self.store.count(self.dataset)
        except VnerteachError:
            return None
        finally:
            self.store.close()
