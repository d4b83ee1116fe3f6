"""Issue 12, point 7: undo retracts an answer from the store, the counts and the model, and the task is asked again;
on SQLite and PostgreSQL (the store, the API in-process and served)."""

from __future__ import annotations

import json

import pytest
import spacy

from vnerteach.loop.controller import Controller
from vnerteach.errors import UsageError
from vnerteach.teach.model import TeachModel, TeachSettings
from vnerteach.web.server import make_app
from vnerteach.tasks import INPUT_HASH, TASK_HASH, add_tokens, set_hashes
from vnerteach.nlp.training_data import load_answers

from helpers import write_jsonl
from helpers.teach import LABELS, sentences
from helpers.web import ServedRecipe, free_port, http, wsgi

pytestmark = pytest.mark.both_backends


def answer(text, kind="accept", **extra):
    return set_hashes({"text": text, "answer": kind, "spans": [{"start": 0, "end": len(text.split()[0]), "label": "ORG"}],
                       **extra})


# the store


def test_retract_removes_the_answer_from_dataset_session_counts_and_exports(store, cli, tmp_path):
    a, b, c = answer("Apple buys"), answer("Banana sells", "reject"), answer("Cherry grows")
    store.save_answers([a, b, c], "news", "news-s1")
    removed = store.retract("news", "news-s1", c[TASK_HASH])
    assert [eg["text"] for eg in removed] == ["Cherry grows"]
    assert store.count("news") == store.count("news-s1") == 2
    stats = store.stats("news")[0]
    assert (stats.examples, stats.accept, stats.reject) == (2, 1, 1)
    assert [eg["text"] for eg in store.iter_examples("news")] == ["Apple buys", "Banana sells"]
    assert c[TASK_HASH] not in store.hashes(["news"]) and c[INPUT_HASH] not in store.hashes(["news"], "input")
    assert store.Example.select().count() == 2  # no dataset keeps it: the example itself is gone

    result, counts = load_answers(store, ["news"], spacy.blank("en"))
    assert counts == {"news": 2} and c[INPUT_HASH] not in {m.input_hash for m in result.merged}
    out = tmp_path / "news.jsonl"
    assert cli("db-out", "news", out).exit_code == 0
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == ["Apple buys", "Banana sells"]
    table = cli("stats", "news").stdout
    assert "news" in table and " 2 " in table and " 3 " not in table

    events = list(store.events("news"))
    assert [(e["event"], e[TASK_HASH]) for e in events] == [
        ("stored", a[TASK_HASH]), ("stored", b[TASK_HASH]), ("stored", c[TASK_HASH]), ("retracted", c[TASK_HASH])]
    assert events[-1] | {"time": 0} == {"time": 0, "event": "retracted", "session": "news-s1",
                                        INPUT_HASH: c[INPUT_HASH], TASK_HASH: c[TASK_HASH], "answer": "accept"}

    assert store.retract("news", "news-s1", c[TASK_HASH]) == []  # idempotent: nothing left, nothing logged
    assert len(list(store.events("news"))) == 4 and store.count("news") == 2


def test_retract_touches_only_its_session_and_keeps_an_example_another_dataset_holds(store):
    a = answer("Apple buys")
    store.save_answers([a], "news", "news-s1")
    store.save_answers([a], "news", "news-s2")
    store.add_examples([a], ["other"])
    assert len(store.retract("news", "news-s2", a[TASK_HASH])) == 1
    assert store.count("news") == 1 and store.count("news-s1") == 1 and store.count("news-s2") == 0
    assert store.retract("news", "news-s9", a[TASK_HASH]) == []  # no such session: nothing to retract
    assert store.retract("news", "news-s1", a[TASK_HASH]) and store.count("news") == 0
    assert store.count("other") == 1  # imported into another dataset: kept there


def test_a_regular_dataset_cannot_stand_in_for_the_session(store):
    store.save_answers([answer("Apple buys")], "news", "news-s1")
    with pytest.raises(UsageError, match="regular dataset"):
        store.retract("news", "news", answer("Apple buys")[TASK_HASH])
    assert store.count("news") == 1


def test_replacements_are_logged_and_answering_again_after_undo_stores_anew(store):
    a = answer("Apple buys")
    store.save_answers([a], "news", "news-s1")
    store.save_answers([{**a, "answer": "reject"}], "news", "news-s1")
    store.save_answers([{**a, "answer": "reject"}], "news", "news-s1")  # a resend: no event
    store.retract("news", "news-s1", a[TASK_HASH])
    store.save_answers([{**a, "answer": "ignore"}], "news", "news-s1")
    assert [(e["event"], e["answer"]) for e in store.events("news")] == [
        ("stored", "accept"), ("replaced", "reject"), ("retracted", "reject"), ("stored", "ignore")]
    assert [e["answer"] for e in store.events("news", ["reject"])] == ["reject", "reject"]
    assert [eg["answer"] for eg in store.iter_examples("news")] == ["ignore"]
    store.drop("news")
    store.create_dataset("news")
    assert list(store.events("news")) == []  # a dropped dataset takes its history with it


