"""review and stats --agreement: versions grouped per input and annotator, auto-accept, agreement per label."""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from helpers import home_cache

from vnerteach.datasets.agreement import agreement
from vnerteach.recipes.review import review
from vnerteach.datasets.review import auto_answer, collect, complete_annotations, review_task
from vnerteach.tasks import set_hashes

from helpers.review import TEXTS, binary, manual, tokens_of


def test_versions_are_grouped_per_input_with_their_annotators():
    text = TEXTS[0]
    answers = [manual(text, [("Tim Cook", "PERSON"), ("Apple", "ORG")], "alice"),
               manual(text, [("Apple", "ORG"), ("Tim Cook", "PERSON")], "bob"),  # the same spans, in another order
               manual(text, [("Apple", "ORG")], "carol"),
               manual(TEXTS[1], [("Microsoft", "ORG")], "alice"),
               manual(TEXTS[1], [("Microsoft", "ORG")], "bob")]
    first, second = collect({"news": answers})
    assert first.task["text"] == text and not first.agreed
    assert [v.annotators for v in first.versions] == [("alice", "bob"), ("carol",)]
    apple = (text.index("Apple"), text.index("Apple") + 5, "ORG")
    assert first.versions[1].spans == (apple,)
    assert second.agreed and second.versions[0].annotators == ("alice", "bob")


def test_an_annotators_latest_complete_answer_is_their_version_and_ignores_make_none():
    text = TEXTS[0]
    answers = [manual(text, [("Tim", "PERSON")], "alice"), manual(text, [("Tim Cook", "PERSON")], "alice"),
               manual(text, [], "bob", answer="reject"), manual(text, [], "carol", answer="ignore")]
    item, = collect({"news": answers})
    assert set(item.by_annotator) == {"alice", "bob"}
    assert item.by_annotator["alice"].spans == ((0, 8, "PERSON"),)
    assert item.by_annotator["bob"].answer == "reject"


def test_without_session_ids_the_dataset_names_the_annotator():
    text = TEXTS[2]
    item, = collect({"anna": [manual(text, [("Paris", "GPE")], None)],
                     "ben": [manual(text, [("Angela Merkel", "PERSON")], None)]})
    assert sorted(item.by_annotator) == ["anna", "ben"] and not item.agreed


def test_binary_answers_merge_into_an_annotators_claims():
    text = TEXTS[0]
    answers = [binary(text, "Apple", "ORG", "alice", "accept"), binary(text, "Cupertino", "ORG", "alice", "reject"),
               binary(text, "Apple", "ORG", "bob", "accept"), binary(text, "Cupertino", "ORG", "bob", "reject")]
    item, = collect({"teach": answers})
    version, = item.versions
    assert version.binary and version.annotators == ("alice", "bob")
    assert [text[s:e] for s, e, _ in version.spans] == ["Apple"]
    assert [text[s:e] for s, e, _ in version.rejected] == ["Cupertino"]
    assert not item.auto  # binary claims are not a whole annotation: shown, not auto-accepted


def test_review_task_carries_the_versions_and_prefills_the_first():
    text = TEXTS[0]
    split, agreed = collect({"news": [manual(text, [("Apple", "ORG")], "alice"), manual(text, [], "bob"),
                                      manual(TEXTS[1], [("Redmond", "GPE")], "alice"),
                                      manual(TEXTS[1], [("Redmond", "GPE")], "bob")]})
    task = review_task(split)  # they disagree: the editor starts from the first version (the majority's)
    assert [text[s["start"]:s["end"]] for s in task["spans"]] == ["Apple"] and task["_input_hash"] == split.input_hash
    assert [v["annotators"] for v in task["versions"]] == [["alice"], ["bob"]]
    apple = task["versions"][0]["spans"][0]
    assert (apple["token_start"], apple["token_end"], apple["label"]) == (3, 3, "ORG")
    shown = review_task(agreed)
    assert [TEXTS[1][s["start"]:s["end"]] for s in shown["spans"]] == ["Redmond"]
    stored = auto_answer(agreed)
    assert stored["answer"] == "accept" and stored["auto_accepted"] and stored["_view_id"] == "review"
    assert stored["_task_hash"] != task["_task_hash"]


def test_an_agreed_version_off_the_inputs_tokens_is_shown_not_stored_unasked():
    text = TEXTS[0]
    cut = manual(text, [("Apple", "ORG")], "alice")
    cut["tokens"] = tokens_of(text)[:3] + [  # tokens that do not end where the span does
        {"text": "Apple in", "start": 14, "end": 22, "id": 3, "ws": True},
        {"text": "Cupertino", "start": 23, "end": 32, "id": 4, "ws": False}]
    item, = collect({"news": [cut]})
    assert item.agreed and not item.auto
    assert review_task(item)["spans"] == [] and review_task(item)["versions"][0]["spans"][0]["start"] == 14


