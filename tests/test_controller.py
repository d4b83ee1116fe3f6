"""The controller: lazy stream, dedup (also across restarts), batches, answers, progress, updates."""

from __future__ import annotations

import itertools
import re
import threading
import time

import pytest

from vnerteach.loop.controller import Controller
from vnerteach.errors import AnswerError, DatasetNotFound, UsageError
from vnerteach.loop.feed import session_name
from vnerteach.tasks import set_hashes


def texts(n, prefix="text"):
    return [{"text": f"{prefix} {i}"} for i in range(n)]


def make(store, stream, **extra):
    components = {"dataset": "news", "stream": stream, "view_id": "ner_manual", "config": {"labels": ["ORG"]}}
    return Controller(store, {**components, **extra}, wait_s=5, fill_s=5)


def answered(tasks, kind="accept"):
    return [{**t, "answer": kind} for t in tasks]


def test_batches_in_order_until_the_stream_ends(store):
    c = make(store, iter(texts(25)), total=25)
    got = [t["text"] for _ in range(4) for t in c.questions(10)]
    assert got == [f"text {i}" for i in range(25)]
    assert c.questions(10) == []
    first = c.progress().as_dict()
    assert first["total"] == 25 and first["answered"] == 0 and not first["done"]  # handed out, not answered


def test_the_stream_is_read_lazily(store):
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield {"text": f"t{i}"}

    c = make(store, endless())
    assert len(c.questions(5)) == 5
    assert len(pulled) < 40, len(pulled)  # a small buffer ahead, never the whole stream
    c.close()


def test_questions_carry_hashes_view_and_session(store):
    c = make(store, iter(texts(1)))
    [task] = c.questions(1)
    assert task["_view_id"] == "ner_manual" and task["_session_id"] == c.session
    # As strings: a browser's JSON numbers would round a 64-bit hash.
    assert task["_task_hash"] == str(set_hashes({"text": "text 0"})["_task_hash"])
    assert re.fullmatch(r"news-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d", c.session)
    assert session_name("x", 0).startswith("x-19")


def test_answers_are_stored_and_not_asked_again_after_a_restart(store):
    c = make(store, iter(texts(6)), total=6)
    batch = c.questions(4)
    result = c.answer(answered(batch[:3]), c.session)
    assert (result["saved"], result["added"]) == (3, 3)
    assert result["progress"]["answered"] == 3 and result["progress"]["progress"] == 0.5
    assert store.count("news") == 3 and store.count(c.session) == 3
    c.close()
    again = make(store, iter(texts(6)), total=6, session="news-later")
    assert [t["text"] for t in again.questions(10)] == ["text 3", "text 4", "text 5"]
    progress = again.progress()
    assert (progress.skipped, progress.dataset, progress.answered) == (3, 3, 0)


def test_exclude_datasets_and_exclude_by_input(store):
    store.add_examples([set_hashes({"text": "text 1", "answer": "accept"})], ["old"])
    c = make(store, iter(texts(3)), exclude=["old"])
    assert [t["text"] for t in c.questions(10)] == ["text 0", "text 2"]
    # The same text with a span is another question (task hash) but the same input.
    store.add_examples([set_hashes({"text": "text 0", "answer": "accept",
                                    "spans": [{"start": 0, "end": 4, "label": "ORG"}]})], ["old2"])
    assert [t["text"] for t in make(store, iter(texts(3)), exclude=["old2"]).questions(10)] == ["text 0", "text 1", "text 2"]
    by_input = make(store, iter(texts(3)), exclude=["old2"], exclude_by="input")
    assert [t["text"] for t in by_input.questions(10)] == ["text 1", "text 2"]
    with pytest.raises(DatasetNotFound):
        make(store, iter(texts(1)), exclude=["missing"])
    with pytest.raises(UsageError, match="exclude-by"):
        make(store, iter(texts(1)), exclude_by="text")


def test_duplicates_within_the_stream_are_asked_once(store):
    c = make(store, iter(texts(2) + texts(2)))
    assert len(c.questions(10)) == 2