def test_a_request_of_many_answers_logs_every_one(store):
    saved = store.save_answers([answer(f"Text {i} here") for i in range(1234)], "news", "news-s1")
    assert saved.added == 1234 and sum(1 for e in store.events("news") if e["event"] == "stored") == 1234


def test_db_out_history_prints_stored_and_retracted_events(store, cli, tmp_path):
    a, b = answer("Apple buys"), answer("Banana sells", "reject")
    store.save_answers([a, b], "news", "news-s1")
    store.retract("news", "news-s1", b[TASK_HASH])
    result = cli("db-out", "news", "--history")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e["session"], e["_task_hash"], e["_input_hash"], e["answer"]) for e in events] == [
        ("stored", "news-s1", a[TASK_HASH], a[INPUT_HASH], "accept"),
        ("stored", "news-s1", b[TASK_HASH], b[INPUT_HASH], "reject"),
        ("retracted", "news-s1", b[TASK_HASH], b[INPUT_HASH], "reject")]
    assert all(isinstance(e["time"], float) for e in events) and events[0]["time"] <= events[-1]["time"]
    out = tmp_path / "history.jsonl"
    assert cli("db-out", "news", out, "--history", "--answer", "reject").exit_code == 0
    assert [json.loads(line)["event"] for line in out.read_text().splitlines()] == ["stored", "retracted"]
    refused = cli("db-out", "news", "--history", "--format", "conll")
    assert refused.exit_code == 2 and "--history" in refused.stderr


# the controller and the API


TEXTS = [{"text": f"Sentence {i} from Acme"} for i in range(5)]


def served(store, tasks=TEXTS, **extra):
    c = Controller(store, {"dataset": "news", "stream": iter([dict(t) for t in tasks]), "view_id": "ner_manual",
                           "config": {"labels": ["ORG"]}, "total": len(tasks), **extra}, wait_s=5, fill_s=5)
    return c, make_app(c)


def post(app, path, body):
    code, data = wsgi(app, "POST", path, body)
    assert code == 200, data
    return data


def test_answer_then_undo_then_the_task_is_asked_again_and_the_counts_drop(store):
    c, app = served(store)
    try:
        session = wsgi(app, "GET", "/api/project")[1]["session"]
        tasks = wsgi(app, "GET", "/api/questions?n=3")[1]["tasks"]
        for t in tasks:
            post(app, "/api/answers", {"session": session, "answers": [{**t, "answer": "accept"}]})
        undone = post(app, "/api/undo", {"session": session, "task_hash": tasks[2]["_task_hash"]})
        assert undone["retracted"] == 1
        assert (undone["progress"]["answered"], undone["progress"]["dataset"]) == (2, 2)
        assert store.count("news") == 2 and int(tasks[2]["_task_hash"]) not in store.hashes(["news"])
        again = wsgi(app, "GET", "/api/questions?n=2")[1]["tasks"]
        assert [t["text"] for t in again] == ["Sentence 2 from Acme", "Sentence 3 from Acme"]  # first, then the rest
        assert again[0]["_task_hash"] == tasks[2]["_task_hash"] and "answer" not in again[0]
        assert post(app, "/api/undo", {"session": session, "task_hash": tasks[2]["_task_hash"]})["retracted"] == 0
        history = wsgi(app, "GET", f"/api/history?session={session}")[1]["answers"]
        assert [(h["text"], h["_task_hash"]) for h in history] == [(t["text"], t["_task_hash"]) for t in tasks[:2]]
        saved = post(app, "/api/answers", {"session": session, "answers": [{**again[0], "answer": "reject"}]})
        assert saved["added"] == 1 and saved["progress"]["dataset"] == 3
    finally:
        c.close()


def test_a_reload_gets_the_undone_task_first(store):
    c, app = served(store)
    try:
        session = wsgi(app, "GET", "/api/project")[1]["session"]
        tasks = wsgi(app, "GET", "/api/questions?n=5")[1]["tasks"]
        post(app, "/api/answers", {"session": session, "answers": [{**t, "answer": "accept"} for t in tasks[:2]]})
        post(app, "/api/undo", {"session": session, "task_hash": tasks[1]["_task_hash"]})
        reloaded = wsgi(app, "GET", "/api/questions?n=10&restart=1")[1]["tasks"]
        assert [t["text"] for t in reloaded] == [f"Sentence {i} from Acme" for i in (1, 2, 3, 4)]
    finally:
        c.close()


