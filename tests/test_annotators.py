"""Named annotators on one server: own session datasets, undo and dedup per annotator, overlap, idle hand-over."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import write_jsonl
from helpers.web import ServedRecipe, annotate_as, free_port, wsgi

from vnerteach.loop.controller import Controller
from vnerteach.errors import AnswerError
from vnerteach.web.server import make_app
from vnerteach.tasks import INPUT_HASH, TASK_HASH, set_hashes


def texts(n):
    return [{"text": f"text {i}"} for i in range(n)]


def make(store, n=10, **options):
    components = {"dataset": "news", "stream": iter(texts(n)), "view_id": "ner_manual", "config": {"labels": ["ORG"]},
                  "total": n}
    return Controller(store, components, wait_s=2, fill_s=0.2, **options)


def answer(c, session, tasks, kind="accept"):
    return c.answer([{**t, "answer": kind} for t in tasks], session)


def names(tasks):
    return [t["text"] for t in tasks]


def test_a_named_annotator_has_their_own_session_dataset(store):
    c = make(store)
    project = c.project("alice")
    assert project["session"] == "news-alice" and project["annotator"] == "alice"
    tasks = c.questions(3, session="news-alice")
    assert all(t["_session_id"] == "news-alice" for t in tasks)
    answer(c, "news-alice", tasks)
    assert store.count("news-alice") == 3 and store.count("news") == 3
    assert [(s.name, s.accept) for s in store.session_stats("news")] == [("news-alice", 3)]
    assert c.project("alice")["progress"]["answered"] == 3
    c.close()


@pytest.mark.parametrize("name", ["", " ", "a b", "../x", "x" * 65, "-x"])
def test_annotator_names_are_checked(store, name):
    c = make(store)
    with pytest.raises(AnswerError, match="annotator name"):
        c.project(name or " ")
    c.close()


def test_without_overlap_each_task_goes_to_one_annotator(store):
    c = make(store, n=10)
    alice, bob = c.questions(4, session="news-alice"), c.questions(4, session="news-bob")
    assert names(alice) == [f"text {i}" for i in range(4)] and names(bob) == [f"text {i}" for i in range(4, 8)]
    answer(c, "news-alice", alice)
    answer(c, "news-bob", bob)
    rest = c.questions(10, session="news-alice")
    assert names(rest) == ["text 8", "text 9"]
    answer(c, "news-alice", rest)
    assert c.progress("news-bob").done and store.count("news") == 10
    per = {s.name: s.examples for s in store.session_stats("news")}
    assert per == {"news-alice": 6, "news-bob": 4}
    c.close()


def test_with_overlap_every_annotator_sees_every_task_once(store):
    c = make(store, n=6, overlap=True)
    alice = c.questions(10, session="news-alice")
    answer(c, "news-alice", alice[:4])
    bob = c.questions(10, session="news-bob")
    assert names(alice) == names(bob) == [f"text {i}" for i in range(6)]
    answer(c, "news-bob", bob)
    assert c.questions(10, session="news-bob") == [] and c.progress("news-bob").done
    assert not c.progress("news-alice").done  # two of hers unanswered
    c.close()
    # dedup per annotator across runs: alice is asked what she has not answered, carol everything
    again = make(store, n=6, overlap=True)
    assert names(again.questions(10, session="news-alice")) == ["text 4", "text 5"]
    assert len(again.questions(10, session="news-carol")) == 6
    again.close()


def test_undo_retracts_only_that_annotators_answer(store):
    c = make(store, n=3, overlap=True)
    alice, bob = c.questions(1, session="news-alice"), c.questions(1, session="news-bob")
    answer(c, "news-alice", alice)
    answer(c, "news-bob", bob, "reject")
    assert store.count("news") == 2
    undone = c.undo(alice[0][TASK_HASH], "news-alice")
    assert undone["retracted"] == 1 and store.count("news-alice") == 0 and store.count("news-bob") == 1
    assert [eg["answer"] for eg in store.iter_examples("news")] == ["reject"]
    # asked again to alice first, not to bob, who has answered it
    assert names(c.questions(1, session="news-alice")) == ["text 0"]
    assert names(c.questions(1, session="news-bob")) == ["text 1"]
    c.close()


def test_an_idle_annotators_tasks_go_to_another(store):
    c = make(store, n=6, idle_s=0.3)
    held = c.questions(4, session="news-alice")
    assert names(c.questions(10, session="news-bob")) == ["text 4", "text 5"]
    assert c.questions(10, session="news-bob") == []  # alice is not idle yet: her four stay hers
    time.sleep(0.35)
    assert [a["idle"] for a in c.annotators() if a["session"] == "news-alice"] == [True]
    handed = c.questions(10, session="news-bob")
    assert names(handed) == names(held)
    answer(c, "news-bob", handed)
    # alice comes back (a reloaded app): nothing of hers is left to ask, and she is not asked bob's
    assert c.questions(10, restart=True, session="news-alice") == []
    assert [a["pending"] for a in c.annotators()] == [0, 2]
    c.close()


def test_dedup_without_overlap_is_by_the_dataset(store):
    c = make(store, n=4)
    answer(c, "news-alice", c.questions(2, session="news-alice"))
    c.close()
    again = make(store, n=4)
    assert names(again.questions(10, session="news-bob")) == ["text 2", "text 3"]
    again.close()


def test_the_api_serves_each_annotator(store):
    c = make(store, n=4)
    app = make_app(c)
    code, project = wsgi(app, "GET", "/api/project?session=alice")
    assert code == 200 and project["session"] == "news-alice"
    code, body = wsgi(app, "GET", "/api/questions?session=news-alice&n=2")
    assert code == 200 and [t["_session_id"] for t in body["tasks"]] == ["news-alice"] * 2
    code, saved = wsgi(app, "POST", "/api/answers", {"session": "news-alice",
                                                     "answers": [{**t, "answer": "accept"} for t in body["tasks"]]})
    assert code == 200 and saved["progress"]["answered"] == 2
    code, project = wsgi(app, "GET", "/api/project?session=bob")
    assert project["progress"]["answered"] == 0 and project["progress"]["progress"] == 0.5  # the team's share
    assert {a["session"]: a["answered"] for a in project["annotators"]} == {"news-alice": 2}
    code, refused = wsgi(app, "GET", "/api/project?session=a%20b")
    assert code == 400 and "annotator name" in refused["error"]
    c.close()


def test_stats_shows_each_annotator(cli, store):
    c = make(store, n=5)
    answer(c, "news-alice", c.questions(3, session="news-alice"))
    answer(c, "news-bob", c.questions(2, session="news-bob"), "reject")
    c.close()
    result = cli("stats", "news")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:5] for line in result.output.splitlines() if line.strip().startswith("news-")}
    assert rows == {"news-alice": ["3", "3", "0", "0"], "news-bob": ["2", "0", "2", "0"]}


def test_the_feed_options_are_checked(cli, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", texts(2))
    result = cli("ner.manual", "news", "blank:en", str(source), "--label", "ORG", "--idle-timeout", "0")
    assert result.exit_code == 2 and "--idle-timeout" in result.output
    assert "--feed-overlap" in cli("ner.manual", "--help").output


@pytest.mark.slow
@pytest.mark.both_backends
@pytest.mark.parametrize("overlap", [False, True], ids=["one-each", "overlap"])
def test_four_annotators_lose_nothing_and_answer_nothing_twice(tmp_path, env, store, overlap):
    """Four annotators over HTTP, one of them away with a batch in hand: every task answered, none twice."""
    n = 40 if overlap else 120
    source = write_jsonl(tmp_path / "in.jsonl", texts(n))
    served = ServedRecipe(["mark", "news", source, "--view-id", "classification", "--idle-timeout", "1",
                           *["--feed-overlap"] * overlap], env, free_port())
    try:
        deadline = time.monotonic() + 120
        team = {"alice": 0.0, "bob": 0.0, "carol": 0.0, "dave": 2.5}  # dave leaves his first batch for 2.5 s
        with ThreadPoolExecutor(len(team)) as pool:
            futures = {name: pool.submit(annotate_as, served.url, name, deadline, away) for name, away in team.items()}
            acked = {name: f.result() for name, f in futures.items()}
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    hashes = {set_hashes(t)[TASK_HASH] for t in texts(n)}
    for name, got in acked.items():
        assert len(got) == len(set(got)), f"{name} answered a task twice"
        session = f"news-{name}"
        stored = [eg[TASK_HASH] for eg in store.iter_examples(session)] if session in store else []
        assert sorted(stored) == sorted(got), f"{name}: acknowledged answers missing from the store"
    everyone = Counter(h for got in acked.values() for h in got)
    if overlap:
        assert all(set(acked[name]) == hashes for name in ("alice", "bob", "carol", "dave"))
    else:
        assert set(everyone) == hashes and max(everyone.values()) == 1  # none unasked, each once
    assert store.count("news") == sum(everyone.values())
    assert {eg[INPUT_HASH] for eg in store.iter_examples("news")} == {set_hashes(t)[INPUT_HASH] for t in texts(n)}


@pytest.mark.slow
def test_two_annotators_in_the_browser_get_their_own_tasks(playwright, env, store, tmp_path):
    """Alice opens /?session=alice; Bob types his name into the app: each answers their own tasks, saved apart."""
    from helpers.browser import open_page, wait_saved

    source = write_jsonl(tmp_path / "in.jsonl", texts(30))  # more than one app's batch: Alice holds 10
    view = {"width": 1366, "height": 800}
    with ServedRecipe(["ner.manual", "news", "blank:en", source, "--label", "ORG"], env, free_port()) as served:
        with open_page(playwright, tmp_path / "alice", view) as alice, open_page(playwright, tmp_path / "bob", view) as bob:
            alice.goto(served.url + "/?session=alice")
            alice.wait_for_function("() => window.vnerteach.current")
            bob.goto(served.url + "/")
            bob.wait_for_function("() => window.vnerteach.current")
            bob.fill("#annotator-name", "bob")
            bob.press("#annotator-name", "Enter")  # typing "b" in the field is not a shortcut
            bob.wait_for_url("**/?session=bob")
            bob.wait_for_function("() => window.vnerteach.current && window.vnerteach.project.session === 'news-bob'")
            for page in (alice, bob):
                page.keyboard.press("a")
                wait_saved(page)
            alice.wait_for_function("() => /alice 1\\b.*bob 1\\b/.test(document.getElementById('team').textContent)")
            shot = tmp_path / "alice.png"
            alice.screenshot(path=str(shot))
            geometry = alice.evaluate("""() => {
              const r = (id) => { const b = document.getElementById(id).getBoundingClientRect();
                                  return [b.left, b.top, b.right, b.bottom]; };
              return {field: r("annotator-name"), progress: r("progress"), team: r("team"),
                      session: document.getElementById("p-session").textContent,
                      value: document.getElementById("annotator-name").value};
            }""")
            assert geometry["session"] == "news-alice" and geometry["value"] == "alice"
            x0, y0, x1, y1 = geometry["field"]
            assert 0 <= x0 < x1 <= view["width"] and 0 <= y0 < y1 <= view["height"], geometry  # in view
            assert y1 <= geometry["progress"][1], geometry  # above the progress bar, not over it
            assert geometry["team"][3] <= view["height"], geometry
            assert "1 this session" in alice.locator("#progress-text").inner_text()
    _code, _out, err = served.result
    # The exit line names the sessions written (issue 23 point 15: it named the run's own, which had none).
    assert "Saved 2 answers in sessions 'news-alice' (1), 'news-bob' (1)" in " ".join(err.split()), err
    answered = {name: [eg["text"] for eg in store.iter_examples(f"news-{name}")] for name in ("alice", "bob")}
    assert len(answered["alice"]) == len(answered["bob"]) == 1 and answered["alice"] != answered["bob"]
    assert shot.stat().st_size > 5000


def test_the_feed_alone_without_a_store():
    """The feed's rules on plain dicts: overlap walks every annotator through the log; idle hands tasks on."""
    from vnerteach.loop.feed import Feed

    now = [0.0]
    tasks = [set_hashes({"text": f"t{i}"}) for i in range(4)]
    shared = Feed(idle_s=10, clock=lambda: now[0])
    for t in tasks:
        shared.add(t)
    a, b = shared.join("a"), shared.join("b")
    assert [t["text"] for t in shared.take(a, 3)] == ["t0", "t1", "t2"]
    now[0] = 11.0
    b = shared.join("b")  # b asks: a has been idle for 11 s
    assert [t["text"] for t in shared.take(b, 10)] == ["t0", "t1", "t2", "t3"] and not a.pending
    overlap = Feed(overlap=True)
    for t in tasks:
        overlap.add(t)
    a, b = overlap.join("a", {tasks[0][TASK_HASH]}), overlap.join("b")
    assert [t["text"] for t in overlap.take(a, 10)] == ["t1", "t2", "t3"]
    assert [t["text"] for t in overlap.take(b, 10)] == ["t0", "t1", "t2", "t3"]
    overlap.answered(b, [t[TASK_HASH] for t in tasks], tasks)
    assert overlap.finished("b") and not overlap.finished("a") and not overlap.finished() and not overlap.finished("c")