def test_resend_is_idempotent_and_a_new_answer_replaces(store):
    c = make(store, iter(texts(2)))
    tasks = c.questions(2)
    c.answer(answered(tasks), c.session)
    resend = c.answer(answered(tasks), c.session)
    assert (resend["added"], resend["unchanged"]) == (0, 2)
    undo = c.answer(answered(tasks[:1], "reject"), c.session)
    assert undo["replaced"] == 1
    assert [e["answer"] for e in store.iter_examples("news")] == ["reject", "accept"]
    assert c.progress().answered == 2


def test_a_reload_gets_unanswered_questions_again(store):
    c = make(store, iter(texts(5)))
    first = c.questions(3)
    c.answer(answered(first[:1]), c.session)
    assert [t["text"] for t in c.questions(3, restart=True)] == ["text 1", "text 2", "text 3"]


@pytest.mark.parametrize("bad, reason", [
    (["x"], "expected a task object"),
    ([{"text": "a", "answer": "maybe", "_input_hash": 1, "_task_hash": 2}], "'answer' must be one of"),
    ([{"text": "a", "answer": "accept", "_input_hash": "1x", "_task_hash": 2}], "'_input_hash' must be a signed 64-bit integer"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1.5, "_task_hash": 2}], "'_input_hash' must be a signed 64-bit integer"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": str(2 ** 63)}], "'_task_hash' must be a signed 64-bit"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": 2 ** 64}], "'_task_hash' must be a signed 64-bit"),
    ([{"answer": "accept", "_input_hash": 1, "_task_hash": 2}], "no 'text', 'image' or 'tokens'"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": 2,
       "spans": [{"start": 0, "end": 9, "label": "ORG"}]}], "outside the text"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": 2,
       "tokens": [{"text": "a", "start": 0, "end": 1}], "spans": [{"start": 0, "end": 1, "token_start": 0, "token_end": 3}]}],
     "is tokens 0 to 0, not token_start 0 and token_end 3"),
    ([{"text": "a", "answer": "accept", "_input_hash": 1, "_task_hash": 2,
       "tokens": [{"text": "a", "start": 0, "end": 1, "bbox": [1, 2]}]}], "'bbox' must be"),
])
def test_a_malformed_answer_is_refused_alone_with_its_reason(store, bad, reason):
    c = make(store, iter(texts(1)))
    good = answered(c.questions(1))
    result = c.answer(good + bad, c.session)
    assert result["results"][0] == {"status": "stored"} and result["results"][1]["status"] == "refused"
    assert reason in result["results"][1]["reason"] and (result["saved"], result["refused"]) == (1, 1)
    assert store.count("news") == 1 and c.progress().answered == 1


def test_a_malformed_request_changes_nothing(store):
    c = make(store, iter(texts(1)))
    with pytest.raises(AnswerError, match="'answers' must be a list"):
        c.answer("nope", c.session)
    assert ("news" not in store or store.count("news") == 0) and c.progress().answered == 0


def test_hashes_come_back_exactly_from_their_string_form(store):
    c = make(store, iter(texts(1)))
    [task] = c.questions(1)
    c.answer([{**task, "answer": "accept"}], c.session)
    [stored] = store.iter_examples("news")
    assert stored["_task_hash"] == set_hashes({"text": "text 0"})["_task_hash"]
    assert type(stored["_input_hash"]) is int


def test_session_names_are_checked(store):
    c = make(store, iter(texts(1)))
    task = answered(c.questions(1))
    for session in ("", " ", "x" * 201, 5):
        with pytest.raises(AnswerError, match="session"):
            c.answer(task, session)
    # An answer from an earlier run (kept in the browser while the server was down) keeps its session.
    c.answer(task, "news-2026-01-01T00-00-00")
    assert store.count("news-2026-01-01T00-00-00") == 1


def test_update_runs_in_the_background_and_its_errors_lose_nothing(store):
    seen, calls = [], threading.Event()

    def update(answers):
        seen.append([a["text"] for a in answers])
        calls.set()
        raise ValueError("model exploded")

    c = make(store, iter(texts(2)), update=update)
    c.answer(answered(c.questions(2)), c.session)
    assert calls.wait(5)
    c.close()
    assert seen == [["text 0", "text 1"]]
    assert c.update_errors == ["ValueError: model exploded"]
    assert store.count("news") == 2


