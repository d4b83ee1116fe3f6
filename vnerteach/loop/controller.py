"""One annotation session: questions handed to its annotators in batches, their answers checked, stored, learnt from."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

from ..errors import AnswerError, TaskError, UsageError
from ..failures import FailureLog
from ..store import Store
from ..tasks import INPUT_HASH, TASK_HASH, check_hash
from ..tasks.added import Asked, asked
from ..teach.payoff import HISTORY, Payoff
from .answers import check_answer
from .components import EXCLUDE_BY, Components, Progress
from .feed import IDLE_S, Annotator, Feed, annotator_session, check_session, session_name
from .session_store import SessionStore
from .stream_reader import StreamReader
from .updates import UpdateQueue

TAKEN = ("another session answered this task first (it was handed out twice across a restart of the server); "
         "this answer was not stored")


class Controller:
    """Hands out a recipe's tasks in batches and stores the answers; safe to call from many threads.

    A background reader pulls the stream ahead of the annotators (a small buffer, so a slow source
    such as OCR does not stall a request) and skips tasks whose hash is already in the dataset or
    an excluded dataset. Several annotators may share the server, each under their own session
    (see :mod:`vnerteach.loop.feed`); without one named, requests belong to the run's own session.
    Answers are committed before :meth:`answer` returns.
    """

    def __init__(self, store: Store, components: Components, session: str | None = None,
                 buffer: int = 20, wait_s: float = 1.0, fill_s: float = 0.25,
                 overlap: bool = False, idle_s: float = IDLE_S):
        self.dataset = _required(components, "dataset")
        self.view_id = _required(components, "view_id")
        self.config = dict(components.get("config") or {})
        self.exclude = list(components.get("exclude") or [])
        self.exclude_by = components.get("exclude_by") or "task"
        if self.exclude_by not in EXCLUDE_BY:
            raise UsageError(f"--exclude-by: use one of {', '.join(EXCLUDE_BY)}, not '{self.exclude_by}'")
        self.total = components.get("total")
        self._counts = components.get("counts")
        self._waiting = components.get("waiting")
        self.session = session or session_name(self.dataset)
        self._update = components.get("update")
        self._refresh = components.get("refresh")
        self._turn_page = components.get("turn_page")
        self._forget = components.get("forget")
        self._validate = components.get("validate_answer")
        self._on_exit = components.get("on_exit")
        self._failures = components.get("failures") or FailureLog()
        stream = _required(components, "stream")
        self._wait_s, self._fill_s = wait_s, fill_s
        for name in self.exclude:
            store.get_dataset(name)  # DatasetNotFound names the missing one before the server starts
        # The dataset is made when the session goes live (or with its first answer), so a session
        # that never starts (port taken, dataset in use) leaves no empty dataset behind.
        known = self.dataset in store
        self._key = TASK_HASH if self.exclude_by == "task" else INPUT_HASH
        # With overlap, what each annotator answered is theirs to skip (their session dataset's).
        shared = [self.dataset] if known and not overlap else []
        done = store.hashes(shared + self.exclude, kind=self.exclude_by)
        self._dataset_count = store.count(self.dataset) if known else 0
        self._payoff = Payoff(store.tail(self.dataset, HISTORY) if known else ())
        self._answered = 0
        self._feed = Feed(overlap, idle_s, self._key)
        self._named: set[str] = set()  # annotators' session names checked against the regular datasets
        self._earlier: dict[str, int] = {}  # a named annotator's answers in earlier runs, until they join this one
        self._asked_pages: dict[int, Asked] = {}  # page questions as handed out: answers may only append tokens
        self._turned_pages: dict[tuple[str, int], Asked] = {}  # (session, task hash): pages an annotator turned
        self._cond = threading.Condition()
        self._reader = StreamReader(stream, self._feed, self._cond, self._key, done, components.get("buffer") or buffer)
        self._store = SessionStore(store, self.dataset, self.exclude, self.exclude_by)
        self._updates = UpdateQueue()  # the model's update and forget calls, in the background

    def go_live(self, address: str) -> None:
        """Claim the dataset for this session at ``address`` (DatasetInUse names a live one) and beat until close."""
        self._store.go_live(address)

    # questions

    def start(self) -> None:
        """Start reading the stream in the background (idempotent)."""
        self._reader.start()

    def questions(self, n: int = 10, restart: bool = False, session: Any = None) -> list[dict]:
        """Up to ``n`` tasks to ask a session's annotator, fewer only when the stream ends or is slow.

        Waits up to ``wait_s`` for a first task, then up to ``fill_s`` more for the rest, so a
        slow source (OCR) answers with what it has. With ``restart`` (a browser that has just
        loaded), tasks handed to this annotator earlier in this run and not answered yet come
        first, so a reload loses no question.
        """
        self.start()
        n = max(1, min(int(n), 100))
        deadline = time.monotonic() + self._wait_s
        annotator = self._annotator(session)
        with self._cond:
            out = self._feed.resume(annotator)[:n] if restart else []
            if out:
                deadline = min(deadline, time.monotonic() + self._fill_s)
            while len(out) < n:
                got = self._feed.take(annotator, n - len(out))
                if got:
                    if not out:
                        deadline = min(deadline, time.monotonic() + self._fill_s)
                    out += got
                    self._cond.notify_all()
                    continue
                remaining = deadline - time.monotonic()
                if self._reader.exhausted or remaining <= 0:
                    break
                self._cond.notify_all()  # the reader may read on: this annotator's place in the feed moved
                self._cond.wait(remaining)
            for task in out:
                if (page := asked(task)) is not None:
                    self._asked_pages[task[TASK_HASH]] = page
            return [self._question(t, annotator.session) for t in out]

    def _annotator(self, session: Any) -> Annotator:
        """The annotator of a session, seen now (new, with overlap: knowing what they answered before)."""
        session = self._check_session(session)
        self._not_a_dataset(session)
        with self._cond:
            if session in self._feed.annotators or not self._feed.overlap:
                return self._joined(session)
        # read outside the lock: the store's writer thread takes it at close
        done = self._store.hashes_of(session if session != self.session else self.dataset)
        with self._cond:
            return self._joined(session, done)

    def _joined(self, session: str, done: set[int] | None = None) -> Annotator:
        """The feed's annotator of a session; new, a named one counts the answers of their earlier runs (lock held)."""
        new = session not in self._feed.annotators
        annotator = self._feed.join(session, done)
        if new:
            annotator.answered = self._earlier.pop(session, 0)
        return annotator

    def _not_a_dataset(self, session: str) -> None:
        """Refuse, once per name, an annotator whose session dataset would be a regular dataset."""
        if session != self.session and session not in self._named:
            self._earlier[session] = self._store.named(session)
            self._named.add(session)

    def _check_session(self, session: Any) -> str:
        """A request's session: the run's own, or an annotator's ``DATASET-NAME`` (a named one, or an earlier run's)."""
        return check_session(session, self.dataset, self.session)

    def _asked_page(self, session: str, task_hash: int) -> Asked | None:
        """A page question as this session's annotator was last shown it (turned, or as handed out)."""
        return self._turned_pages.get((session, task_hash)) or self._asked_pages.get(task_hash)

    def _question(self, task: dict, session: str) -> dict:
        return {**_wire(task), "_view_id": self.view_id, "_session_id": session}

    @property
    def error(self) -> str | None:
        """The source's error, if reading it failed."""
        return self._reader.error

    @property
    def waiting(self) -> str | None:
        """What reading the stream waits on right now, if the source says (e.g. "OCR is running on scan.pdf page 3")."""
        return self._waiting() if self._waiting is not None else None

    # answers

    def answer(self, answers: Any, session: Any = None) -> dict:
        """Store the valid answers of a request together (one transaction); say per answer: stored, or refused and why.

        A malformed request (no list of answers, a bad session) raises :class:`AnswerError` and
        stores nothing.
        """
        annotator = self._annotator(session)
        session = annotator.session
        if not isinstance(answers, list):
            raise AnswerError("'answers' must be a list of tasks")
        checked, results, hashes = [], [], []
        asked_page = partial(self._asked_page, session)
        for eg in answers:
            try:
                checked.append(check_answer(eg, session, self.view_id, asked_page, self._validate))
                results.append({"status": "stored"})
                hashes.append(checked[-1][TASK_HASH])
            except AnswerError as err:
                results.append({"status": "refused", "reason": str(err)})
                hashes.append(None)
        saved = self._store.save(checked, session, None if self._feed.overlap else self.exclude_by)
        if saved.taken:  # handed out twice across a restart, and answered by another session first
            results = [{"status": "refused", "reason": TAKEN} if h in saved.taken else r
                       for h, r in zip(hashes, results)]
            checked = [eg for eg in checked if eg[TASK_HASH] not in saved.taken]
        done = {eg[TASK_HASH] for eg in checked} | saved.taken
        with self._cond:
            self._answered += saved.added
            annotator.answered += saved.added
            self._dataset_count += saved.added
            self._feed.answered(annotator, done, checked)
            for eg in checked:
                self._payoff.add(eg)
            if not self._feed.overlap:  # a resend after a restart: not to be read and asked again
                self._reader.resent |= {eg[TASK_HASH] for eg in checked} - self._reader.asked
                self._reader.asked |= done
            self._cond.notify_all()
        if self._update is not None and checked:
            self._updates.put(self._update, checked)
        return {"saved": len(checked), "refused": len(answers) - len(checked), "added": saved.added,
                "replaced": saved.replaced, "unchanged": saved.unchanged, "results": results,
                "progress": self.progress(session).as_dict()}

    def undo(self, task_hash: Any, session: Any = None) -> dict:
        """Retract a session's answer (undo): out of the store and the counts, asked again first, not learnt from again.

        Undoing a question that has no stored answer changes nothing, so a resent undo is harmless.
        """
        annotator = self._annotator(session)
        session = annotator.session
        try:
            task_hash = check_hash(task_hash, TASK_HASH)
        except TaskError as err:
            raise AnswerError(str(err)) from None
        removed, still_done = self._store.retract(session, task_hash)
        key, overlap = self._key, self._feed.overlap
        with self._cond:
            self._dataset_count -= len(removed)
            self._answered = max(0, self._answered - len(removed))  # an answer of an earlier run may go too
            annotator.answered = max(0, annotator.answered - len(removed))
            for eg in removed:
                if eg[key] not in still_done:
                    self._reader.done.discard(eg[key])
                self._payoff.remove(eg[TASK_HASH])
            if removed and (overlap or removed[0][key] not in still_done):
                self._feed.ask_again(annotator, _unanswered(removed[0]))
                self._reader.asked.add(task_hash)
                self._cond.notify_all()
        if self._forget is not None and removed:
            self._updates.put(self._forget, removed)
        return {"retracted": len(removed), "progress": self.progress(session).as_dict()}

    def history(self, session: Any = None, n: int = 100) -> list[dict]:
        """A session's latest stored answers, oldest first, as the app shows them (hashes as strings)."""
        session = self._check_session(session)
        return [_wire(eg) for eg in self._store.latest(session, max(1, min(int(n), 1000)))]

    @property
    def refreshes(self) -> bool:
        """Whether the recipe has a model in the loop whose questions are scored again as they are shown."""
        return self._refresh is not None

    def _held(self, task_hash: Any, session: Any) -> tuple[Any, int]:
        """The session's annotator and a checked task hash of a question it may hold; AnswerError for a bad hash."""
        annotator = self._annotator(session)
        try:
            return annotator, check_hash(task_hash, TASK_HASH)
        except TaskError as err:
            raise AnswerError(str(err)) from None

    def refresh(self, task_hash: Any, session: Any = None, wait_s: float = 1.5) -> dict:
        """A question handed to a session, as the model sees it now: after the updates queued so far have been learnt
        (waiting up to ``wait_s`` for them), scored or pre-filled again if the model changed since.

        ``{"task": None}``: the model no longer asks it (it leaves the session's questions); with ``unknown``, this
        run never handed it to the session (keep it as it is). ``updating``: the updates had not finished in
        time, so the task is from the model before them.
        """
        annotator, task_hash = self._held(task_hash, session)
        with self._cond:
            task = annotator.pending.get(task_hash)
            if task is None:  # answered, handed to another, or handed out before a restart: shown as it is
                return {"task": None, "unknown": True, "updating": self._updates.behind()}
        self._updates.catch_up(wait_s)
        updating = self._updates.behind()
        if self._refresh is None:
            return {"task": self._question(task, annotator.session), "updating": updating}
        fresh = self._refresh(task)
        with self._cond:
            if task_hash not in annotator.pending:  # answered meanwhile (another tab)
                return {"task": None, "updating": updating}
            if fresh is None:
                del annotator.pending[task_hash]
                self._reader.skipped += 1
                self._cond.notify_all()
                return {"task": None, "updating": updating}
            annotator.pending[task_hash] = fresh
            return {"task": self._question(fresh, annotator.session), "updating": updating}

    def turn_page(self, task_hash: Any, session: Any = None) -> dict:
        """A page question handed to a session, read again turned a further 90 degrees (the recipe's ``turn_page``): the
        same question with the turned page's tokens and image and no spans; answers to it are checked against it.
        ``{"task": ...}``; AnswerError when the recipe turns no pages or the session holds no such question."""
        if self._turn_page is None:
            raise AnswerError("this recipe's questions cannot be turned (only pages in the manual views)")
        annotator, task_hash = self._held(task_hash, session)
        with self._cond:
            task = annotator.pending.get(task_hash)
        if task is None:
            raise AnswerError("this question is not waiting for an answer from this session (answered, or asked "
                              "before the server restarted): reload the page")
        turned = self._turn_page(task)
        with self._cond:
            if task_hash not in annotator.pending:
                raise AnswerError("the question was answered meanwhile (in another tab?)")
            annotator.pending[task_hash] = turned
            if (page := asked(turned)) is not None:
                self._turned_pages[(annotator.session, task_hash)] = page
        return {"task": self._question(turned, annotator.session)}

    # state

    def progress(self, session: str | None = None) -> Progress:
        """Answers this run (of one session's annotator, or all), the dataset's size, skips, the source's size, bad tasks."""
        with self._cond:
            annotator = self._feed.annotators.get(session) if session is not None else None
            done = self._reader.exhausted and self._feed.finished(session)
            counts = self._counts() if self._counts is not None else None
            answered = (self._answered if session is None else annotator.answered if annotator
                        else self._earlier.get(session, 0))
            team = None if session is None or self._feed.overlap else self._answered
            return Progress(answered, self._dataset_count, self._reader.skipped, self.total, done,
                            self._failures.count, self._failures.messages(), counts, team,
                            self._updates.behind(), [f.as_dict() for f in self._payoff.figures()])

    def annotators(self) -> list[dict]:
        """Each annotator of this run: name (None for the run's own session), session, answers, questions held, idle."""
        prefix = self.dataset + "-"
        with self._cond:
            return [{"name": None if a.session == self.session else a.session[len(prefix):],
                     "session": a.session, "answered": a.answered,
                     "pending": len(a.pending) + len(a.again), "idle": self._feed.idle(a)}
                    for a in self._feed.annotators.values()]

    def project(self, name: str | None = None) -> dict:
        """What the web app needs to set itself up, for the annotator ``name`` (``/?session=alice``) or the run's own."""
        session = self.session
        if name:
            session = annotator_session(self.dataset, name)
            self._not_a_dataset(session)
        return {"dataset": self.dataset, "view_id": self.view_id, "labels": list(self.config.get("labels") or []),
                "config": self.config, "session": session, "annotator": name or None,
                "feed_overlap": self._feed.overlap, "in_loop": self.refreshes,
                "progress": self.progress(session).as_dict(),
                "annotators": self.annotators(), "error": self.error}

    @property
    def update_errors(self) -> list[str]:
        """Errors the recipe's update callback raised (the answers were stored regardless)."""
        return self._updates.errors

    def close(self, timeout: float = 30.0) -> None:
        """Stop reading the stream, give up the dataset, and let queued model updates finish."""
        with self._cond:
            self._reader.close()
        self._updates.stop_waiting()
        count = self._store.close(timeout)
        if count is not None:  # else e.g. dropped meanwhile: keep this run's own count
            with self._cond:
                self._dataset_count = count
        self._updates.close(timeout)
        on_exit, self._on_exit = self._on_exit, None
        if on_exit is not None:  # e.g. save the model updated in the loop; once, after the last update
            try:
                on_exit()
            except Exception as err:
                self._updates.add_error(f"{type(err).__name__}: {err}")


def _required(components: Components, key: str) -> Any:
    value = components.get(key)
    if value is None:
        raise UsageError(f"The recipe returned no '{key}' in its components")
    return value


def _wire(task: dict) -> dict:
    """A task as sent to the app: hashes as strings, since JavaScript numbers hold 53 bits and would round them."""
    return {**task, INPUT_HASH: str(task[INPUT_HASH]), TASK_HASH: str(task[TASK_HASH])}


def _unanswered(example: dict) -> dict:
    """The question of a stored answer, as the annotator left it, to ask again."""
    return {k: v for k, v in example.items() if k not in ("answer", "_timestamp", "_session_id")}
