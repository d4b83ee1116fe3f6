"""The model in the loop's work queue: update and forget calls on answers, run in order in one background thread."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

ModelCall = Callable[[list[dict]], Any]


class UpdateQueue:
    """Runs model calls (a recipe's ``update``, ``forget``) one at a time, in the order the answers came.

    The thread starts with the first call queued. A call that raises is recorded in :attr:`errors`
    (the answers are stored regardless). Safe to call from many threads.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self._queued = self._done = 0  # calls queued and finished
        self._closing = False
        self._errors: list[str] = []

    def put(self, call: ModelCall, answers: list[dict]) -> None:
        """Run ``call(answers)`` in the background after the calls queued before it."""
        with self._cond:
            if self._jobs is None:
                self._jobs = queue.Queue()
                self._worker = threading.Thread(target=self._run, args=(self._jobs,), name="vnerteach-update",
                                                daemon=True)
                self._worker.start()
            self._queued += 1
            jobs = self._jobs
        jobs.put((call, answers))

    def behind(self) -> bool:
        """Whether the model still has answers queued or being learnt."""
        with self._cond:
            return self._done < self._queued

    def catch_up(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the calls queued so far to finish (not for later ones); whether they did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._queued
            while self._done < target and (left := deadline - time.monotonic()) > 0 and not self._closing:
                self._cond.wait(left)
            return self._done >= target

    def stop_waiting(self) -> None:
        """Let every :meth:`catch_up` return now: the session is closing."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    @property
    def errors(self) -> list[str]:
        """What the calls raised, and the calls dropped at close."""
        return list(self._errors)

    def add_error(self, message: str) -> None:
        """Record a failure of the model's own (e.g. saving it at exit) with the calls' errors."""
        self._errors.append(message)

    def close(self, timeout: float) -> None:
        """Let queued calls finish for up to ``timeout``, drop the rest, and wait for the call under way."""
        self.stop_waiting()
        jobs = self._jobs
        if jobs is None:
            return
        jobs.put(None)
        deadline = time.monotonic() + timeout
        while jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        self._drop_queued(jobs)
        # the call under way ends before the process does: exiting while a daemon thread is
        # inside BLIS aborts the interpreter ("libblis: Aborting")
        if self._worker is not None:
            self._worker.join()

    def _drop_queued(self, jobs: queue.Queue) -> None:
        """Past the close timeout, queued calls are dropped (their answers are stored)."""
        dropped = 0
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                break
            jobs.task_done()
            dropped += job is not None
        jobs.put(None)
        if dropped:
            self._errors.append(f"{dropped} model updates still queued at exit were dropped (the answers are saved)")

    def _run(self, jobs: queue.Queue) -> None:
        while True:
            job = jobs.get()
            try:
                if job is None:
                    return
                call, batch = job
                call(batch)
            except Exception as err:  # the model's problem must not lose the annotator's answers
                self._errors.append(f"{type(err).__name__}: {err}")
            finally:
                if job is not None:
                    with self._cond:
                        self._done += 1
                        self._cond.notify_all()
                jobs.task_done()