def test_close_drops_updates_queued_past_its_timeout_and_waits_for_the_one_under_way(store):
    started, running = [], threading.Event()

    def update(answers):
        started.append(answers[0]["text"])
        running.set()
        time.sleep(0.4)

    c = make(store, iter(texts(6)), update=update)
    for task in c.questions(6):
        c.answer(answered([task]), c.session)
    assert running.wait(5)
    c.close(timeout=0.1)
    # no update thread is left inside the model when the process exits
    assert not c._updates._worker.is_alive()
    assert 1 <= len(started) < 6 and store.count("news") == 6
    assert c.update_errors == [f"{6 - len(started)} model updates still queued at exit were dropped (the answers are saved)"]


def test_a_broken_source_is_reported_not_raised(store):
    def broken():
        yield {"text": "fine"}
        raise UsageError("source.jsonl:2: invalid JSON")

    c = make(store, broken())
    assert [t["text"] for t in c.questions(5)] == ["fine"]
    assert c.error == "source.jsonl:2: invalid JSON"
    assert c.project()["error"] == c.error


def test_missing_components_are_a_usage_error(store):
    with pytest.raises(UsageError, match="'view_id'"):
        Controller(store, {"dataset": "news", "stream": iter([])})


def test_an_answer_resent_from_an_earlier_run_is_not_asked_again(store):
    earlier = make(store, iter(texts(3)), session="news-earlier")
    kept_in_browser = earlier.questions(2)
    later = make(store, iter(texts(3)), session="news-later")
    later.start()
    later.answer([{**kept_in_browser[1], "answer": "accept"}], "news-earlier")
    assert [t["text"] for t in later.questions(10)] == ["text 0", "text 2"]


def test_a_slow_stream_never_keeps_the_app_waiting_more_than_a_second(store):
    release = threading.Event()

    def slow():
        yield {"text": "first"}
        release.wait(30)  # e.g. a model scoring a long document, or OCR of a page
        yield {"text": "second"}

    components = {"dataset": "news", "stream": slow(), "view_id": "ner", "config": {}}
    c = Controller(store, components)  # the defaults the server uses
    assert [t["text"] for t in c.questions(10)] == ["first"]
    started = time.monotonic()
    assert c.questions(10) == [] and not c.progress().done  # "nothing yet": the app asks again
    assert time.monotonic() - started < 5  # a second's wait, not the 30 s the stream is stuck
    release.set()
    deadline = time.monotonic() + 10
    got = []
    while not got and time.monotonic() < deadline:
        got = c.questions(10)
    assert [t["text"] for t in got] == ["second"]
    c.close()


def test_a_refresh_waits_for_the_queued_update_says_updating_when_it_is_slow_and_can_drop_a_question(store):
    learnt, release = [], threading.Event()

    def update(answers):
        release.wait(10)
        learnt.extend(answers)

    def refresh(task):  # the model in the loop's view of a question: what it has learnt so far, or drop "text 2"
        return None if task["text"] == "text 2" else {**task, "meta": {"learnt": len(learnt)}}

    c = make(store, iter(texts(5)), update=update, refresh=refresh)
    first, second, third = c.questions(3)
    c.answer(answered([first]))
    slow = c.refresh(second["_task_hash"], wait_s=0.2)  # the update is still running: said so, task as it was
    assert slow["updating"] and slow["task"]["meta"] == {"learnt": 0} and c.progress().updating
    release.set()
    done = c.refresh(second["_task_hash"])  # waits for the update: the question as the updated model sees it
    assert not done["updating"] and done["task"]["meta"] == {"learnt": 1} and done["task"]["_task_hash"] == second["_task_hash"]
    assert c.questions(1, restart=True)[0]["meta"] == {"learnt": 1}  # a reload gets the refreshed question
    assert c.refresh(third["_task_hash"])["task"] is None  # no longer worth asking: it leaves the session's questions
    assert third["_task_hash"] not in {t["_task_hash"] for t in c.questions(5, restart=True)}
    assert c.refresh(first["_task_hash"]) == {"task": None, "unknown": True, "updating": False}  # answered already
    c.close()
