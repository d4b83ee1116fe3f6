"""Tasks skipped while a stream is read: each is a TaskFailure (file, line or page, reason) handed to a callback.

A bad line, a misaligned span, an oversized task or a document page that cannot be read ends
nothing: the stage that finds it hands a TaskFailure to its ``on_failure`` callback and goes on
with the next task (without a callback it raises TaskError, for all-or-nothing commands such as
``db-in``). Tasks of text files are LocatedTasks, so that later stages can name the file and line
too; the place is an attribute, never a key, so it is not served, stored or hashed.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from .errors import TaskError


class LocatedTask(dict):
    """A task that knows where it was read: ``where`` is (file, line)."""

    __slots__ = ("where",)

    def __init__(self, task: dict, path: str, line: int):
        super().__init__(task)
        self.where = (path, line)


@dataclass
class TaskFailure:
    """A task that was skipped: where it was (file, and line or page) and why."""

    path: str | None
    page: int | None
    error: str
    line: int | None = None

    @property
    def ok(self) -> bool:
        """False: this is a failure record, not a task."""
        return False

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
        if self.page is not None:
            where += f" (page {self.page})"
        return f"{where}: {self.error}" if where else self.error


OnFailure = Callable[[TaskFailure], None]


def failure_at(task: dict, error: str) -> TaskFailure:
    """A failure of ``task``, at the file and line it was read from if it is a LocatedTask."""
    path, line = getattr(task, "where", (None, None))
    return TaskFailure(path, None, error, line)


def skip(failure: TaskFailure, on_failure: OnFailure | None) -> None:
    """Hand a failure to ``on_failure``; without one, raise it as a TaskError."""
    if on_failure is None:
        raise TaskError(failure.error, failure.path, failure.line, failure.page)
    on_failure(failure)


def isolate(work: Callable[[list[dict]], list], tasks: list[dict],
            on_failure: OnFailure | None) -> list[tuple[dict, Any]]:
    """``(task, result)`` pairs of ``work(tasks)``; if it raises, each task alone, failing ones to ``on_failure``.

    ``work`` returns one result per task. Without ``on_failure`` its exception propagates.
    """
    try:
        return list(zip(tasks, work(tasks)))
    except Exception as err:
        if on_failure is None:
            raise
        if len(tasks) == 1:
            on_failure(failure_at(tasks[0], f"cannot use this task ({type(err).__name__}: {err})"))
            return []
    return [pair for task in tasks for pair in isolate(work, [task], on_failure)]


class FailureLog:
    """An ``on_failure`` callback that counts failures, keeps the latest few and passes each on to ``then``."""

    def __init__(self, then: OnFailure | None = None, keep: int = 20):
        self.count = 0
        self.recent: deque[TaskFailure] = deque(maxlen=keep)
        self._then = then
        self._lock = threading.Lock()

    def __call__(self, failure: TaskFailure) -> None:
        with self._lock:
            self.count += 1
            self.recent.append(failure)
        if self._then is not None:
            self._then(failure)

    def messages(self) -> list[str]:
        """The latest failures as ``file:line: reason`` lines, oldest first."""
        with self._lock:
            return [str(f) for f in self.recent]