def test_agreement_between_named_annotators_of_one_dataset(cli, store):
    """Overlapping named annotators answer into one dataset; stats --agreement compares them by session."""
    c = make(store, n=4, overlap=True)
    for session, label in (("news-alice", "ORG"), ("news-bob", "ORG"), ("news-carol", "PERSON")):
        tasks = c.questions(4, session=session)
        answer(c, session, [{**t, "spans": [{"start": 0, "end": 4, "label": label}]} for t in tasks])
    c.close()
    result = cli("stats", "news", "--agreement")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line.strip()}
    # per input, alice and bob agree on their ORG span (1 agreed), and each pair with carol has two
    # spans that disagree (her PERSON, their ORG): ORG F1 = 2 * 4 / (2 * 4 + 8)
    agreed, disagreed = 4, 2 * 4
    assert rows["ORG"][:3] == [f"{100 * 2 * agreed / (2 * agreed + disagreed):.1f}", str(agreed), str(disagreed)], rows
    assert rows["PERSON"][0] == "0.0" and rows["All"][-1] == "3", rows


def test_a_newcomer_with_overlap_is_not_told_everything_is_done(store):
    c = make(store, n=3, overlap=True)
    answer(c, "news-bob", c.questions(10, session="news-bob"))
    time.sleep(0.2)  # the reader has reached the end of the source
    assert c.progress("news-bob").done
    assert not c.project("alice")["progress"]["done"]  # her app would stop before asking
    assert names(c.questions(10, session="news-alice")) == ["text 0", "text 1", "text 2"]
    c.close()


