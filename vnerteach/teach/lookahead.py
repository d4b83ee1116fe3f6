"""Uncertainty sampling over a look-ahead: inputs read ahead into a pool, scored in the background, most uncertain first.

:class:`Lookahead` is the stream ner.correct serves. A reader thread pulls inputs from the source
into a pool of ``size`` inputs (a document's pages as they are read, the OCR pool running ahead);
a scorer thread scores them with the model in small batches (each under the model's lock, so
updates are not starved), new inputs first, then re-scores those scored by an older model, the
oldest first. Whoever iterates gets the pool's most uncertain input, at once when anything is
scored: the stream never waits for the pool to fill. An input much like one already served
(:func:`signature`, MinHash of its token shingles) has its uncertainty scaled down by that
similarity, so twenty receipts from one shop do not come one after the other. The pages of one
document stay together: the document's uncertainty is the sum over its pages, and when it is
chosen its pages follow in order.
"""

from __future__ import annotations

import math
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import costs

Score = Callable[[list[dict]], list["tuple[float, dict] | None"]]
PERMUTATIONS = 64
SHINGLE = 3
SERVED_KEPT = 2000  # signatures of served inputs compared against new ones
_DIGITS = re.compile(r"\d")
_RNG = np.random.default_rng(20261201)
_A = _RNG.integers(1, 2**63, PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, PERMUTATIONS, dtype=np.uint64)


def expected_corrections(scores: dict[Any, float]) -> float:
    """The expected number of spans the annotator changes: each candidate entity is wrong with probability min(p, 1 - p)."""
    return float(sum(min(p, 1.0 - p) for p in scores.values()))


def normalised_logprob(best_p: float, n_tokens: int) -> float:
    """The uncertainty of the best analysis per token: -log p(best) / tokens (0 when the model is sure)."""
    return -math.log(max(best_p, 1e-12)) / max(1, n_tokens)


def expected_cost(scores: dict[Any, float], task: dict, min_prefill: float = 0.5) -> float:
    """Expected seconds to correct the task (vnerteach.teach.costs): reading, edits (removals, additions), kept pre-fills."""
    edits = kept = 0.0
    for p in scores.values():
        if p >= min_prefill:  # pre-filled: kept if right (p), removed if wrong (1 - p)
            kept += p
            edits += 1.0 - p
        else:  # not pre-filled: added if right (p)
            edits += p
    return costs.read_s(task) + costs.EDIT_S * edits + costs.KEEP_S * kept


def return_on_investment(scores: dict[Any, float], best_p: float, task: dict, min_prefill: float = 0.5) -> float:
    """What an answer teaches per second (Haertel et al. 2008): expected corrections / expected seconds to correct."""
    return expected_corrections(scores) / expected_cost(scores, task, min_prefill)


Measure = Callable[[dict[Any, float], float, dict], float]  # (candidate scores, p(best analysis), task) -> priority

# How ner.correct ranks an input: name -> (what it means, the function of its beam's scores).
MEASURES: dict[str, tuple[str, Measure]] = {
    "corrections": ("expected number of corrections (sum of min(p, 1-p) over candidate entities)",
                    lambda scores, best_p, task: expected_corrections(scores)),
    "logprob": ("-log p(best analysis) / tokens", lambda scores, best_p, task: normalised_logprob(best_p, len(task["tokens"]))),
    "roi": ("expected corrections per expected second (reading, edits, kept pre-fills)", return_on_investment),
}


def signature(tokens: Sequence[str]) -> np.ndarray:
    """A MinHash of a text's token 3-shingles (lower case, digits as 0): equal entries estimate the Jaccard similarity."""
    words = [_DIGITS.sub("0", t.lower()) for t in tokens if t.strip()]
    n = SHINGLE if len(words) >= SHINGLE else max(1, len(words))
    shingles = {" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}
    hashed = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in shingles), dtype=np.uint64, count=len(shingles))
    with np.errstate(over="ignore"):
        return ((_A[:, None] * hashed[None, :] + _B[:, None]) >> np.uint64(32)).min(axis=1)


