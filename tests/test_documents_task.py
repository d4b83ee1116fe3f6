"""Pages as task dicts in the spaCy/Prodigy shape."""

from __future__ import annotations

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
                            "image_key": "cd" * 32}


def test_empty_page():
    task = page_task(_result([]))
    assert task["text"] == "" and task["tokens"] == [] and task["meta"]["conf"] == []