def test_a_returning_annotator_with_overlap_gets_what_she_has_not_answered(store):
    """Her answers cover the whole buffer read ahead: the reader must read on past them."""
    c = make(store, n=40, overlap=True)
    first = [t for _ in range(4) for t in c.questions(10, session="news-alice")][:31]
    answer(c, "news-alice", first)
    c.close()
    again = make(store, n=40, overlap=True)
    again.start()
    time.sleep(0.3)  # the reader fills its buffer with tasks she has answered
    assert names(again.questions(10, session="news-alice")) == [f"text {i}" for i in range(31, 40)]
    again.close()


def test_an_undone_task_goes_back_to_the_annotator_who_undid_it(store):
    c = make(store, n=30)
    alice, bob = c.questions(5, session="news-alice"), c.questions(5, session="news-bob")
    answer(c, "news-alice", alice[:1])
    c.undo(alice[0][TASK_HASH], "news-alice")
    assert "text 0" not in names(c.questions(5, session="news-bob"))
    assert names(c.questions(1, session="news-alice")) == ["text 0"]
    assert names(c.questions(5, restart=True, session="news-alice"))[0] == "text 0"
    c.close()


def test_a_name_that_would_be_a_regular_dataset_is_refused(store):
    store.create_dataset("news-eval")
    c = make(store)
    with pytest.raises(AnswerError, match="regular dataset"):
        c.project("eval")
    with pytest.raises(AnswerError, match="regular dataset"):  # issue 23 point 10: it was handed a task
        c.questions(1, session="news-eval")
    assert c.annotators() == []
    c.close()


