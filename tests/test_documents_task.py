"""Pages as task dicts in the spaCy/Prodigy shape."""

from __future__ import annotations

import copy
import os

from vnerteach.documents import PageResult, Word, page_task


def _result(words) -> PageResult:
    return PageResult("r.pdf", 2, 3, 1700, 2200, 200, True, "ab" * 32, "cd" * 32, "pdf", ("deskew",), 1.5,
                      words=words)


def test_page_task_offsets_index_the_text():
    words = [Word("Total", (10, 10, 60, 30), 91.5, 1, 0), Word("due", (70, 10, 100, 30), 88.0, 1, 0),
             Word("9.00", (10, 40, 50, 60), 77.25, 1, 1)]
    task = page_task(_result(words))
    assert task["text"] == "Total due 9.00"
    assert [task["text"][t["start"]:t["end"]] for t in task["tokens"]] == ["Total", "due", "9.00"]
    assert [t["ws"] for t in task["tokens"]] == [True, True, False]
    assert [t["id"] for t in task["tokens"]] == [0, 1, 2]
    assert task["tokens"][2]["bbox"] == [10, 40, 50, 60]
    assert (task["width"], task["height"]) == (1700, 2200)
    assert task["image"] == f"sha256:{'ab' * 32}#page=2"
    assert task["meta"] == {"path": os.path.abspath("r.pdf"), "page": 2, "pages": 3, "dpi": 200, "ocr": True,
                            "preprocess": ["deskew"], "skew": 1.5, "conf": [91.5, 88.0, 77.25],
                            "image_key": "cd" * 32, "engine": "tesseract", "mean_conf": 85.6, "low_conf_share": 0.0,
                            "low_conf": 60.0}


def test_empty_page():
    task = page_task(_result([]))
    assert task["text"] == "" and task["tokens"] == [] and task["meta"]["conf"] == []


def test_words_split_into_tokens_with_boxes_inside_the_word():
    words = [Word("DATE:14/03/2018", (100, 10, 250, 30), 90.0, 1, 0), Word("RM9.00", (10, 40, 70, 60), 80.0, 1, 1)]
    task = page_task(_result(words))
    assert task["text"] == "DATE:14/03/2018 RM9.00"
    tokens = task["tokens"]
    assert [t["text"] for t in tokens] == ["DATE", ":", "14/03/2018", "RM", "9.00"]
    assert [task["text"][t["start"]:t["end"]] for t in tokens] == [t["text"] for t in tokens]
    assert [t["ws"] for t in tokens] == [False, False, True, False, False]
    assert [t["id"] for t in tokens] == list(range(5))
    assert [t["bbox"] for t in tokens] == [[100, 10, 140, 30], [140, 10, 150, 30], [150, 10, 250, 30],
                                           [10, 40, 30, 60], [30, 40, 70, 60]]
    assert task["meta"]["conf"] == [90.0, 90.0, 90.0, 80.0, 80.0]


def test_a_date_printed_against_its_time_is_a_token_of_its_own():
    from vnerteach.documents.task import split_word

    assert split_word("08/02/20173:43:01") == ("08/02/2017", "3:43:01")
    assert split_word("05/02/1801:34PM") == ("05/02/18", "01:34PM")
    assert split_word("17/01/2018") == ("17/01/2018",) and split_word("14:30") == ("14:30",)


def test_a_span_covers_just_the_value():
    import spacy

    from vnerteach.nlp.merge import merge_answers, reference_doc
    from vnerteach.tasks import span_tokens, tokens_text

    task = page_task(_result([Word("TOTAL:RM9.00", (0, 0, 120, 20), 90.0, 1, 0)]))
    assert tokens_text(task["tokens"]) == task["text"] == "TOTAL:RM9.00"
    span = {"start": 8, "end": 12, "label": "TOTAL"}
    assert span_tokens(span, task["text"], task["tokens"]) == (3, 3)
    merged = merge_answers([{**task, "spans": [span], "answer": "accept"}]).merged
    doc = reference_doc(spacy.blank("en").vocab, merged[0], ["TOTAL"])
    assert [(e.text, e.label_) for e in doc.ents] == [("9.00", "TOTAL")]


def test_time_and_plain_words_stay_whole():
    task = page_task(_result([Word("14:30", (0, 0, 50, 20), 90.0, 1, 0), Word("XRM9", (60, 0, 100, 20), 90.0, 1, 0)]))
    assert [t["text"] for t in task["tokens"]] == ["14:30", "XRM9"]


def _answer(task: dict, start: int, end: int, answer: str) -> dict:
    """A binary answer to a page task about one TOTAL span over text[start:end], hashed as the page."""
    from vnerteach.tasks import set_hashes

    return set_hashes({**copy.deepcopy(task), "spans": [{"start": start, "end": end, "label": "TOTAL"}],
                       "answer": answer, "_view_id": "ner", "_input_hash": 7})


def _coarse(task: dict) -> dict:
    """The page as it was tokenized before words were split: one token per word."""
    words = task["text"].split(" ")
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    return {**task, "tokens": [{"text": w, "start": s, "end": s + len(w), "id": i, "ws": i < len(words) - 1,
                                "bbox": [10 * i, 0, 10 * i + 9, 9]} for i, (w, s) in enumerate(zip(words, starts))]}


def test_answers_on_old_coarse_tokens_merge_with_answers_on_finer_ones():
    import spacy

    from vnerteach.nlp.merge import answers_to_examples, merge_answers

    fine = page_task(_result([Word("TOTAL:", (0, 0, 60, 20), 90.0, 1, 0), Word("RM9.00", (70, 0, 130, 20), 90.0, 1, 0),
                              Word("Thanks", (0, 30, 60, 50), 90.0, 1, 1)]))
    old = _answer(_coarse(fine), 7, 13, "accept")  # "RM9.00", a whole old token
    new = _answer(fine, 7, 9, "reject")  # "RM" alone, only a finer token
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("TOTAL")
    for answers in ([old, new], [new, old]):
        result = merge_answers(copy.deepcopy(answers), ["TOTAL"])
        [merged] = result.merged
        assert not result.unusable and merged.words == ("TOTAL", ":", "RM", "9.00", "Thanks")
        assert (merged.ents, merged.negs) == ([(2, 4, "TOTAL")], [(2, 3, "TOTAL")]) and not result.conflicts
    alone = merge_answers([copy.deepcopy(old)], ["TOTAL"])
    [example] = answers_to_examples(nlp, alone.merged)
    assert [(e.text, e.label_) for e in example.reference.ents] == [("RM9.00", "TOTAL")]
