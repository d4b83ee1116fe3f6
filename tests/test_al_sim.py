"""bench/al_sim.py: the simulated ner.teach is repeatable (wall time plays no part) and seeded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import helpers.teach as tf
from vnerteach.teach.model import TeachModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import al_sim  # noqa: E402
import common  # noqa: E402

pytestmark = pytest.mark.slow


def _pool(n: int, seed: int) -> list[dict]:
    """The synthetic sentences as al_sim tasks (tokens split at spaces, gold in character offsets)."""
    out = []
    for sentence in tf.sentences(n, seed):
        words = sentence["text"].split(" ")
        starts, offset = {}, 0
        for i, word in enumerate(words):
            starts[offset] = i
            offset += len(word) + 1
        text = sentence["text"]
        ents = [(starts[s], starts[s] + len(text[s:e].split(" ")), label) for s, e, label in sentence["gold"]]
        out.append(common.task_of(words, ents))
    return out


def _asked(pool: list[dict], sorter: str, seed: int, n: int = 60) -> list[tuple[int, str]]:
    out = []
    patterns = al_sim.frequent_patterns(_pool(40, seed=9), 3)  # the cold start, as al_sim makes it
    for eg in al_sim.teach_stream(pool, tf.LABELS, sorter, patterns, seed):
        out.append((eg["_task_hash"], eg["answer"]))
        if len(out) >= n:
            break
    return out


def test_teach_stream_asks_the_same_questions_when_scoring_is_slow(monkeypatch):
    pool = _pool(80, seed=3)
    quick = _asked(pool, "prefer_uncertain", seed=0)
    score = TeachModel.score

    def slow_score(self, tasks):  # a loaded machine: each batch takes longer than the live sorter's wait
        time.sleep(0.6)
        return score(self, tasks)

    monkeypatch.setattr(TeachModel, "score", slow_score)
    assert _asked(pool, "prefer_uncertain", seed=0) == quick
    assert any(answer == "accept" for _, answer in quick)


def test_the_seed_draws_the_random_order():
    pool = _pool(80, seed=3)
    first = _asked(pool, "random", seed=0)
    assert _asked(pool, "random", seed=0) == first
    assert _asked(pool, "random", seed=1) != first
