"""OCR text corrected by hand: one rebuild of text and offsets, checked when answers arrive, then trained,
exported and counted with the original kept beside it."""

from __future__ import annotations

import copy
import json

import pytest
import spacy

from vnerteach.tasks.corrections import OCR_TEXT, corrected, ocr_text, rebuild
from vnerteach.errors import TaskError
from vnerteach.nlp.merge import merge_answers
from vnerteach.tasks import set_hashes, validate_task

from helpers.added import serve_one, span, with_added
from helpers.web import page_task, wsgi


@pytest.fixture
def receipt(tmp_path):
    return set_hashes(page_task(["TOTAL “193.00 GBP", "Thank you"], tmp_path / "img"))


@pytest.fixture
def served(store, receipt):
    yield from serve_one(store, receipt)


def fixed(task: dict, i: int, text: str) -> dict:
    """The task with token i's text changed and nothing else, as the app sends a correction."""
    out = copy.deepcopy(task)
    out["tokens"][i]["text"] = text
    return out


def test_a_corrected_token_rebuilds_the_text_and_moves_later_tokens_and_spans(receipt):
    task = copy.deepcopy(receipt)
    task["spans"] = [span(task, 0, 0, "KEY"), span(task, 1, 2, "TOTAL"), span(task, 3, 4, "NOTE")]
    boxes = [t["bbox"] for t in task["tokens"]]
    answer = fixed(task, 1, "193.00")  # one character shorter
    assert rebuild(answer) == 1
    validate_task(answer)  # text, tokens and spans agree again
    assert answer["text"] == "TOTAL 193.00 GBP Thank you"
    assert [t["text"] for t in answer["tokens"]] == ["TOTAL", "193.00", "GBP", "Thank", "you"]
    assert [answer["text"][t["start"]:t["end"]] for t in answer["tokens"]] == ["TOTAL", "193.00", "GBP", "Thank", "you"]
    assert [t["bbox"] for t in answer["tokens"]] == boxes and [t["id"] for t in answer["tokens"]] == [0, 1, 2, 3, 4]
    assert answer["tokens"][1][OCR_TEXT] == "“193.00" and corrected(answer) == [1]
    assert [answer["text"][s["start"]:s["end"]] for s in answer["spans"]] == ["TOTAL", "193.00 GBP", "Thank you"]
    assert [(s["token_start"], s["token_end"]) for s in answer["spans"]] == [(0, 0), (1, 2), (3, 4)]
    assert ocr_text(answer["tokens"]) == receipt["text"]
    longer = fixed(answer, 3, "Thank-you-very-much")  # longer, after a shorter one: both shifts add up
    assert rebuild(longer) == 1
    validate_task(longer)
    assert longer["text"] == "TOTAL 193.00 GBP Thank-you-very-much you"
    assert [longer["text"][s["start"]:s["end"]] for s in longer["spans"]] == ["TOTAL", "193.00 GBP",
                                                                              "Thank-you-very-much you"]
    assert longer["tokens"][1][OCR_TEXT] == "“193.00" and longer["tokens"][3][OCR_TEXT] == "Thank"


def test_tokens_without_a_space_between_keep_it_that_way():
    text = "TOTAL RM9.00"
    tokens = [{"text": "TOTAL", "start": 0, "end": 5, "id": 0, "ws": True, "bbox": [0, 0, 50, 10]},
              {"text": "RM", "start": 6, "end": 8, "id": 1, "ws": False, "bbox": [60, 0, 70, 10]},
              {"text": "9.00", "start": 8, "end": 12, "id": 2, "ws": False, "bbox": [70, 0, 100, 10]}]
    task = {"text": text, "tokens": tokens, "spans": [{"start": 8, "end": 12, "token_start": 2, "token_end": 2,
                                                       "label": "TOTAL"}]}
    task["tokens"][1]["text"] = "RM1"  # one longer, right before the span, no space between
    assert rebuild(task) == 1
    validate_task(task)
    assert task["text"] == "TOTAL RM19.00" and task["text"][task["spans"][0]["start"]:task["spans"][0]["end"]] == "9.00"