def test_agreement_per_label_is_pairwise_span_f1_from_the_construction():
    rng = random.Random(7)
    labels = ["ORG", "PERSON"]
    annotators = ["a", "b", "c"]
    annotations: dict[int, dict[str, set]] = {}
    for key in range(30):
        shared = {(i, i + 1, rng.choice(labels)) for i in range(0, 40, 4) if rng.random() < 0.5}
        annotations[key] = {who: shared | {(100 + 10 * n + key % 3, 101 + 10 * n, rng.choice(labels))
                                           for _ in range(rng.randint(0, 2))} for n, who in enumerate(annotators)}
    annotations[99] = {"a": {(0, 1, "ORG")}}  # one annotator: not compared
    result = agreement(annotations)
    # Own spans never coincide (each annotator's start at 100 + 10 n): every shared span agrees in each
    # of the 3 pairs, every own span disagrees in the 2 pairs its annotator is in.
    for label in labels:
        shared = sum(len({s for s in annotations[k]["a"] & annotations[k]["b"] & annotations[k]["c"] if s[2] == label})
                     for k in range(30))
        own = sum(len({s for s in annotations[k][w] if s[2] == label}) for k in range(30) for w in annotators) \
            - 3 * shared
        row = next(r for r in result.labels if r.label == label)
        assert (row.agreed, row.disagreed) == (3 * shared, 2 * own)
        assert row.f1 == pytest.approx(2 * 3 * shared / (2 * 3 * shared + 2 * own))
    assert result.single == 1 and result.pairs == 30 * len(list(combinations(annotators, 2)))
    assert result.overall.inputs == 30 and result.overall.annotators == 3
    assert result.overall.agreed == sum(r.agreed for r in result.labels)


def test_agreement_of_identical_annotators_is_one_and_of_disjoint_ones_zero():
    same = agreement({1: {"a": {(0, 2, "ORG")}, "b": {(0, 2, "ORG")}}})
    apart = agreement({1: {"a": {(0, 2, "ORG")}, "b": {(0, 3, "ORG")}}})
    assert same.overall.f1 == 1.0 and apart.overall.f1 == 0.0
    assert agreement({1: {"a": set(), "b": set()}}).overall.f1 is None  # nothing marked: nothing to score


def test_complete_annotations_leave_out_rejects_and_binary_versions():
    text = TEXTS[0]
    items = collect({"news": [manual(text, [("Apple", "ORG")], "alice"), manual(text, [], "bob", answer="reject"),
                              binary(text, "Apple", "ORG", "carol", "accept")]})
    annotations, left_out = complete_annotations(items)
    assert list(annotations.values()) == [{"alice": ((text.index("Apple"), text.index("Apple") + 5, "ORG"),)}]
    assert left_out == 2


def _import(store, dataset: str, answers: list[dict]) -> None:
    """Store answers as the server does: two sessions' equal answers are two examples (db-in would keep one)."""
    store.add_examples(answers, [dataset])


def two_annotators() -> list[dict]:
    return [manual(TEXTS[0], [("Tim Cook", "PERSON"), ("Apple", "ORG")], "alice"),
            manual(TEXTS[0], [("Tim Cook", "PERSON"), ("Apple", "ORG"), ("Cupertino", "GPE")], "bob"),
            manual(TEXTS[1], [("Satya Nadella", "PERSON"), ("Microsoft", "ORG")], "alice"),
            manual(TEXTS[1], [("Satya Nadella", "PERSON"), ("Microsoft", "ORG")], "bob"),
            manual(TEXTS[2], [("Paris", "GPE")], "alice")]


def test_review_auto_accepts_agreed_inputs_and_streams_the_others(store, db_url):
    _import(store, "news", two_annotators())
    components = review("final", ["news"], auto_accept=True, db=db_url, page_cache=home_cache())
    tasks = list(components["stream"])
    assert [t["text"] for t in tasks] == [TEXTS[0]]  # TEXTS[1] agreed by both, TEXTS[2] by its one annotator
    assert components["view_id"] == "review" and components["exclude_by"] == "input"
    assert components["images"].cache_dir == home_cache()  # page tasks' images from the folder the CLI gave
    assert components["config"]["labels"] == ["PERSON", "ORG", "GPE"]  # in the order annotators first used them
    stored = list(store.iter_examples("final"))
    assert sorted(e["text"] for e in stored) == sorted(TEXTS[1:])
    assert all(e["answer"] == "accept" and e["auto_accepted"] for e in stored)
    # Again: what is in the output is neither stored twice nor asked
    components = review("final", ["news"], auto_accept=True, db=db_url, page_cache=home_cache())
    assert [t["text"] for t in components["stream"]] == [TEXTS[0]] and store.count("final") == 2
    store.add_examples([{**tasks[0], "answer": "accept"}], ["final"])  # as the reviewer's answer would be
    assert review("final", ["news"], auto_accept=True, db=db_url, page_cache=home_cache()) is None