@pytest.mark.parametrize("body, status", [
    ({"session": "x", "task_hash": "not a hash"}, 400),
    ({"session": "news", "task_hash": "1"}, 400),
    ({"session": "", "task_hash": "1"}, 400),
    ({"session": "x"}, 400),
])
def test_a_malformed_undo_is_refused_and_changes_nothing(store, body, status):
    c, app = served(store)
    try:
        session = wsgi(app, "GET", "/api/project")[1]["session"]
        task = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
        post(app, "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]})
        code, data = wsgi(app, "POST", "/api/undo", body)
        assert code == status and data["error"]
        assert wsgi(app, "POST", "/api/undo", body, as_app=False)[0] == 403  # behind the app key
        assert store.count("news") == 1
        assert wsgi(app, "GET", "/api/history?session=news")[0] == 400  # a regular dataset is not a session
    finally:
        c.close()


def test_an_answer_from_before_the_run_is_asked_again_after_undo(store):
    store.save_answers([{**set_hashes(dict(TEXTS[0])), "answer": "accept"}], "news", "news-old")
    c, app = served(store)
    try:
        first = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"]
        assert first[0]["text"] == "Sentence 1 from Acme"  # answered before: skipped
        undone = post(app, "/api/undo", {"session": "news-old", "task_hash": str(set_hashes(dict(TEXTS[0]))[TASK_HASH])})
        assert undone["retracted"] == 1 and undone["progress"]["dataset"] == 0
        assert [t["text"] for t in wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"]] == ["Sentence 0 from Acme"]
    finally:
        c.close()


def test_the_model_forgets_a_retracted_answer_in_order_after_learning_it(store):
    calls = []
    c, app = served(store, update=lambda answers: calls.append(("update", [a["text"] for a in answers])),
                    forget=lambda answers: calls.append(("forget", [a["text"] for a in answers])))
    session = wsgi(app, "GET", "/api/project")[1]["session"]
    task = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
    post(app, "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]})
    post(app, "/api/undo", {"session": session, "task_hash": task["_task_hash"]})
    post(app, "/api/undo", {"session": session, "task_hash": task["_task_hash"]})  # nothing left: no call
    c.close()
    assert calls == [("update", ["Sentence 0 from Acme"]), ("forget", ["Sentence 0 from Acme"])]


def test_a_forgotten_answer_is_not_replayed(monkeypatch):
    import vnerteach.nlp.merge

    model = TeachModel.load("blank:en", LABELS, TeachSettings(replay=64, passes=1))
    nlp = spacy.blank("en")
    tasks = list(add_tokens(nlp, [{"text": t["text"]} for t in sentences(2, seed=3)]))

    def binary(task, kind):
        tok = task["tokens"][0]
        return {**set_hashes(dict(task)), "_view_id": "ner", "answer": kind, "_session_id": "s",
                "spans": [{"start": tok["start"], "end": tok["end"], "token_start": 0, "token_end": 0, "label": LABELS[0]}]}

    first, second = binary(tasks[0], "accept"), binary(tasks[1], "reject")
    trained: list[int] = []
    real = vnerteach.nlp.merge.answers_to_examples
    monkeypatch.setattr(vnerteach.nlp.merge, "answers_to_examples",
                        lambda nlp, items: trained.extend(m.input_hash for m in items) or real(nlp, items))
    kept = TeachModel.load("blank:en", LABELS, TeachSettings(replay=64, passes=1))
    kept.update([first])
    trained.clear()
    kept.update([second])
    assert sorted(trained) == sorted([first[INPUT_HASH], second[INPUT_HASH]])  # an answer kept is replayed

    model.update([first])
    model.forget([first])
    trained.clear()
    model.update([second])
    assert trained == [second[INPUT_HASH]]  # the retracted one is not
    model.update([{**second, "answer": "accept"}])  # answered again: replaces, never contradicts itself
    assert [a["answer"] for a in model.session.of(second[INPUT_HASH])] == ["accept"]


# a real server, restarted


@pytest.mark.slow
def test_after_a_server_restart_the_undone_task_is_asked_again(tmp_path, db_path):
    env = {"VNERTEACH_DB": str(db_path), "VNERTEACH_HOME": str(tmp_path / "home")}
    src = write_jsonl(tmp_path / "news.jsonl", TEXTS)
    args = ["ner.manual", "news", "blank:en", src, "--label", "ORG"]
    server = ServedRecipe(args, env, free_port())
    try:
        session = http("GET", server.url + "/api/project")[1]["session"]
        tasks = http("GET", server.url + "/api/questions?n=3")[1]["tasks"]
        for t in tasks:
            assert http("POST", server.url + "/api/answers", {"session": session, "answers": [{**t, "answer": "accept"}]})[0] == 200
        code, undone = http("POST", server.url + "/api/undo", {"session": session, "task_hash": tasks[1]["_task_hash"]})
        assert code == 200 and undone["retracted"] == 1
    finally:
        code, _, err = server.stop()
    assert code == 0 and "Saved 2 answers" in err and "now has 2 examples" in " ".join(err.split())
    again = ServedRecipe(args, env, free_port())
    try:
        fresh = http("GET", again.url + "/api/questions?n=10")[1]["tasks"]
        assert [t["text"] for t in fresh] == ["Sentence 1 from Acme", "Sentence 3 from Acme", "Sentence 4 from Acme"]
        assert http("GET", again.url + f"/api/history?session={session}")[1]["answers"][-1]["text"] == "Sentence 2 from Acme"
    finally:
        again.stop()