def test_a_token_corrected_twice_keeps_what_ocr_read_and_back_to_it_keeps_nothing(receipt):
    once = fixed(receipt, 1, "193.0")
    rebuild(once)
    twice = fixed(once, 1, "193.00")
    assert rebuild(twice) == 1 and twice["tokens"][1][OCR_TEXT] == "“193.00"
    back = fixed(twice, 1, "“193.00")
    assert rebuild(back) == 1 and OCR_TEXT not in back["tokens"][1] and back["text"] == receipt["text"]
    same = copy.deepcopy(twice)
    assert rebuild(same) == 0 and same == twice  # already rebuilt (a resend): left as it is


@pytest.mark.parametrize("text, message", [
    ("", "needs some text"),
    ("   ", "needs some text"),
    ("193 .00", "cannot hold whitespace"),
    ("193\u00a0.00", "cannot hold whitespace"),
    ("9" * 1001, "over the limit"),
])
def test_a_correction_that_is_empty_or_holds_whitespace_is_refused_and_the_task_left_alone(receipt, text, message):
    answer = fixed(receipt, 1, text)
    before = copy.deepcopy(answer)
    with pytest.raises(TaskError, match=message) as err:
        rebuild(answer)
    assert "token 1 ('“193.00')" in str(err.value)
    assert answer == before


def test_corrections_and_tokens_added_by_hand_go_together(receipt):
    from vnerteach.tasks.added import asked, check_added

    before = asked(receipt)
    answer = with_added(fixed(receipt, 1, "193.00"), [("33.90", [700, 60, 800, 96])])
    answer["spans"] = [span(answer, 5, 5, "TOTAL")]
    sent = answer["text"]
    rebuild(answer)
    validate_task(answer)
    check_added(answer, before, sent)
    assert answer["text"] == "TOTAL 193.00 GBP Thank you 33.90"
    assert answer["text"][answer["spans"][0]["start"]:answer["spans"][0]["end"]] == "33.90"
    assert OCR_TEXT not in answer["tokens"][5]
    forged = copy.deepcopy(answer)
    forged["text"] = "X" + forged["text"][1:]
    forged["tokens"][0]["text"] = "XOTAL"
    with pytest.raises(TaskError, match="differs from the question's"):
        check_added(forged, before, "X" + sent[1:])


def test_the_server_stores_a_corrected_answer_rebuilt_with_the_original_beside_it(served, store, receipt):
    app, session, question = served
    answer = fixed(question, 1, "193.00")
    answer["spans"] = [span(question, 1, 1, "TOTAL")]  # offsets as asked: the server moves them
    code, body = wsgi(app, "POST", "/api/answers", {"session": session, "answers": [{**answer, "answer": "accept"}]})
    assert code == 200 and body["results"] == [{"status": "stored"}], body
    [stored] = store.iter_examples("r")
    assert stored["text"] == "TOTAL 193.00 GBP Thank you"
    assert stored["tokens"][1] == {**receipt["tokens"][1], "text": "193.00", "end": 12, OCR_TEXT: "“193.00"}
    assert stored["text"][stored["spans"][0]["start"]:stored["spans"][0]["end"]] == "193.00"
    assert (stored["_input_hash"], stored["_task_hash"]) == (receipt["_input_hash"], receipt["_task_hash"])


@pytest.mark.parametrize("text, reason", [("", "needs some text"), ("193 00", "cannot hold whitespace")])
def test_the_server_refuses_a_bad_correction_clearly_and_stores_nothing(served, store, text, reason):
    app, session, question = served
    answer = {**fixed(question, 1, text), "answer": "accept"}
    code, body = wsgi(app, "POST", "/api/answers", {"session": session, "answers": [answer]})
    assert code == 200 and body["saved"] == 0
    [result] = body["results"]
    assert result["status"] == "refused" and reason in result["reason"] and "token 1" in result["reason"]
    assert "r" not in store or store.count("r") == 0


