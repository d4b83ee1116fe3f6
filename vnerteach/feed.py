"""Who is asked what: each task to one annotator (a shared queue), or every task to every annotator (overlap).

The controller reads the recipe's stream into a feed and asks it for each annotator's next
tasks; the feed keeps what each annotator was handed and has not answered, and hands the tasks
of an annotator who went idle to the others. It holds no lock: the controller calls it with its
own lock held.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .tasks import TASK_HASH

IDLE_S = 300.0  # an annotator with no question or answer for this long is idle: their tasks go to others


@dataclass
class Annotator:
    """One annotator's place in the feed: tasks handed out and not answered, and what to ask again first."""

    session: str  # their session dataset, e.g. news-alice
    done: set[int] | None = None  # with overlap: the hashes they answered already (None: the dataset's)
    pending: OrderedDict[int, dict] = field(default_factory=OrderedDict)
    again: deque = field(default_factory=deque)  # with overlap: their answers undone, asked again first
    cursor: int = 0  # with overlap: their next position in the feed's log
    seen: float = field(default_factory=time.monotonic)  # the last question or answer
    answered: int = 0  # answers added in this run


class Feed:
    """Tasks read from the stream, handed to annotators; ``overlap`` gives every annotator every task.

    Without overlap a task goes to one annotator; when that annotator is idle for ``idle_s``, the
    tasks they were handed go back to the front of the queue for the next one who asks. With
    overlap the tasks read are kept (a log) so each annotator walks through all of them, skipping
    those they answered before (``key`` names the hash compared: task or input).
    """

    def __init__(self, overlap: bool = False, idle_s: float = IDLE_S, key: str = TASK_HASH,
                 clock: Callable[[], float] = time.monotonic):
        self.overlap, self.idle_s, self.key, self.clock = overlap, idle_s, key, clock
        self.annotators: dict[str, Annotator] = {}
        self._queue: deque[dict] = deque()  # without overlap: read and not handed out
        self._again: set[int] = set()  # without overlap: undone answers at the queue's front, asked again first
        self._log: list[dict] = []  # with overlap: every task read, in order

    def join(self, session: str, done: set[int] | None = None) -> Annotator:
        """The annotator of a session, added on first sight (``done``: with overlap, what they answered before)."""
        annotator = self.annotators.get(session)
        if annotator is None:
            annotator = self.annotators[session] = Annotator(session, set(done or ()) if self.overlap else None)
        annotator.seen = self.clock()
        return annotator

    def add(self, task: dict) -> None:
        """A task read from the stream."""
        (self._log if self.overlap else self._queue).append(task)

    def wants_more(self, buffer: int) -> bool:
        """Whether the reader should read on: someone has fewer than ``buffer`` tasks left to take."""
        if not self.overlap:
            return len(self._queue) < buffer
        if not self.annotators:
            return len(self._log) < buffer
        return any(len(self._log) - a.cursor < buffer for a in self.annotators.values())

    def take(self, annotator: Annotator, n: int) -> list[dict]:
        """Up to ``n`` tasks not yet handed to this annotator: their undone answers first, then fresh ones."""
        self._hand_on_idle(annotator)
        out = []
        while len(out) < n and annotator.again:
            out.append(self._hand_out(annotator, annotator.again.popleft(), first=True))
        while len(out) < n:
            task = self._next(annotator)
            if task is None:
                break
            out.append(self._hand_out(annotator, task))
        return out

    def _next(self, annotator: Annotator) -> dict | None:
        if not self.overlap:
            return self._queue.popleft() if self._queue else None
        while annotator.cursor < len(self._log):
            task = self._log[annotator.cursor]
            annotator.cursor += 1
            if task[self.key] not in annotator.done and task[TASK_HASH] not in annotator.pending:
                return task
        return None

    def _hand_out(self, annotator: Annotator, task: dict, first: bool = False) -> dict:
        key = task[TASK_HASH]
        annotator.pending[key] = task
        if first or key in self._again:
            self._again.discard(key)
            annotator.pending.move_to_end(key, last=False)
        return task

    def _hand_on_idle(self, asking: Annotator) -> None:
        """Without overlap: the tasks of annotators idle too long go to the front of the queue."""
        if self.overlap:
            return
        now = self.clock()
        for other in self.annotators.values():
            if other is asking or now - other.seen < self.idle_s or not (other.pending or other.again):
                continue
            self._queue.extendleft(reversed(other.pending.values()))
            other.pending.clear()

    def answered(self, annotator: Annotator, keys: Iterable[int], answers: Iterable[dict] = ()) -> None:
        """Answers stored: off every annotator's hands (without overlap) or this annotator's (with)."""
        keys = set(keys)
        holders = [annotator] if self.overlap else list(self.annotators.values())
        for holder in holders:
            for key in keys:
                holder.pending.pop(key, None)
        if self.overlap:
            annotator.done.update(eg[self.key] for eg in answers)
            if any(t[TASK_HASH] in keys for t in annotator.again):
                annotator.again = deque(t for t in annotator.again if t[TASK_HASH] not in keys)
            return
        self._again -= keys
        if any(t[TASK_HASH] in keys for t in self._queue):  # answered elsewhere (a resend after a restart)
            self._queue = deque(t for t in self._queue if t[TASK_HASH] not in keys)

    def ask_again(self, annotator: Annotator, task: dict) -> None:
        """An undone answer's question, asked again before anything else (with overlap, of this annotator)."""
        key = task[TASK_HASH]
        if self.overlap:
            annotator.done.discard(task[self.key])
            if key not in annotator.pending and all(t[TASK_HASH] != key for t in annotator.again):
                annotator.again.appendleft(task)
        elif all(key not in a.pending for a in self.annotators.values()) and all(
                t[TASK_HASH] != key for t in self._queue):
            self._queue.appendleft(task)
            self._again.add(key)

    def resume(self, annotator: Annotator) -> list[dict]:
        """A reloaded app's questions: undone answers, then what this annotator was handed and not answered."""
        while annotator.again:
            self._hand_out(annotator, annotator.again.popleft(), first=True)
        while self._queue and self._queue[0][TASK_HASH] in self._again:
            self._hand_out(annotator, self._queue.popleft())
        return list(annotator.pending.values())

    def empty(self, annotator: Annotator | None = None) -> bool:
        """Nothing left to hand out (to this annotator; without one, to anyone) and nothing awaiting an answer."""
        if self.overlap:
            people = [annotator] if annotator is not None else list(self.annotators.values())
            return all(not a.pending and not a.again and a.cursor >= len(self._log) for a in people) and (
                annotator is not None or bool(self.annotators) or not self._log)
        return not self._queue and all(not a.pending and not a.again for a in self.annotators.values())

    def idle(self, annotator: Annotator) -> bool:
        """Whether an annotator has asked or answered nothing for ``idle_s``."""
        return self.clock() - annotator.seen >= self.idle_s
