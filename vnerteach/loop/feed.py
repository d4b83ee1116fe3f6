"""Who is asked what: each task to one annotator (a shared queue), or every task to every annotator (overlap).

The controller reads the recipe's stream into a feed and asks it for each annotator's next
tasks; the feed keeps what each annotator was handed and has not answered, and hands the tasks
of an annotator who went idle to the others. It holds no lock: the controller calls it with its
own lock held.

Each annotator answers under a session, the dataset their answers are stored in: the run's own
(``DATASET-<time>``, :func:`session_name`) or a named annotator's (``DATASET-alice``).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from ..errors import AnswerError
from ..tasks import TASK_HASH

IDLE_S = 300.0  # an annotator with no question or answer for this long is idle: their tasks go to others
MAX_SESSION_NAME = 200
ANNOTATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def session_name(dataset: str, now: float | None = None) -> str:
    """The session dataset of a run: ``DATASET-YYYY-MM-DDTHH-MM-SS``."""
    return f"{dataset}-{datetime.fromtimestamp(time.time() if now is None else now).strftime('%Y-%m-%dT%H-%M-%S')}"


def annotator_session(dataset: str, name: str) -> str:
    """The session dataset of a named annotator (``/?session=alice``): ``DATASET-alice``, the same in every run."""
    if not isinstance(name, str) or not ANNOTATOR_NAME.fullmatch(name):
        raise AnswerError(f"annotator name {str(name)[:80]!r}: use 1-64 letters, digits and _ . @ - "
                          "(starting with a letter or digit)")
    return f"{dataset}-{name}"


def check_session(session: Any, dataset: str, own: str) -> str:
    """A request's session: the run's own (``own``, also for None) or an annotator's ``DATASET-NAME``; AnswerError else."""
    session = own if session is None else session
    if not isinstance(session, str) or not session.strip() or len(session) > MAX_SESSION_NAME:
        raise AnswerError(f"'session' must be a non-empty name of at most {MAX_SESSION_NAME} characters")
    prefix = dataset + "-"
    if session != own and not (session.startswith(prefix) and ANNOTATOR_NAME.fullmatch(session[len(prefix):])):
        raise AnswerError(f"'session' {session[:80]!r} is not a session of dataset '{dataset}' "
                          f"(expected '{prefix}NAME'; reload the app)")
    return session


@dataclass
class Annotator:
    """One annotator's place in the feed: tasks handed out and not answered, and what to ask again first."""

    session: str  # their session dataset, e.g. news-alice
    done: set[int] = field(default_factory=set)  # with overlap: the hashes they answered already
    pending: OrderedDict[int, dict] = field(default_factory=OrderedDict)
    again: deque = field(default_factory=deque)  # their answers undone: asked again before anything else
    cursor: int = 0  # with overlap: their next position in the feed's log
    seen: float = field(default_factory=time.monotonic)  # the last question, answer or undo
    asking: bool = False  # has asked for questions in this run (one that only undid is asked nothing)
    answered: int = 0  # answers added in this run


class Feed:
    """Tasks read from the stream, handed to annotators; ``overlap`` gives every annotator every task.

    Without overlap a task goes to one annotator; when that annotator is idle for ``idle_s``, the
    tasks they hold go back to the front of the queue for the next one who asks. With overlap the
    tasks read are kept (a log) so each annotator walks through all of them, skipping those they
    answered before (``key`` names the hash compared: task or input). An undone answer is asked
    again of the annotator who undid it.
    """

    def __init__(self, overlap: bool = False, idle_s: float = IDLE_S, key: str = TASK_HASH,
                 clock: Callable[[], float] = time.monotonic):
        self.overlap, self.idle_s, self.key, self.clock = overlap, idle_s, key, clock
        self.annotators: dict[str, Annotator] = {}
        self._queue: deque[dict] = deque()  # without overlap: read and not handed out
        self._log: list[dict] = []  # with overlap: every task read, in order

    def join(self, session: str, done: set[int] | None = None) -> Annotator:
        """The annotator of a session, seen now; added on first sight (``done``: with overlap, what they answered)."""
        annotator = self.annotators.get(session)
        if annotator is None:
            annotator = self.annotators[session] = Annotator(session, set(done or ()))
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

    def resume(self, annotator: Annotator) -> list[dict]:
        """A reloaded app's questions: their undone answers, then what they were handed and not answered."""
        annotator.asking = True
        self._hand_on_idle(annotator)
        while annotator.again:
            self._hand_out(annotator, annotator.again.popleft(), first=True)
        return list(annotator.pending.values())

    def take(self, annotator: Annotator, n: int) -> list[dict]:
        """Up to ``n`` tasks not yet handed to this annotator: their undone answers first, then fresh ones."""
        annotator.asking = True
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

    @staticmethod
    def _hand_out(annotator: Annotator, task: dict, first: bool = False) -> dict:
        annotator.pending[task[TASK_HASH]] = task
        if first:
            annotator.pending.move_to_end(task[TASK_HASH], last=False)
        return task

    def _hand_on_idle(self, asking: Annotator) -> None:
        """Without overlap: what idle annotators hold (or one that never asks) goes to the front of the queue."""
        if self.overlap:
            return
        for other in self.annotators.values():
            if other is asking or not (other.pending or other.again) or not (self.idle(other) or not other.asking):
                continue
            self._queue.extendleft(reversed([*other.again, *other.pending.values()]))
            other.again.clear()
            other.pending.clear()

    def answered(self, annotator: Annotator, keys: Iterable[int], answers: Iterable[dict] = ()) -> None:
        """Answers stored: off every annotator's hands (without overlap) or this annotator's (with)."""
        keys = set(keys)
        holders = [annotator] if self.overlap else list(self.annotators.values())
        for holder in holders:
            for key in keys:
                holder.pending.pop(key, None)
            if any(t[TASK_HASH] in keys for t in holder.again):
                holder.again = deque(t for t in holder.again if t[TASK_HASH] not in keys)
        if self.overlap:
            annotator.done.update(eg[self.key] for eg in answers)
        elif any(t[TASK_HASH] in keys for t in self._queue):  # answered elsewhere (a resend after a restart)
            self._queue = deque(t for t in self._queue if t[TASK_HASH] not in keys)

    def ask_again(self, annotator: Annotator, task: dict) -> None:
        """An undone answer's question: asked of the annotator who undid it before anything else."""
        key = task[TASK_HASH]
        annotator.done.discard(task[self.key])
        holders = [annotator] if self.overlap else list(self.annotators.values())
        if any(key in a.pending or any(t[TASK_HASH] == key for t in a.again) for a in holders):
            return
        if not self.overlap and any(t[TASK_HASH] == key for t in self._queue):
            self._queue = deque(t for t in self._queue if t[TASK_HASH] != key)
        annotator.again.appendleft(task)

    def finished(self, session: str | None = None) -> bool:
        """Nothing left to hand out and nothing awaiting an answer: for one session's annotator, or anyone's."""
        if not self.overlap:
            return not self._queue and all(not a.pending and not a.again for a in self.annotators.values())
        people = list(self.annotators.values()) if session is None else [self.annotators.get(session)]
        if not people or None in people:  # no one yet, or a newcomer: they walk the whole log
            return not self._log
        return all(not a.pending and not a.again and a.cursor >= len(self._log) for a in people)

    def idle(self, annotator: Annotator) -> bool:
        """Whether an annotator has asked or answered nothing for ``idle_s``."""
        return self.clock() - annotator.seen >= self.idle_s