def test_a_corrected_answer_trains_on_its_text_whatever_order_the_answers_come_in(receipt):
    plain = {**copy.deepcopy(receipt), "spans": [span(receipt, 0, 0, "TOTAL")], "answer": "reject", "_view_id": "ner"}
    fix = fixed(receipt, 1, "193.00")
    fix.update(spans=[span(receipt, 1, 1, "TOTAL")], answer="accept", _view_id="ner_manual")
    rebuild(fix)
    for answers in ([plain, fix], [fix, plain]):
        [merged] = merge_answers(copy.deepcopy(answers), ["TOTAL"]).merged
        assert merged.words[1] == "193.00" and merged.ents == [(1, 2, "TOTAL")]


def stored_correction(store, receipt) -> dict:
    fix = fixed(receipt, 1, "193.00")
    fix.update(spans=[span(receipt, 1, 1, "TOTAL")], answer="accept", _view_id="ner_manual")
    rebuild(fix)
    other = set_hashes({"text": "Total 12.00", "spans": [{"start": 6, "end": 11, "label": "TOTAL"}],
                        "answer": "accept", "_view_id": "ner_manual"})
    store.add_examples([fix, other], ["receipts"])
    return fix


def test_exports_carry_the_corrected_text_and_db_out_the_original_too(cli, store, receipt, tmp_path):
    stored_correction(store, receipt)
    result = cli("db-out", "receipts", tmp_path / "r.jsonl")
    assert result.exit_code == 0, result.stderr
    line = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert line["text"] == "TOTAL 193.00 GBP Thank you" and line["tokens"][1][OCR_TEXT] == "“193.00"
    result = cli("db-out", "receipts", tmp_path / "r.conll", "--format", "conll")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "r.conll").read_text().split("\n")[:3] == ["TOTAL\tO", "193.00\tB-TOTAL", "GBP\tO"]
    result = cli("db-out", "receipts", tmp_path / "boxes.jsonl", "--format", "boxes")
    assert result.exit_code == 0, result.stderr
    [record] = [json.loads(line) for line in (tmp_path / "boxes.jsonl").read_text().splitlines()]
    assert record["entities"] == [{"label": "TOTAL", "text": "193.00", OCR_TEXT: "“193.00", "token_start": 1,
                                   "token_end": 1, "boxes": [receipt["tokens"][1]["bbox"]]}]


def test_batch_train_learns_from_the_corrected_text(cli, store, receipt, tmp_path):
    stored_correction(store, receipt)
    from vnerteach.nlp.training_data import prepare_data

    data = prepare_data(store, ["receipts"], eval_split=0.0)
    words = {w for m in data.train + data.dev for w in m.words}
    assert "193.00" in words and "“193.00" not in words
    out = tmp_path / "model"
    result = cli("ner.batch-train", "receipts", "-o", out, "-n", 1, "--eval-split", 0)
    assert result.exit_code == 0, result.stderr
    strings = spacy.load(out).vocab.strings
    assert "193.00" in strings and "“193.00" not in strings


def test_stats_counts_the_tokens_corrected(cli, store, receipt):
    stored_correction(store, receipt)
    result = cli("stats")
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "Total" in line)
    row = next(line for line in result.stdout.splitlines() if line.lstrip().startswith("receipts"))
    assert "Corrected" in header
    cells = row.split()
    assert cells[header.split().index("Corrected")] == "1"
    [stats] = store.stats("receipts")
    assert stats.corrected == 1


def test_stored_fixes_apply_only_where_ocr_read_the_same_word_in_the_same_box(receipt):
    from vnerteach.tasks.corrections import apply_fixes, stored_fixes

    answer = fixed(receipt, 1, "193.00")
    rebuild(answer)
    fixes = stored_fixes([answer])[receipt["_input_hash"]]
    page = copy.deepcopy(receipt)
    assert apply_fixes(page, fixes) == 1
    assert page["text"] == "TOTAL 193.00 GBP Thank you" and page["tokens"][1][OCR_TEXT] == "“193.00"
    reread = copy.deepcopy(receipt)  # OCR'd again, it read this word otherwise: the correction is not for it
    reread["tokens"][1]["text"] = "'193.00"
    reread["text"] = reread["text"].replace("“", "'")
    assert apply_fixes(reread, fixes) == 0 and reread["tokens"][1]["text"] == "'193.00"
    moved = copy.deepcopy(receipt)
    moved["tokens"][1]["bbox"] = [0, 0, 1, 1]
    assert apply_fixes(moved, fixes) == 0