def test_a_name_beyond_ascii_comes_back_as_it_was_typed(store):
    """Issue 23 point 10: ``?session=ålice`` came back as 'Ã¥lice' (the query's bytes read as latin-1)."""
    c = make(store)
    app = make_app(c)
    status, refused = wsgi(app, "GET", "/api/project?session=%C3%A5lice")  # names are ASCII: said so, name as typed
    assert status == 400 and "annotator name 'ålice': use 1-64 letters" in refused["error"]
    status, refused = wsgi(app, "GET", "/api/questions?n=1&session=news-%C3%A5lice")
    assert status == 400 and "'news-ålice' is not a session" in refused["error"]
    c.close()


@pytest.mark.parametrize("session", ["alice", "news", "other-alice", "news-a b", "news-../x"])
def test_a_session_not_of_this_dataset_is_refused_and_joins_no_one(store, session):
    c = make(store)
    for call in (lambda: c.questions(1, session=session), lambda: c.answer([], session),
                 lambda: c.undo("1", session)):
        with pytest.raises(AnswerError, match="not a session of dataset 'news'"):
            call()
    assert c.annotators() == []
    assert len(c.questions(1, session="news-2026-01-01T00-00-00")) == 1  # an earlier run's session is one
    c.close()


@pytest.mark.both_backends
@pytest.mark.parametrize("exclude_by", ["task", "input"])
def test_a_task_a_killed_run_handed_out_is_answered_once_in_the_dataset(store, exclude_by):
    """Issue 23 point 3: after a SIGKILL, tasks a browser still held from the killed run were handed out again
    by the next run, and both answers were stored under two session names."""
    texts = [{"text": f"text {i}"} for i in range(6)]
    first = Controller(store, {"dataset": "news", "stream": iter(texts), "view_id": "ner_manual",
                               "exclude_by": exclude_by}, wait_s=5, fill_s=5)
    held = first.questions(3)  # in a browser when the server dies
    first.close()
    second = Controller(store, {"dataset": "news", "stream": iter(texts), "view_id": "ner_manual",
                                "exclude_by": exclude_by}, session="news-2099-01-01T00-00-00", wait_s=5, fill_s=5)
    again = second.questions(3)  # the next run hands the same tasks to the next browser
    assert names(again) == names(held)
    late = {**held[0], "answer": "accept"}  # the first browser's answer reaches the new run first
    assert second.answer([late], first.session)["results"] == [{"status": "stored"}]
    assert second.answer([late], first.session)["unchanged"] == 1  # a resend is not taken
    other = {**again[0], "answer": "reject"}
    if exclude_by == "input":  # ner.correct: another question about the same input
        other = set_hashes({**other, "spans": [{"start": 0, "end": 4, "label": "X"}]}, overwrite=True)
    got = second.answer([other, {**again[1], "answer": "accept"}], second.session)
    assert got["results"][0]["status"] == "refused" and "another session answered" in got["results"][0]["reason"]
    assert got["results"][1] == {"status": "stored"} and got["added"] == 1
    assert store.count("news") == 2 and [eg["answer"] for eg in store.iter_examples("news")] == ["accept", "accept"]
    assert "text 0" not in names(second.questions(5))  # nor handed out again
    second.close()


