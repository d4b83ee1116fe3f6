"""Tokens added by hand on a page: only appended (checked when answers arrive), then trained and exported as any other."""

from __future__ import annotations

import copy
import json

import pytest
import spacy

from vnerteach.tasks.added import asked, check_added
from vnerteach.errors import TaskError
from vnerteach.nlp.merge import answers_to_examples, merge_answers
from vnerteach.tasks import set_hashes

from helpers.added import serve_one, span, with_added
from helpers.web import page_task, wsgi


@pytest.fixture
def receipt(tmp_path):
    return set_hashes(page_task(["TOTAL", "Thank you"], tmp_path / "img"))


def test_appended_tokens_pass_and_the_question_is_what_they_may_only_extend(receipt):
    before = asked(receipt)
    answer = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    check_added(answer, before)
    check_added(answer)  # a resend after a restart: the shape alone is checked
    check_added(receipt, before)  # nothing added
    spaced = {**receipt, "text": receipt["text"] + " "}  # text after the last token stays the page's
    check_added(with_added(spaced, [("33.90", [700, 60, 800, 96])]), asked(spaced))
    assert asked({"text": "plain", "tokens": [{"text": "plain", "start": 0, "end": 5}]}) is None


@pytest.mark.parametrize("spoil, message", [
    (lambda a: a.update(added_tokens=[]), "must list the indices"),
    (lambda a: a.pop("added_tokens"), "must list the indices"),
    (lambda a: a["tokens"][-1].pop("added"), "must list the indices"),
    (lambda a: (a["tokens"][0].update(added=True), a.update(added_tokens=[0, 3])), "after all of the page's tokens"),
    (lambda a: a["tokens"][-1].pop("bbox"), "needs its box"),
    (lambda a: a["tokens"][-1].update(bbox=[800, 60, 700, 96]), "needs its box"),
    (lambda a: a.update(text=a["text"] + " extra"), "text after the last added token"),
    (lambda a: a["tokens"][-1].update(text=" "), "has no text"),  # issue 23 point 10: an empty added token
])
def test_added_tokens_that_are_not_flagged_listed_boxed_or_appended_are_refused(receipt, spoil, message):
    answer = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    spoil(answer)
    with pytest.raises(TaskError, match=message):
        check_added(answer, asked(receipt))


def test_tokens_cannot_be_added_to_a_text():
    """Issue 23 point 10: added tokens with boxes on a text task were stored."""
    text = set_hashes({"text": "Total due", "tokens": [{"text": "Total", "start": 0, "end": 5, "id": 0, "ws": True},
                                                       {"text": "due", "start": 6, "end": 9, "id": 1, "ws": False}]})
    answer = with_added(text, [("33.90", [700, 60, 800, 96])])
    with pytest.raises(TaskError, match="only be added on a page"):
        check_added(answer, asked(text))


def test_the_page_of_the_question_cannot_change(receipt):
    before = asked(receipt)
    dropped = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    del dropped["tokens"][2]  # "you" gone, the added token moves up
    dropped["tokens"][2]["id"] = 2
    dropped["added_tokens"] = [2]
    with pytest.raises(TaskError, match="the answer has 2 tokens of the page, the question had 3"):
        check_added(dropped, before)
    edited = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    edited["text"] = "TOTAL Thank yoU" + edited["text"][15:]
    edited["tokens"][2]["text"] = "yoU"
    with pytest.raises(TaskError, match="differs from the question's"):
        check_added(edited, before)


@pytest.fixture
def served(store, receipt):
    yield from serve_one(store, receipt)


def test_an_answer_with_tokens_added_by_hand_is_stored_under_the_questions_hashes(served, store, receipt):
    app, session, question = served
    answer = with_added(question, [("33.90", [700, 60, 800, 96])])
    answer["spans"] = [span(answer, 3, 3, "TOTAL")]
    code, body = wsgi(app, "POST", "/api/answers", {"session": session, "answers": [{**answer, "answer": "accept"}]})
    assert code == 200 and body["added"] == 1
    [stored] = store.iter_examples("r")
    assert (stored["_input_hash"], stored["_task_hash"]) == (receipt["_input_hash"], receipt["_task_hash"])
    assert stored["added_tokens"] == [3] and stored["tokens"][3]["added"] is True
    assert stored["text"][stored["spans"][0]["start"]:stored["spans"][0]["end"]] == "33.90"


def test_an_answer_that_rewrites_the_page_is_refused_and_nothing_is_stored(served, store):
    app, session, question = served
    answer = with_added(question, [("33.90", [700, 60, 800, 96])])
    answer["tokens"].insert(1, answer["tokens"].pop())  # added in the middle: every later offset would shift
    code, body = wsgi(app, "POST", "/api/answers", {"session": session, "answers": [{**answer, "answer": "accept"}]})
    assert code == 200 and body["results"][0]["status"] == "refused" and body["results"][0]["reason"]
    assert "r" not in store or store.count("r") == 0


def test_training_uses_added_tokens_whatever_order_the_answers_come_in(receipt):
    binary = {**receipt, "spans": [span(receipt, 0, 0, "TOTAL")], "answer": "reject", "_view_id": "ner"}
    manual = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    manual.update(spans=[span(manual, 3, 3, "TOTAL")], answer="accept", _view_id="ner_manual")
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("TOTAL")
    for answers in ([binary, manual], [manual, binary]):
        result = merge_answers(copy.deepcopy(answers), ["TOTAL"])
        [merged] = result.merged
        assert merged.words == ("TOTAL", "Thank", "you", "33.90") and merged.ents == [(3, 4, "TOTAL")]
        assert merged.boxes[3] is not None and not result.unusable and result.conflicts == 0
        [example] = answers_to_examples(nlp, result.merged)
        assert [(e.text, e.label_) for e in example.reference.ents] == [("33.90", "TOTAL")]


def test_answers_adding_different_tokens_are_reported_not_mixed_up(receipt):
    one = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    one.update(spans=[span(one, 3, 3, "TOTAL")], answer="accept", _view_id="ner")
    two = with_added(receipt, [("GBP", [600, 60, 680, 96])])
    two.update(spans=[span(two, 3, 3, "TOTAL")], answer="accept", _view_id="ner")
    result = merge_answers([one, two], ["TOTAL"])
    assert result.merged[0].ents == [(3, 4, "TOTAL")] and result.merged[0].words[3] == "33.90"
    [problem] = result.unusable
    assert "'GBP'" in str(problem) and "tokens added by hand" in str(problem)


def test_exports_carry_the_added_tokens(cli, store, receipt, tmp_path):
    binary = {**receipt, "spans": [span(receipt, 0, 0, "TOTAL")], "answer": "reject", "_view_id": "ner"}
    manual = with_added(receipt, [("33.90", [700, 60, 800, 96])])
    manual.update(spans=[span(manual, 3, 3, "TOTAL")], answer="accept", _view_id="ner_manual")
    store.add_examples([binary, manual], ["receipts"])
    result = cli("db-out", "receipts", tmp_path / "r.conll", "--format", "conll")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "r.conll").read_text().split("\n")[:4] == ["TOTAL\tO", "Thank\tO", "you\tO", "33.90\tB-TOTAL"]
    result = cli("db-out", "receipts", tmp_path / "boxes.jsonl", "--format", "boxes")
    assert result.exit_code == 0, result.stderr
    [record] = [json.loads(line) for line in (tmp_path / "boxes.jsonl").read_text().splitlines()]
    assert record["entities"] == [{"label": "TOTAL", "text": "33.90", "token_start": 3, "token_end": 3,
                                   "boxes": [[700, 60, 800, 96]]}]