def similarities(signatures: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of each row of ``signatures`` to ``sig``."""
    return (np.atleast_2d(signatures) == sig).mean(axis=1)


def document_key(task: dict, fallback: Any) -> Any:
    """What groups a page with the other pages of its document (``identity.document_of``), or ``fallback`` for a lone input."""
    from ..documents.identity import document_of

    meta = task.get("meta")
    key = document_of(task, by_input=False)
    return key if isinstance(meta, dict) and meta.get("pages") and key else fallback


@dataclass(eq=False)
class _Unit:
    """One input, or one document's pages: what is chosen and served as a whole."""

    key: Any
    seq: int
    pages: int  # pages expected (1 for a lone input)
    tasks: list[dict] = field(default_factory=list)  # as read from the source
    scored: list[dict | None] = field(default_factory=list)  # the latest prediction of each
    scores: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  # the model version each was scored with (-1: not yet)
    complete: bool = False
    sig: np.ndarray | None = None
    near: float = 0.0  # the highest similarity to an input already served

    def ready(self) -> bool:
        return self.complete and bool(self.tasks) and all(s is not None for s in self.scored)

    def priority(self) -> float:
        return sum(self.scores) * (1.0 - self.near)


class Lookahead:
    """An iterator over a source's tasks, most uncertain first among the ``size`` inputs read ahead; :meth:`close` stops it.

    ``score(tasks)`` returns, per task, ``(uncertainty, prediction)`` or ``None`` for one it could
    not score (and reported itself): that task leaves the pool. ``version()`` says which model
    the scores come from; a change re-scores the pool lazily, the stalest first, in at most
    ``rescore_share`` of the time (new inputs are scored at once). With ``deterministic`` every choice
    waits until the pool is full (or the source ended) and scored by the current model: the same
    source and model give the same order (for tests and benchmarks, not for serving).
    """

    def __init__(self, source: Iterable[dict], score: Score, *, size: int = 256, batch: int = 16,
                 max_words: int = 640, version: Callable[[], int] = lambda: 0, diversity: bool = True,
                 deterministic: bool = False, rescore_share: float = 0.25, poll_s: float = 0.2):
        self._source = iter(source)
        self._score = score
        self.size, self.batch, self.max_words = max(1, size), max(1, batch), max_words
        self._version = version
        self.diversity = diversity
        self.deterministic = deterministic
        # re-scoring gets this share of the time: unchecked, it keeps a core and the GIL busy after every
        # update, and the annotator's requests and the updates wait (deterministic: no limit). New inputs
        # are scored at once: the controller may skip many (answered before a restart)
        self.rescore_share = 1.0 if deterministic else min(1.0, max(0.01, rescore_share))
        self._poll_s = poll_s
        self._cond = threading.Condition()
        self._pool: list[_Unit] = []
        self._held = 0  # tasks in the pool
        self._seq = 0
        self._served = np.zeros((SERVED_KEPT, PERMUTATIONS), dtype=np.uint64)  # a ring of served signatures
        self._n_served = 0
        self._out: deque[dict] = deque()  # pages of the chosen document still to yield
        self._read_done = False
        self._error: BaseException | None = None
        self._closed = False
        self._scorer_failed = False  # then the reader stops too, and the error is raised at once
        self._busy = False  # the scorer is scoring a batch
        self.scored = 0  # tasks scored, re-scoring included
        self._threads = [threading.Thread(target=self._guard, args=(self._read,), name="vnerteach-lookahead-read", daemon=True),
                         threading.Thread(target=self._guard, args=(self._rank,), name="vnerteach-lookahead-score", daemon=True)]
        self._started = False

    # the annotator's side

    def __iter__(self) -> "Lookahead":
        return self

    def __next__(self) -> dict:
        self._start()
        with self._cond:
            while True:
                if self._out:
                    return self._out.popleft()
                if self._error is not None and (self._scorer_failed or not self._pool):
                    error, self._error = self._error, None
                    self._closed = True
                    raise error
                if self._closed:
                    raise StopIteration
                unit = self._choose()
                if unit is not None:
                    self._take(unit)
                    continue
                if self._read_done and not self._pool:
                    raise StopIteration
                self._cond.wait(self._poll_s)

    def close(self, timeout: float = 10.0) -> None:
        """Stop reading and scoring; wait up to ``timeout`` for the threads to end (a source blocked in a read ends after it).

        The wait matters at exit: a scorer still inside the model's BLAS when the interpreter
        shuts down aborts the process.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        reader, scorer = self._threads
        for thread, wait in ((scorer, timeout), (reader, min(1.0, timeout))):  # a read may be a page's OCR: not long
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(wait)

    @property
    def running(self) -> bool:
        """Whether a background thread (reading or scoring) is still running."""
        return any(t.is_alive() for t in self._threads)

    def _start(self) -> None:
        with self._cond:
            if not self._started:
                self._started = True
                for thread in self._threads:
                    thread.start()

    def _choose(self) -> _Unit | None:
        """The most uncertain unit ready to serve (with the lock held); in deterministic mode, only once all is settled."""
        if self.deterministic and not self._settled():
            return None
        best = None
        for unit in self._pool:
            if unit.ready() and (best is None or unit.priority() > best.priority()):
                best = unit
        return best

    def _settled(self) -> bool:
        full = self._read_done or self._held >= self.size
        version = self._version()
        return full and not self._busy and all(v == version for u in self._pool for v in u.versions if u.complete)

    def _take(self, unit: _Unit) -> None:
        self._pool.remove(unit)
        self._held -= len(unit.tasks)
        self._out.extend(s for s in unit.scored if s is not None)
        if self.diversity and unit.sig is not None:
            self._served[self._n_served % SERVED_KEPT] = unit.sig
            self._n_served += 1
            others = [other for other in self._pool if other.sig is not None]
            if others:
                sims = similarities(np.stack([other.sig for other in others]), unit.sig)
                for other, sim in zip(others, sims.tolist()):
                    other.near = max(other.near, sim)
        self._cond.notify_all()

    # the background threads

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as err:  # handed to whoever iterates: a source's after the inputs it gave, a scorer's at once
            with self._cond:
                if self._error is None:
                    self._error = err
                if work == self._rank:
                    self._scorer_failed = True
                self._cond.notify_all()

    def _read(self) -> None:
        try:
            for task in self._source:
                if not task.get("tokens"):
                    continue  # nothing to predict: as TeachModel.correct always did
                with self._cond:
                    # the first batch is scored before more is read: the first question comes quickly
                    while (self._held >= self.size or (not self.scored and self._held >= self.batch)) and not self._stopped():
                        last = self._pool[-1] if self._pool else None
                        if last is not None and not last.complete and len(self._pool) == 1 and self._held >= self.size:
                            last.complete = True  # a document larger than the pool: served in parts
                        self._cond.wait(self._poll_s)
                    if self._stopped():
                        return
                    self._add(task)
        finally:
            with self._cond:
                self._read_done = True
                for unit in self._pool:
                    unit.complete = True
                self._cond.notify_all()

    def _stopped(self) -> bool:
        return self._closed or self._scorer_failed

    def _add(self, task: dict) -> None:
        """Put a task in the pool: a page joins its document's unit, anything else starts a unit (lock held)."""
        key = document_key(task, ("input", self._seq))
        last = self._pool[-1] if self._pool else None
        if last is not None and not last.complete and last.key != key:
            last.complete = True  # the source moved on: pages that failed will not come
        if last is not None and not last.complete and last.key == key:
            unit = last
        else:
            meta = task.get("meta") or {}
            pages = meta.get("pages") if isinstance(meta, dict) and not isinstance(key, tuple) else 1
            unit = _Unit(key, self._seq, pages if isinstance(pages, int) and pages > 0 else 1)
            self._seq += 1
            self._pool.append(unit)
        unit.tasks.append(task)
        unit.scored.append(None)
        unit.scores.append(0.0)
        unit.versions.append(-1)
        self._held += 1
        if len(unit.tasks) >= unit.pages:
            unit.complete = True
        if self.diversity:
            words = [t.get("text", "") for u_task in unit.tasks for t in u_task["tokens"]]
            unit.sig = signature(words)
            served = self._served[:min(self._n_served, SERVED_KEPT)]
            unit.near = float(similarities(served, unit.sig).max()) if len(served) else 0.0
        self._cond.notify_all()

    def _work(self, rescore: bool) -> list[tuple[_Unit, int]]:
        """The next batch to score (lock held): unscored tasks in source order, else (if ``rescore``) the stalest scores."""
        version = self._version()
        fresh = [(u, i) for u in self._pool for i, v in enumerate(u.versions) if v == -1]
        stale = sorted(((u, i) for u in self._pool for i, v in enumerate(u.versions) if 0 <= v != version),
                       key=lambda x: (x[0].versions[x[1]], x[0].seq, x[1])) if rescore and not fresh else []
        batch, words = [], 0
        for unit, i in fresh + stale:
            batch.append((unit, i))
            words += len(unit.tasks[i]["tokens"])
            if len(batch) >= self.batch or words >= self.max_words:
                break
        return batch

    def _rank(self) -> None:
        rest_until = 0.0  # re-scoring rests until then, so it takes at most rescore_share of the time
        while True:
            with self._cond:
                while True:
                    if self._stopped():
                        return
                    now = time.monotonic()
                    work = self._work(rescore=now >= rest_until)
                    if work:
                        break
                    if self._read_done and not self._pool:
                        return
                    self._cond.wait(min(self._poll_s, max(0.005, rest_until - now)))
                self._busy = True
                version = self._version()
                rescoring = all(unit.versions[i] >= 0 for unit, i in work)
            started = time.monotonic()
            try:
                results = self._score([unit.tasks[i] for unit, i in work])
            finally:
                with self._cond:
                    self._busy = False
            if rescoring and self.rescore_share < 1.0:
                spent = time.monotonic() - started
                rest_until = time.monotonic() + spent * (1.0 - self.rescore_share) / self.rescore_share
            self._store(work, results, version)

    def _store(self, work: list[tuple[_Unit, int]], results: list[tuple[float, dict] | None], version: int) -> None:
        """Keep each prediction with its unit; a task the scorer could not score (``None``) leaves the pool."""
        with self._cond:
            failed: dict[int, tuple[_Unit, set[int]]] = {}
            for (unit, i), result in zip(work, results):
                if unit not in self._pool:
                    continue  # served meanwhile (its older prediction went out)
                if result is None:
                    failed.setdefault(id(unit), (unit, set()))[1].add(i)
                    continue
                unit.scores[i], unit.scored[i] = result
                unit.versions[i] = version
                self.scored += 1
            for unit, indices in failed.values():
                self._drop(unit, indices)
            self._cond.notify_all()

    def _drop(self, unit: _Unit, indices: set[int]) -> None:
        keep = [i for i in range(len(unit.tasks)) if i not in indices]
        self._held -= len(unit.tasks) - len(keep)
        for name in ("tasks", "scored", "scores", "versions"):
            setattr(unit, name, [getattr(unit, name)[i] for i in keep])
        if not unit.tasks:
            self._pool.remove(unit)
