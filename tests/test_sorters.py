"""Sorters: preference for uncertain (or high) scores whatever the calibration, no starvation, random baseline."""

from __future__ import annotations

import random
import statistics

import pytest

from vnerteach.errors import UsageError
from vnerteach.loop.sorters import get_sorter, prefer_high_scores, prefer_uncertain, random_order, uncertainty


def scored(values):
    return [(v, {"i": i, "score": v}) for i, v in enumerate(values)]


def test_uncertainty_peaks_at_one_half():
    assert uncertainty(0.5) == 1.0
    assert uncertainty(0.0) == uncertainty(1.0) == 0.0
    assert uncertainty(0.25) == pytest.approx(0.5)
    assert uncertainty(1.2) == 0.0  # clamped


def test_prefer_uncertain_asks_scores_near_one_half_more_often():
    rng = random.Random(0)
    values = [rng.random() for _ in range(3000)]
    out = [t["score"] for t in prefer_uncertain(scored(values))]
    kept = {id_ for id_ in out}
    skipped = [v for v in values if v not in kept]
    assert 0.1 * len(values) < len(out) < 0.6 * len(values)
    assert statistics.mean(uncertainty(v) for v in out) > statistics.mean(uncertainty(v) for v in skipped) + 0.3


def test_prefer_uncertain_works_whatever_the_calibration():
    # a blank model's beam gives small scores only: the closest to 0.5 among them are still preferred
    rng = random.Random(1)
    values = [rng.random() * 0.05 for _ in range(2000)]
    out = [t["score"] for t in prefer_uncertain(scored(values))]
    assert len(out) > 200
    assert statistics.mean(out) > statistics.mean(values) + 0.01


def test_prefer_high_scores_prefers_high_scores():
    rng = random.Random(2)
    values = [rng.random() for _ in range(2000)]
    out = [t["score"] for t in prefer_high_scores(scored(values))]
    assert statistics.mean(out) > 0.75


def test_no_starvation_when_nothing_looks_uncertain_any_more():
    # uncertainty falls steadily: every candidate is below the running mean, yet the stream keeps flowing
    values = [0.5 + i / 2000 for i in range(1000)]
    out = list(prefer_uncertain(scored(values), patience=10))
    gaps = [b["i"] - a["i"] for a, b in zip(out, out[1:])]
    assert len(out) >= 1000 // 12
    assert max(gaps) <= 11 + 10  # at most patience + 1 skipped before the best of them goes out


def test_no_starvation_by_time_on_a_slow_stream():
    now = [0.0]

    def clock():
        return now[0]

    def slow():
        for i, v in enumerate([0.5] + [0.9 + i / 1e4 for i in range(5)]):
            now[0] += 0.3  # each candidate takes 0.3 s to score
            yield v, {"i": i}

    out = [t["i"] for t in prefer_uncertain(slow(), patience=1000, max_wait=0.5, clock=clock)]
    assert out[:2] == [0, 1]  # the best of those passed over went out within about max_wait


def test_time_the_consumer_spends_paused_is_not_waiting():
    now = [0.0]
    values = [0.5, 0.99, 0.6, 0.99, 0.99]  # after the first, nothing looks uncertain enough to pass
    sorted_ = prefer_uncertain(scored(values), patience=1000, max_wait=0.5, clock=lambda: now[0])
    assert next(sorted_)["i"] == 0
    now[0] += 60  # the annotator's buffer is full: the sorter is not asked for a minute
    # the rest is scored at once: no candidate goes out just because that minute passed, only the
    # best of those passed over when the stream ends
    assert [t["i"] for t in sorted_] == [2]


def test_the_best_passed_over_is_asked_when_the_stream_ends():
    out = [t["i"] for t in prefer_uncertain(scored([0.5, 0.99, 0.9, 0.98]), patience=1000, max_wait=1e9)]
    assert out == [0, 2]


def test_pass_through_tasks_skip_the_sorter():
    stream = scored([0.9 + i / 1000 for i in range(50)])  # ever less uncertain: only the first passes
    stream[10][1]["pattern"] = True
    out = list(prefer_uncertain(stream, patience=1000, max_wait=1e9,
                                pass_through=lambda t: t.get("pattern", False)))
    assert [t["i"] for t in out] == [0, 10, 1]  # the last: the best passed over, when the stream ended


def test_random_order_yields_every_candidate_shuffled_and_reproducibly():
    values = scored([0.1] * 200)
    a = [t["i"] for t in random_order(values, window=20, seed=3)]
    b = [t["i"] for t in random_order(values, window=20, seed=3)]
    assert sorted(a) == list(range(200)) and a == b and a != list(range(200))


def test_sorters_by_name():
    assert get_sorter("random") is random_order
    with pytest.raises(UsageError, match="prefer_uncertain"):
        get_sorter("uncertain")
