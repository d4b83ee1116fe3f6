"""One annotation session: the lazy stream, dedup by hash, batches of questions, answers to the store."""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypedDict

from .added import Asked, asked, check_added
from .errors import AnswerError, TaskError, UsageError, VnerteachError
from .store import HEARTBEAT_S, Store
from .tasks import ANSWERS, INPUT_HASH, TASK_HASH, check_hash, set_hashes, validate_task

EXCLUDE_BY = ("task", "input")
MAX_SESSION_NAME = 200


class Components(TypedDict, total=False):
    """What a recipe returns to start the annotation server."""

    dataset: str
    stream: Iterable[dict]
    view_id: str
    config: dict
    exclude: list[str] | None
    exclude_by: str
    update: Callable[[list[dict]], Any] | None
    total: int | None
    on_exit: Callable[[], Any] | None
    images: Callable[[str], Any] | None  # page image path by key (default: the page cache, no password)
    read_region: Callable[[Any, Any], list] | None  # OCR of a boxed region of a page image (default: English)


@dataclass
class Progress:
    """Where a session stands: answers this run, examples in the dataset, and the source's size."""

    answered: int
    dataset: int
    skipped: int
    total: int | None
    done: bool

    def as_dict(self) -> dict:
        """The JSON form served by the API, with ``progress`` as a fraction when the total is known."""
        fraction = None
        if self.total:
            fraction = min(1.0, (self.skipped + self.answered) / self.total)
        return {"answered": self.answered, "dataset": self.dataset, "skipped": self.skipped,
                "total": self.total, "progress": fraction, "done": self.done}


def session_name(dataset: str, now: float | None = None) -> str:
    """The session dataset of a run: ``DATASET-YYYY-MM-DDTHH-MM-SS``."""
    return f"{dataset}-{datetime.fromtimestamp(time.time() if now is None else now).strftime('%Y-%m-%dT%H-%M-%S')}"