def test_counts_add_up_across_a_restart(store):
    """Issue 23 point 15: a resend after a restart was counted as answered and, when the reader reached its task,
    as skipped too ("100% (51 of 25)"); a named annotator's count started again at 0 after a restart."""
    texts = [{"text": f"text {i}"} for i in range(4)]

    def run(session: str) -> Controller:
        return Controller(store, {"dataset": "news", "stream": iter(texts), "view_id": "ner_manual", "total": 4},
                          session=session, buffer=1, wait_s=5, fill_s=5)

    first = run("news-2099-01-01T00-00-00")
    held = first.questions(1, session="news-alice")
    first.close()
    second = run("news-2099-01-01T00-00-01")
    late = {**held[0], "answer": "accept"}
    late_hash = int(late["_task_hash"])
    second.answer([late], "news-alice")  # the browser's answer reaches the new run before its reader does
    rest = second.questions(10, session="news-bob")
    assert "text 0" not in [t["text"] for t in rest]
    second.answer([{**t, "answer": "accept"} for t in rest], "news-bob")
    progress = second.progress("news-bob").as_dict()
    assert progress["done"] and progress["skipped"] == 0 and progress["team"] == 4  # 4 of 4, not 5 of 4
    assert second.progress("news-alice").as_dict()["answered"] == 1
    second.close()
    third = run("news-2099-01-01T00-00-02")
    assert third.project("alice")["progress"]["answered"] == 1  # her answer of an earlier run still counts
    assert third.project("bob")["progress"]["answered"] == 3
    assert len(third.questions(1, session="news-bob")) == 0 and third.progress("news-bob").answered == 3
    assert late_hash in store.hashes(["news-alice"])
    third.close()
