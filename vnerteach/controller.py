"""One annotation session: the lazy stream, dedup by hash, batches of questions, answers to the store."""

from __future__ import annotations

import queue
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypedDict

from .activity import waiting
from .added import Asked, asked, check_added
from .corrections import rebuild
from .errors import AnswerError, TaskError, UsageError, VnerteachError
from .failures import FailureLog
from .feed import IDLE_S, Annotator, Feed
from .payoff import HISTORY, Payoff
from .store import Store, to_json
from .store.sessions import HEARTBEAT_S
from .tasks import ANSWERS, INPUT_HASH, TASK_HASH, check_hash, set_hashes, validate_task

EXCLUDE_BY = ("task", "input")
MAX_SESSION_NAME = 200
TAKEN = ("another session answered this task first (it was handed out twice across a restart of the server); "
         "this answer was not stored")
ANNOTATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


class Components(TypedDict, total=False):
    """What a recipe returns to start the annotation server."""

    dataset: str
    stream: Iterable[dict]
    buffer: int | None  # tasks read ahead of the annotator (default 20); small for a stream that ranks by itself
    view_id: str
    config: dict
    exclude: list[str] | None
    exclude_by: str
    update: Callable[[list[dict]], Any] | None
    refresh: Callable[[dict], dict | None] | None  # a question handed out, as the model in the loop now sees it (None: drop)
    forget: Callable[[list[dict]], Any] | None  # answers an undo retracted: the model no longer learns from them
    validate_answer: Callable[[dict], None] | None  # Prodigy's: raises ValueError to refuse an answer, with the reason
    total: int | None  # tasks in the source; with counts, its inputs
    counts: Callable[[], dict] | None  # the stream's own counts: {"inputs", "candidates", "questions"} (ner.teach)
    on_exit: Callable[[], Any] | None
    images: Callable[[str], Any] | None  # page image path by key (default: the page cache, no password)
    failures: FailureLog | None
    read_region: Callable[[Any, Any], list] | None  # OCR of a boxed region of a page image (default: English)
    turn_page: Callable[[dict], dict] | None  # a page task read again turned a further 90 degrees (the rotate key)


@dataclass
class Progress:
    """Where a session stands: answers this run, examples in the dataset, and the source's size."""

    answered: int
    dataset: int
    skipped: int
    total: int | None
    done: bool
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    counts: dict | None = None  # the stream's counts of inputs, candidates and questions (ner.teach)
    team: int | None = None  # answers of all annotators this run, when they share the tasks
    updating: bool = False  # the model in the loop has answers it has not learnt yet
    payoff: list[dict] | None = None  # whether the model pays: pre-fills kept, questions accepted (payoff.Figure)

    def as_dict(self) -> dict:
        """The JSON form served by the API: ``progress`` a fraction when the total is known, ``estimated`` if a guess.

        With the stream's counts, ``total`` counts inputs, not questions: the questions still to come
        are estimated from the questions per input so far.
        """
        fraction, estimated, counts = None, False, self.counts or {}
        handled = self.skipped + self.failed + (self.answered if self.team is None else self.team)
        if self.total and self.done:
            fraction = 1.0
        elif self.total and not self.counts:
            fraction = min(1.0, handled / self.total)
        elif self.total and counts.get("inputs") and counts.get("questions"):
            expected = counts["questions"] * self.total / counts["inputs"]
            fraction, estimated = min(1.0, handled / expected), True
        out = {"answered": self.answered, "dataset": self.dataset, "skipped": self.skipped,
               "total": self.total, "progress": fraction, "estimated": estimated, "done": self.done,
               "failed": self.failed, "failures": self.failures}
        if self.counts:
            out["candidates"], out["questions"] = counts.get("candidates"), counts.get("questions")
        if self.team is not None:
            out["team"] = self.team
        out["updating"] = self.updating
        out["payoff"] = self.payoff or []
        return out


def session_name(dataset: str, now: float | None = None) -> str:
    """The session dataset of a run: ``DATASET-YYYY-MM-DDTHH-MM-SS``."""
    return f"{dataset}-{datetime.fromtimestamp(time.time() if now is None else now).strftime('%Y-%m-%dT%H-%M-%S')}"


