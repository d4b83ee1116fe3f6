"""Sorters: which scored candidates to ask, lazily: prefer_uncertain, prefer_high_scores, random.

A sorter turns a stream of ``(score, task)`` pairs into a stream of tasks. The two preferring
sorters never look at the absolute score: they keep a running (exponentially weighted) mean and
variance of a priority (closeness to 0.5, or the score itself) and pass a candidate whose priority
is at least ``mean + bias * std``. So they work whatever the model's calibration (a blank model's
beam scores are small, a trained model's close to 0 and 1). They never hold the stream back: when
``patience`` candidates in a row were passed over, or ``max_wait`` seconds went by without one
passing, the best of those passed over goes out (and at the end of the stream).

``prefer_uncertain`` takes a ``warmup`` (0 to 1, read for every candidate): while a model has seen
few accepts it blends the score into the priority, so confident candidates come before the
uncertain ones of a model that knows little yet.
"""

from __future__ import annotations

import math
import random as _random
import time
from typing import Callable, Iterable, Iterator

from ..errors import UsageError

Scored = tuple[float, dict]
PassThrough = Callable[[dict], bool]


def uncertainty(score: float) -> float:
    """1 at a score of 0.5, 0 at 0 or 1."""
    return 1.0 - abs(min(1.0, max(0.0, score)) - 0.5) * 2


class RunningStats:
    """Exponentially weighted mean and variance (West's incremental form)."""

    def __init__(self, alpha: float = 0.05):
        self.alpha = alpha
        self.mean: float | None = None
        self.var = 0.0

    def add(self, value: float) -> None:
        """Fold one value into the mean and variance."""
        if self.mean is None:
            self.mean = value
            return
        diff = value - self.mean
        incr = self.alpha * diff
        self.mean += incr
        self.var = (1 - self.alpha) * (self.var + diff * incr)

    @property
    def std(self) -> float:
        """The running standard deviation."""
        return math.sqrt(max(0.0, self.var))


def _prefer(stream: Iterable[Scored], priority: Callable[[float], float], bias: float, patience: int,
            max_wait: float, alpha: float, pass_through: PassThrough | None,
            clock: Callable[[], float]) -> Iterator[dict]:
    if patience < 0 or max_wait <= 0:
        raise UsageError("patience must be 0 or more and max_wait above 0")
    stats = RunningStats(alpha)
    best: tuple[float, dict] | None = None  # the best candidate passed over since the last one out
    skipped = 0
    last_out = clock()  # restarted when the consumer asks again: time it spent paused is not waiting
    for score, task in stream:
        if pass_through is not None and pass_through(task):
            yield task
            last_out = clock()
            continue
        value = priority(score)
        threshold = None if stats.mean is None else stats.mean + bias * stats.std
        stats.add(value)
        if threshold is None or value >= threshold:
            best, skipped = None, 0
            yield task
            last_out = clock()
            continue
        skipped += 1
        if best is None or value > best[0]:
            best = (value, task)
        if skipped > patience or clock() - last_out >= max_wait:
            out = best[1]
            best, skipped = None, 0
            yield out
            last_out = clock()
    if best is not None:  # the stream ended: the best of what was passed over still gets asked
        yield best[1]


def prefer_uncertain(stream: Iterable[Scored], bias: float = 1.0, patience: int = 10, max_wait: float = 0.5,
                     alpha: float = 0.05, pass_through: PassThrough | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     warmup: Callable[[], float] | None = None) -> Iterator[dict]:
    """Tasks whose score is closer to 0.5 than is usual so far in the stream (see the module docstring)."""
    if warmup is None:
        return _prefer(stream, uncertainty, bias, patience, max_wait, alpha, pass_through, clock)

    def blended(score: float) -> float:
        w = min(1.0, max(0.0, warmup()))
        return (1 - w) * uncertainty(score) + w * score

    return _prefer(stream, blended, bias, patience, max_wait, alpha, pass_through, clock)


def prefer_high_scores(stream: Iterable[Scored], bias: float = 1.0, patience: int = 10, max_wait: float = 0.5,
                       alpha: float = 0.05, pass_through: PassThrough | None = None,
                       clock: Callable[[], float] = time.monotonic) -> Iterator[dict]:
    """Tasks whose score is higher than is usual so far in the stream (see the module docstring)."""
    return _prefer(stream, lambda s: s, bias, patience, max_wait, alpha, pass_through, clock)


def random_order(stream: Iterable[Scored], window: int = 50, seed: int = 0,
                 pass_through: PassThrough | None = None) -> Iterator[dict]:
    """Every candidate, in random order within a sliding window (the baseline for the other sorters)."""
    if window < 1:
        raise UsageError("window must be 1 or more")
    rng = _random.Random(seed)
    held: list[dict] = []
    for _score, task in stream:
        if pass_through is not None and pass_through(task):
            yield task
            continue
        held.append(task)
        if len(held) >= window:
            i = rng.randrange(len(held))
            held[i], held[-1] = held[-1], held[i]
            yield held.pop()
    rng.shuffle(held)
    yield from held


SORTERS: dict[str, Callable[..., Iterator[dict]]] = {
    "prefer_uncertain": prefer_uncertain,
    "prefer_high_scores": prefer_high_scores,
    "random": random_order,
}


def get_sorter(name: str) -> Callable[..., Iterator[dict]]:
    """A sorter by name; UsageError names the choices."""
    try:
        return SORTERS[name]
    except KeyError:
        raise UsageError(f"--sorter: use one of {', '.join(SORTERS)}, not '{name}'") from None


def sort(name: str, stream: Iterable[Scored], pass_through: PassThrough | None = None,
         warmup: Callable[[], float] | None = None) -> Iterator[dict]:
    """The named sorter over a stream of suggestions (``warmup`` goes to prefer_uncertain, the others ignore it)."""
    sorter = get_sorter(name)
    if sorter is prefer_uncertain:
        return prefer_uncertain(stream, pass_through=pass_through, warmup=warmup)
    return sorter(stream, pass_through=pass_through)