class Controller:
    """Hands out a recipe's tasks in batches and stores the answers; safe to call from many threads.

    A background reader pulls the stream ahead of the annotator (a small buffer, so a slow source
    such as OCR does not stall a request) and skips tasks whose hash is already in the dataset or
    an excluded dataset. Answers are committed before :meth:`answer` returns.
    """

    def __init__(self, store: Store, components: Components, session: str | None = None,
                 buffer: int = 20, wait_s: float = 1.0, fill_s: float = 0.25):
        self.store = store
        self.dataset = _required(components, "dataset")
        self.view_id = _required(components, "view_id")
        self.config = dict(components.get("config") or {})
        self.exclude = list(components.get("exclude") or [])
        self.exclude_by = components.get("exclude_by") or "task"
        if self.exclude_by not in EXCLUDE_BY:
            raise UsageError(f"--exclude-by: use one of {', '.join(EXCLUDE_BY)}, not '{self.exclude_by}'")
        self.total = components.get("total")
        self.session = session or session_name(self.dataset)
        self._update = components.get("update")
        self._on_exit = components.get("on_exit")
        self._stream: Iterator[dict] = iter(_required(components, "stream"))
        self._buffer_size, self._wait_s, self._fill_s = buffer, wait_s, fill_s
        store.create_dataset(self.dataset)
        for name in self.exclude:
            store.get_dataset(name)  # DatasetNotFound names the missing one before the server starts
        # Done before this run, by task or input hash; within the run a question is never asked
        # twice (task hash), but other questions about an input still are (ner.teach's candidates).
        self._done = store.hashes([self.dataset, *self.exclude], kind=self.exclude_by)
        self._asked: set[int] = set()
        self._dataset_count = store.count(self.dataset)
        self._answered = 0
        self._skipped = 0
        self._ready: deque[dict] = deque()
        self._pending: OrderedDict[int, dict] = OrderedDict()  # handed out, not yet answered
        self._asked_pages: dict[int, Asked] = {}  # page questions as handed out: answers may only append tokens
        self._exhausted = False
        self._error: str | None = None
        self._cond = threading.Condition()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vnerteach-store")
        self._reader: threading.Thread | None = None
        self._updates: queue.Queue | None = None
        self._update_errors: list[str] = []
        self._closed = False
        self._heartbeat: threading.Thread | None = None
        self._stop_beat = threading.Event()

    # the session's claim on its dataset

    def go_live(self, address: str) -> None:
        """Claim the dataset for this session at ``address`` (DatasetInUse names a live one) and beat until close."""
        owner = self.store.claim(self.dataset, address)
        self._heartbeat = threading.Thread(target=self._beat, args=(owner,), name="vnerteach-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self, owner: str) -> None:
        try:
            while not self._stop_beat.wait(HEARTBEAT_S):
                try:
                    self.store.beat(self.dataset, owner)
                except Exception:  # e.g. a long import holds the lock: beat again next time
                    pass
            self.store.release(self.dataset, owner)
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
        key = TASK_HASH if self.exclude_by == "task" else INPUT_HASH
        try:
            for task in self._stream:
                set_hashes(task)
                with self._cond:
                    if task[key] in self._done or task[TASK_HASH] in self._asked:
                        self._skipped += 1
                        continue
                    self._asked.add(task[TASK_HASH])
                    while len(self._ready) >= self._buffer_size and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    self._ready.append(task)
                    self._cond.notify_all()
        except Exception as err:  # a broken source line: shown in the app and at the end, not a crash
            with self._cond:
                self._error = str(err) if isinstance(err, VnerteachError) else f"{type(err).__name__}: {err}"
        finally:
            with self._cond:
                self._exhausted = True
                self._cond.notify_all()

    def questions(self, n: int = 10, restart: bool = False) -> list[dict]:
        """Up to ``n`` tasks to ask, fewer only when the stream ends or is slow.

        Waits up to ``wait_s`` for a first task, then up to ``fill_s`` more for the rest, so a
        slow source (OCR) answers with what it has. With ``restart`` (a browser that has just
        loaded), tasks handed out earlier in this run and not answered yet come first, so a
        reload loses no question.
        """
        self.start()
        n = max(1, min(int(n), 100))
        deadline = time.monotonic() + self._wait_s
        with self._cond:
            out = list(self._pending.values())[:n] if restart else []
            if out:
                deadline = min(deadline, time.monotonic() + self._fill_s)
            while len(out) < n:
                if self._ready:
                    task = self._ready.popleft()
                    self._pending[task[TASK_HASH]] = task
                    if (page := asked(task)) is not None:
                        self._asked_pages[task[TASK_HASH]] = page
                    if not out:
                        deadline = min(deadline, time.monotonic() + self._fill_s)
                    out.append(task)
                    self._cond.notify_all()
                    continue
                remaining = deadline - time.monotonic()
                if self._exhausted or remaining <= 0:
                    break
                self._cond.wait(remaining)
            return [self._question(t) for t in out]

    def _question(self, task: dict) -> dict:
        # Hashes travel as strings: JavaScript numbers hold 53 bits and would round 64-bit hashes.
        return {**task, INPUT_HASH: str(task[INPUT_HASH]), TASK_HASH: str(task[TASK_HASH]),
                "_view_id": self.view_id, "_session_id": self.session}

    @property
    def error(self) -> str | None:
        """The source's error, if reading it failed."""
        return self._error

    # answers

    def answer(self, answers: Any, session: Any = None) -> dict:
        """Validate and store answers (all or nothing, one transaction); return counts and progress."""
        session = self.session if session is None else session
        if not isinstance(session, str) or not session.strip() or len(session) > MAX_SESSION_NAME:
            raise AnswerError(f"'session' must be a non-empty name of at most {MAX_SESSION_NAME} characters")
        if not isinstance(answers, list):
            raise AnswerError("'answers' must be a list of tasks")
        checked = [self._check(eg, i, session) for i, eg in enumerate(answers)]
        # One writer thread with one open connection: writes are serialised (as SQLite's are
        # anyway) and a request thread never pays for opening the database.
        try:
            saved = self._writer.submit(self.store.save_answers, checked, self.dataset, session).result()
        except UsageError as err:  # e.g. a session named like a regular dataset
            raise AnswerError(str(err)) from None
        done = {eg[TASK_HASH] for eg in checked}
        with self._cond:
            self._answered += saved.added
            self._dataset_count += saved.added
            for key in done:
                self._pending.pop(key, None)
            self._asked |= done
            if any(t[TASK_HASH] in done for t in self._ready):  # answered elsewhere (a resend after a restart)
                self._ready = deque(t for t in self._ready if t[TASK_HASH] not in done)
        if self._update is not None and checked:
            self._queue_update(checked)
        return {"saved": len(checked), "added": saved.added, "replaced": saved.replaced,
                "unchanged": saved.unchanged, "progress": self.progress().as_dict()}

    def _check(self, eg: Any, i: int, session: str) -> dict:
        where = f"answer {i}"
        if not isinstance(eg, dict):
            raise AnswerError(f"{where}: expected a task object")
        if eg.get("answer") not in ANSWERS:
            raise AnswerError(f"{where}: 'answer' must be one of {', '.join(ANSWERS)}")
        for key in (INPUT_HASH, TASK_HASH):
            try:
                eg[key] = check_hash(eg.get(key), key)  # the questions send hashes as strings of digits
            except TaskError as err:
                raise AnswerError(f"{where}: {err}") from None
        if "text" not in eg and "tokens" not in eg and "image" not in eg:
            raise AnswerError(f"{where}: the task has no 'text', 'image' or 'tokens'")
        try:
            validate_task(eg)
            _check_token_indices(eg)
            check_added(eg, self._asked_pages.get(eg[TASK_HASH]))
        except TaskError as err:
            raise AnswerError(f"{where}: {err}") from None
        eg["_session_id"] = session
        eg.setdefault("_view_id", self.view_id)
        if type(eg.get("_timestamp")) is not int:
            eg["_timestamp"] = int(time.time())
        return eg

    def _queue_update(self, answers: list[dict]) -> None:
        with self._cond:
            if self._updates is None:
                self._updates = queue.Queue()
                threading.Thread(target=self._run_updates, name="vnerteach-update", daemon=True).start()
        self._updates.put(answers)

    def _run_updates(self) -> None:
        assert self._updates is not None
        while True:
            batch = self._updates.get()
            try:
                if batch is None:
                    return
                self._update(batch)
            except Exception as err:  # the model's problem must not lose the annotator's answers
                self._update_errors.append(f"{type(err).__name__}: {err}")
            finally:
                self._updates.task_done()

    # state

    def progress(self) -> Progress:
        """Answers stored this run, the dataset's size, tasks skipped as seen, and the source's size."""
        with self._cond:
            done = self._exhausted and not self._ready and not self._pending
            return Progress(self._answered, self._dataset_count, self._skipped, self.total, done)

    def project(self) -> dict:
        """What the web app needs to set itself up."""
        return {"dataset": self.dataset, "view_id": self.view_id, "labels": list(self.config.get("labels") or []),
                "config": self.config, "session": self.session, "progress": self.progress().as_dict(),
                "error": self._error}

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