def test_review_without_auto_accept_asks_every_input(store, db_url):
    _import(store, "news", two_annotators())
    tasks = list(review("final", ["news"], db=db_url, page_cache=home_cache())["stream"])
    assert [t["text"] for t in tasks] == TEXTS
    assert [len(t["versions"]) for t in tasks] == [2, 1, 1]


def test_review_bad_input_is_one_line(cli, store):
    result = cli("review", "final", "nope")
    assert result.exit_code == 1 and "Dataset 'nope' not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _import(store, "news", [manual(TEXTS[0], [], "alice", answer="ignore")])
    result = cli("review", "final", "news")
    assert result.exit_code == 1 and "Nothing to review: 'news' has no accepted or rejected answers" in result.stderr
    result = cli("review", "news", "news")
    assert result.exit_code == 2 and "is also an input" in result.stderr


def test_stats_agreement_prints_f1_per_label(cli, store):
    _import(store, "news", two_annotators())
    result = cli("stats", "news", "--agreement")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    # GPE: bob alone marked Cupertino (0 agreed, 1 disagreed); ORG and PERSON: 2 inputs, both agreed
    assert rows["GPE"][1:4] == ["0.0", "0", "1"]
    assert rows["ORG"][1:4] == ["100.0", "2", "0"] and rows["PERSON"][1:4] == ["100.0", "2", "0"]
    assert rows["All"][2:5] == [f"{100 * 8 / 9:.1f}", "4", "1"]
    assert "1 input with one annotator not compared" in result.stderr


def test_stats_agreement_needs_two_annotators_and_known_datasets(cli, store):
    _import(store, "solo", [manual(TEXTS[0], [("Apple", "ORG")], "alice")])
    result = cli("stats", "solo", "--agreement")
    assert result.exit_code == 0 and "annotated completely by two annotators" in result.stderr
    result = cli("stats", "solo,nope", "--agreement")
    assert result.exit_code == 1 and "Dataset 'nope' not found" in result.stderr
    assert cli("stats", "--agreement").exit_code == 2


def test_an_empty_accept_of_an_input_annotators_marked_is_refused_until_confirmed(store):
    """Issue 23 point 4 (the server's side): the check the review recipe gives the controller (validate_answer)."""
    from vnerteach.loop.controller import Controller
    from vnerteach.datasets.review import check_review_answer

    versions = [{"answer": "accept", "spans": [{"start": 0, "end": 8, "label": "PERSON"}]},
                {"answer": "reject", "spans": []}]
    task = set_hashes({"text": "Tim Cook runs Apple", "versions": versions})
    c = Controller(store, {"dataset": "final", "stream": iter([task]), "view_id": "review",
                           "validate_answer": check_review_answer})
    empty = {**task, "spans": [], "answer": "accept"}
    [result] = c.answer([empty])["results"]
    assert result["status"] == "refused" and "accept again to confirm" in result["reason"]
    assert c.answer([{**empty, "answer": "reject"}])["results"] == [{"status": "stored"}]  # reject: as before
    assert c.answer([{**empty, "confirmed_empty": True}])["results"] == [{"status": "stored"}]
    no_entities = {**task, "versions": [{"answer": "accept", "spans": []}], "spans": [], "answer": "accept"}
    assert c.answer([set_hashes(no_entities, overwrite=True)])["results"] == [{"status": "stored"}]  # they agree
    c.close()


def test_the_reviewer_reads_annotator_names_not_session_datasets():
    """Issue 23 point 15: review showed 'news-alice', a session dataset's name."""
    from vnerteach.datasets.review import annotator_name

    assert annotator_name("news-alice", ["news"]) == "alice"
    assert annotator_name("news-2026-12-07T10-41-44", ["news"]) == "run of 2026-12-07 10:41"
    assert annotator_name("news_gold-bob", ["news", "news_gold"]) == "bob"  # the longest dataset name first
    assert annotator_name("other", ["news"]) == "other"
    item, = collect({"news": [manual(TEXTS[0], [("Apple", "ORG")], "news-alice")]})
    assert review_task(item, ["news"])["versions"][0]["names"] == ["alice"]
