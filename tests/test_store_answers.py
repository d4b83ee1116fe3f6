"""The store's answer path: one transaction per call, idempotent per session and task hash, replace on undo;
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from vnerteach.errors import UsageError
from vnerteach.tasks import set_hashes

pytestmark = pytest.mark.both_backends


def answer(text, kind="accept", **extra):
    return set_hashes({"text": text, "answer": kind, **extra})


def test_new_answers_go_to_dataset_and_session(store):
    saved = store.save_answers([answer("a"), answer("b")], "news", "news-s1")
    assert (saved.added, saved.replaced, saved.unchanged) == (2, 0, 0)
    assert [e["text"] for e in store.iter_examples("news")] == ["a", "b"]
    assert store.count("news-s1") == 2
    assert store.datasets(session=True) == ["news-s1"]
    assert store.stats("news")[0].sessions == 1


def test_resend_changes_nothing(store):
    store.save_answers([answer("a")], "news", "news-s1")
    again = store.save_answers([answer("a")], "news", "news-s1")
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 1)
    assert store.count("news") == 1


def test_a_new_answer_to_the_same_question_replaces_it(store):
    store.save_answers([answer("a"), answer("b")], "news", "news-s1")
    saved = store.save_answers([answer("a", "reject")], "news", "news-s1")
    assert (saved.added, saved.replaced) == (0, 1)
    assert [(e["text"], e["answer"]) for e in store.iter_examples("news")] == [("a", "reject"), ("b", "accept")]
    assert store.stats("news")[0].reject == 1


def test_another_session_is_another_decision(store):
    store.save_answers([answer("a")], "news", "news-s1")
    store.save_answers([answer("a", "reject")], "news", "news-s2")
    assert sorted(e["answer"] for e in store.iter_examples("news")) == ["accept", "reject"]
    assert store.stats("news")[0].sessions == 2


def test_same_question_twice_in_one_call_keeps_the_last(store):
    saved = store.save_answers([answer("a"), answer("a", "ignore")], "news", "news-s1")
    assert saved.added == 1
    assert [e["answer"] for e in store.iter_examples("news")] == ["ignore"]


def test_a_stored_answer_changed_twice_in_one_call_keeps_the_last_and_counts_each_change(store):
    store.save_answers([answer("a"), answer("b")], "news", "news-s1")
    saved = store.save_answers([answer("b", "reject"), answer("a", "reject"), answer("a", "ignore"),
                                answer("a", "ignore"), answer("c")], "news", "news-s1")
    assert (saved.added, saved.replaced, saved.unchanged) == (1, 3, 1)
    assert [(e["text"], e["answer"]) for e in store.iter_examples("news")] == [("a", "ignore"), ("b", "reject"),
                                                                               ("c", "accept")]
    assert [e["event"] for e in store.events("news")] == ["stored"] * 2 + ["replaced"] * 3 + ["stored"]


def test_session_name_cannot_be_a_regular_dataset(store):
    store.save_answers([answer("a")], "news", "news-s1")
    with pytest.raises(UsageError, match="regular dataset"):
        store.save_answers([answer("b")], "other", "news")
    with pytest.raises(UsageError, match="session dataset"):
        store.save_answers([answer("b")], "news-s1", "news-s2")
    assert store.count("news") == 1


def test_a_failed_call_stores_nothing(store):
    bad = answer("b")
    del bad["_input_hash"]
    with pytest.raises(KeyError):
        store.save_answers([answer("a"), bad], "news", "news-s1")
    assert "news" not in store and "news-s1" not in store


def test_a_resend_with_another_timestamp_is_the_same_decision(store):
    store.save_answers([answer("a", _timestamp=1)], "news", "news-s1")
    again = store.save_answers([answer("a", _timestamp=2)], "news", "news-s1")
    assert again.unchanged == 1
    assert [e["_timestamp"] for e in store.iter_examples("news")] == [1]