def annotator_session(dataset: str, name: str) -> str:
    """The session dataset of a named annotator (``/?session=alice``): ``DATASET-alice``, the same in every run."""
    if not isinstance(name, str) or not ANNOTATOR_NAME.fullmatch(name):
        raise AnswerError(f"annotator name {str(name)[:80]!r}: use 1-64 letters, digits and _ . @ - "
                          "(starting with a letter or digit)")
    return f"{dataset}-{name}"


class Controller:
    """Hands out a recipe's tasks in batches and stores the answers; safe to call from many threads.

    A background reader pulls the stream ahead of the annotators (a small buffer, so a slow source
    such as OCR does not stall a request) and skips tasks whose hash is already in the dataset or
    an excluded dataset. Several annotators may share the server, each under their own session
    (see :mod:`vnerteach.feed`); without one named, requests belong to the run's own session.
    Answers are committed before :meth:`answer` returns.
    """

    def __init__(self, store: Store, components: Components, session: str | None = None,
                 buffer: int = 20, wait_s: float = 1.0, fill_s: float = 0.25,
                 overlap: bool = False, idle_s: float = IDLE_S):
        self.store = store
        self.dataset = _required(components, "dataset")
        self.view_id = _required(components, "view_id")
        self.config = dict(components.get("config") or {})
        self.exclude = list(components.get("exclude") or [])
        self.exclude_by = components.get("exclude_by") or "task"
        if self.exclude_by not in EXCLUDE_BY:
            raise UsageError(f"--exclude-by: use one of {', '.join(EXCLUDE_BY)}, not '{self.exclude_by}'")
        self.total = components.get("total")
        self._counts = components.get("counts")
        self.session = session or session_name(self.dataset)
        self._update = components.get("update")
        self._refresh = components.get("refresh")
        self._turn_page = components.get("turn_page")
        self._forget = components.get("forget")
        self._validate = components.get("validate_answer")
        self._on_exit = components.get("on_exit")
        self._failures = components.get("failures") or FailureLog()
        self._stream: Iterator[dict] = iter(_required(components, "stream"))
        self._buffer_size, self._wait_s, self._fill_s = components.get("buffer") or buffer, wait_s, fill_s
        for name in self.exclude:
            store.get_dataset(name)  # DatasetNotFound names the missing one before the server starts
        # The dataset is made when the session goes live (or with its first answer), so a session
        # that never starts (port taken, dataset in use) leaves no empty dataset behind.
        known = self.dataset in store
        self._key = TASK_HASH if self.exclude_by == "task" else INPUT_HASH
        # Done before this run, by task or input hash; within the run a question is never asked
        # twice (task hash), but other questions about an input still are (ner.teach's candidates).
        # With overlap, what each annotator answered is theirs to skip (their session dataset's).
        shared = [self.dataset] if known and not overlap else []
        self._done = store.hashes(shared + self.exclude, kind=self.exclude_by)
        self._asked: set[int] = set()
        self._dataset_count = store.count(self.dataset) if known else 0
        self._payoff = Payoff(store.tail(self.dataset, HISTORY) if known else ())
        self._answered = 0
        self._skipped = 0
        self._feed = Feed(overlap, idle_s, self._key)
        self._named: set[str] = set()  # annotators' session names checked against the regular datasets
        self._earlier: dict[str, int] = {}  # a named annotator's answers in earlier runs, until they join this one
        self._resent: set[int] = set()  # answered this run before the reader read them (a resend after a restart)
        self._asked_pages: dict[int, Asked] = {}  # page questions as handed out: answers may only append tokens
        self._turned_pages: dict[tuple[str, int], Asked] = {}  # (session, task hash): pages an annotator turned
        self._exhausted = False
        self._error: str | None = None
        self._cond = threading.Condition()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vnerteach-store")
        self._reader: threading.Thread | None = None
        self._updates: queue.Queue | None = None
        self._updater: threading.Thread | None = None
        self._update_errors: list[str] = []
        self._jobs_queued = self._jobs_done = 0  # model calls (update, forget) queued and finished
        self._closed = False
        self._heartbeat: threading.Thread | None = None
        self._stop_beat = threading.Event()

    # the session's claim on its dataset

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

    # questions

    def start(self) -> None:
        """Start reading the stream in the background (idempotent)."""
        with self._cond:
            if self._reader is None:
                self._reader = threading.Thread(target=self._read, name="vnerteach-stream", daemon=True)
                self._reader.start()

    def _read(self) -> None:
        try:
            for task in self._stream:
                set_hashes(task)
                with self._cond:
                    if task[TASK_HASH] in self._resent:  # counted as answered already: not a skip too
                        self._resent.discard(task[TASK_HASH])
                        continue
                    if task[self._key] in self._done or task[TASK_HASH] in self._asked:
                        self._skipped += 1
                        continue
                    self._asked.add(task[TASK_HASH])
                    while not self._feed.wants_more(self._buffer_size) and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    self._feed.add(task)
                    self._cond.notify_all()
        except Exception as err:  # a broken source line: shown in the app and at the end, not a crash
            with self._cond:
                self._error = str(err) if isinstance(err, VnerteachError) else f"{type(err).__name__}: {err}"
        finally:
            with self._cond:
                self._exhausted = True
                self._cond.notify_all()

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
                if self._exhausted or remaining <= 0:
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
        done = self._writer.submit(self._hashes_of, session if session != self.session else self.dataset).result()
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
            self._earlier[session] = self._writer.submit(self._check_named, session).result()
            self._named.add(session)

    def _check_named(self, session: str) -> int:
        """Refuse a name whose session dataset would be a regular dataset; else their answers so far (writer thread)."""
        if session in self.store.datasets():
            raise AnswerError(f"annotator name {session[len(self.dataset) + 1:]!r}: '{session}' is a regular dataset, "
                              "not a session; choose another name")
        return self.store.count(session) if session in self.store else 0

    def _hashes_of(self, dataset: str) -> set[int]:
        """The hashes of a dataset's examples, none if it does not exist (writer thread)."""
        return self.store.hashes([dataset], kind=self.exclude_by) if dataset in self.store else set()

    def _question(self, task: dict, session: str) -> dict:
        return {**_wire(task), "_view_id": self.view_id, "_session_id": session}

    @property
    def error(self) -> str | None:
        """The source's error, if reading it failed."""
        return self._error

    @property
    def waiting(self) -> str | None:
        """What reading the stream waits on right now, if the source says (e.g. "OCR is running on scan.pdf page 3")."""
        return waiting(self._reader)

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
        for eg in answers:
            try:
                checked.append(self._check(eg, session))
                results.append({"status": "stored"})
                hashes.append(checked[-1][TASK_HASH])
            except AnswerError as err:
                results.append({"status": "refused", "reason": str(err)})
                hashes.append(None)
        # One writer thread with one open connection: writes are serialised (as SQLite's are
        # anyway) and a request thread never pays for opening the database.
        unique_by = None if self._feed.overlap else self.exclude_by
        try:
            saved = self._writer.submit(self.store.save_answers, checked, self.dataset, session, unique_by).result()
        except UsageError as err:  # e.g. a session named like a regular dataset
            raise AnswerError(str(err)) from None
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
                self._resent |= {eg[TASK_HASH] for eg in checked} - self._asked
                self._asked |= done
            self._cond.notify_all()
        if self._update is not None and checked:
            self._queue(self._update, checked)
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
        try:
            removed, still_done = self._writer.submit(self._retract, session, task_hash).result()
        except UsageError as err:  # e.g. a session named like a regular dataset
            raise AnswerError(str(err)) from None
        key, overlap = self._key, self._feed.overlap
        with self._cond:
            self._dataset_count -= len(removed)
            self._answered = max(0, self._answered - len(removed))  # an answer of an earlier run may go too
            annotator.answered = max(0, annotator.answered - len(removed))
            for eg in removed:
                if eg[key] not in still_done:
                    self._done.discard(eg[key])
                self._payoff.remove(eg[TASK_HASH])
            if removed and (overlap or removed[0][key] not in still_done):
                self._feed.ask_again(annotator, _unanswered(removed[0]))
                self._asked.add(task_hash)
                self._cond.notify_all()
        if self._forget is not None and removed:
            self._queue(self._forget, removed)
        return {"retracted": len(removed), "progress": self.progress(session).as_dict()}

    def _retract(self, session: str, task_hash: int) -> tuple[list[dict], set[int]]:
        """The examples retracted, and which of their hashes the dataset or excluded datasets still hold (writer thread)."""
        removed = self.store.retract(self.dataset, session, task_hash)
        if not removed:
            return removed, set()
        among = {eg[self._key] for eg in removed}
        return removed, self.store.hashes([self.dataset, *self.exclude], self.exclude_by, among=among)

    def history(self, session: Any = None, n: int = 100) -> list[dict]:
        """A session's latest stored answers, oldest first, as the app shows them (hashes as strings)."""
        session = self._check_session(session)
        try:
            stored = self._writer.submit(self.store.latest_answers, self.dataset, session, max(1, min(int(n), 1000))).result()
        except UsageError as err:  # e.g. the name of a regular dataset
            raise AnswerError(str(err)) from None
        return [_wire(eg) for eg in stored]

    def _check_session(self, session: Any) -> str:
        """A request's session: the run's own, or an annotator's ``DATASET-NAME`` (a named one, or an earlier run's)."""
        session = self.session if session is None else session
        if not isinstance(session, str) or not session.strip() or len(session) > MAX_SESSION_NAME:
            raise AnswerError(f"'session' must be a non-empty name of at most {MAX_SESSION_NAME} characters")
        prefix = self.dataset + "-"
        if session != self.session and not (session.startswith(prefix)
                                            and ANNOTATOR_NAME.fullmatch(session[len(prefix):])):
            raise AnswerError(f"'session' {session[:80]!r} is not a session of dataset '{self.dataset}' "
                              f"(expected '{prefix}NAME'; reload the app)")
        return session

    def _check(self, eg: Any, session: str) -> dict:
        if not isinstance(eg, dict):
            raise AnswerError("expected a task object")
        if eg.get("answer") not in ANSWERS:
            raise AnswerError(f"'answer' must be one of {', '.join(ANSWERS)}")
        for key in (INPUT_HASH, TASK_HASH):
            try:
                eg[key] = check_hash(eg.get(key), key)  # the questions send hashes as strings of digits
            except TaskError as err:
                raise AnswerError(str(err)) from None
        if "text" not in eg and "tokens" not in eg and "image" not in eg:
            raise AnswerError("the task has no 'text', 'image' or 'tokens'")
        try:
            sent_text = eg.get("text")
            corrected = rebuild(eg)  # tokens corrected by hand: text and offsets made to agree again
            validate_task(eg)
            _check_token_indices(eg)
            check_added(eg, self._turned_pages.get((session, eg[TASK_HASH])) or self._asked_pages.get(eg[TASK_HASH]),
                        sent_text if corrected else None)
            if self._validate is not None:
                self._validate(eg)
        except (TaskError, ValueError) as err:
            raise AnswerError(str(err)) from None
        eg["_session_id"] = session
        eg.setdefault("_view_id", self.view_id)
        if type(eg.get("_timestamp")) is not int:
            eg["_timestamp"] = int(time.time())
        try:
            to_json(eg).encode("utf-8")
        except UnicodeEncodeError:  # JSON allows lone surrogates (\ud800); the database does not
            raise AnswerError("the answer holds text that is not valid Unicode (a lone surrogate)") from None
        return eg

    def _queue(self, call: Callable[[list[dict]], Any], answers: list[dict]) -> None:
        """Run a model call (update, forget) on answers in the background, in the order the answers came."""
        with self._cond:
            if self._updates is None:
                self._updates = queue.Queue()
                self._updater = threading.Thread(target=self._run_updates, name="vnerteach-update", daemon=True)
                self._updater.start()
        with self._cond:
            self._jobs_queued += 1
        self._updates.put((call, answers))

    def _drop_queued_updates(self) -> None:
        """Past the close timeout, queued model updates are dropped (their answers are stored)."""
        assert self._updates is not None
        dropped = 0
        while True:
            try:
                job = self._updates.get_nowait()
            except queue.Empty:
                break
            self._updates.task_done()
            dropped += job is not None
        self._updates.put(None)
        if dropped:
            self._update_errors.append(f"{dropped} model updates still queued at exit were dropped "
                                       "(the answers are saved)")

    def _run_updates(self) -> None:
        assert self._updates is not None
        while True:
            job = self._updates.get()
            try:
                if job is None:
                    return
                call, batch = job
                call(batch)
            except Exception as err:  # the model's problem must not lose the annotator's answers
                self._update_errors.append(f"{type(err).__name__}: {err}")
            finally:
                if job is not None:
                    with self._cond:
                        self._jobs_done += 1
                        self._cond.notify_all()
                self._updates.task_done()

    def _behind(self) -> bool:
        """Whether the model in the loop still has answers queued or being learnt (lock held)."""
        return self._jobs_done < self._jobs_queued

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
                return {"task": None, "unknown": True, "updating": self._behind()}
            target = self._jobs_queued
            deadline = time.monotonic() + wait_s
            while self._jobs_done < target and (left := deadline - time.monotonic()) > 0 and not self._closed:
                self._cond.wait(left)
            updating = self._behind()
        if self._refresh is None:
            return {"task": self._question(task, annotator.session), "updating": updating}
        fresh = self._refresh(task)
        with self._cond:
            if task_hash not in annotator.pending:  # answered meanwhile (another tab)
                return {"task": None, "updating": updating}
            if fresh is None:
                del annotator.pending[task_hash]
                self._skipped += 1
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
            done = self._exhausted and self._feed.finished(session)
            counts = self._counts() if self._counts is not None else None
            answered = (self._answered if session is None else annotator.answered if annotator
                        else self._earlier.get(session, 0))
            team = None if session is None or self._feed.overlap else self._answered
            return Progress(answered, self._dataset_count, self._skipped, self.total, done,
                            self._failures.count, self._failures.messages(), counts, team,
                            self._behind(), [f.as_dict() for f in self._payoff.figures()])

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
                "annotators": self.annotators(), "error": self._error}

    def _close_store(self) -> None:
        """Read the dataset's true size (other processes may have added to it) and close the writer's connection."""
        try:
            count = self.store.count(self.dataset)
            with self._cond:
                self._dataset_count = count
        except VnerteachError:  # e.g. dropped meanwhile: keep this run's own count
            pass
        finally:
            self.store.close()

    @property
    def update_errors(self) -> list[str]:
        """Errors the recipe's update callback raised (the answers were stored regardless)."""
        return list(self._update_errors)

    def close(self, timeout: float = 30.0) -> None:
        """Stop reading the stream, give up the dataset, and let queued model updates finish."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._heartbeat is not None:
            self._stop_beat.set()
            self._heartbeat.join(timeout)
        self._writer.submit(self._close_store).result()
        self._writer.shutdown()
        if self._updates is not None:
            self._updates.put(None)
            deadline = time.monotonic() + timeout
            while self._updates.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.01)
            self._drop_queued_updates()
            # the update under way ends before the process does: exiting while a daemon thread is
            # inside BLIS aborts the interpreter ("libblis: Aborting")
            if self._updater is not None:
                self._updater.join()
        on_exit, self._on_exit = self._on_exit, None
        if on_exit is not None:  # e.g. save the model updated in the loop; once, after the last update
            try:
                on_exit()
            except Exception as err:
                self._update_errors.append(f"{type(err).__name__}: {err}")


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


def _check_token_indices(eg: dict) -> None:
    tokens = eg.get("tokens")
    count = len(tokens) if isinstance(tokens, list) else None
    for j, span in enumerate(eg.get("spans") or []):
        for key in ("token_start", "token_end"):
            if key in span and (type(span[key]) is not int or (count is not None and not 0 <= span[key] < count)):
                raise TaskError(f"span {j} '{key}' is not a token index")
        if "token_start" in span and "token_end" in span and span["token_start"] > span["token_end"]:
            raise TaskError(f"span {j} ends before it starts")
    for j, tok in enumerate(tokens or []):
        box = tok.get("bbox") if isinstance(tok, dict) else None
        if box is not None and (not isinstance(box, list) or len(box) != 4
                                or not all(isinstance(v, (int, float)) for v in box)):
            raise TaskError(f"token {j} 'bbox' must be [x0, y0, x1, y1]")

