"""Hashes and task validation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vnerteach.tasks import TaskError, input_hash, set_hashes, stable_hash, task_hash, validate_task

TASK = {"text": "Apple buys U.K. startup", "spans": [{"start": 0, "end": 5, "label": "ORG"}],
        "label": "ORG", "options": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]}


def test_hashes_are_signed_64_bit():
    values = [stable_hash({"text": str(i)}) for i in range(2000)]
    assert all(-(2**63) <= v < 2**63 for v in values)
    assert any(v < 0 for v in values) and any(v > 2**32 for v in values)
    assert len(set(values)) == len(values)


def test_hashes_are_stable_across_processes():
    code = ("import json,sys; from vnerteach.tasks import set_hashes; "
            "t = set_hashes(json.loads(sys.argv[1])); print(t['_input_hash'], t['_task_hash'])")
    import json
    outputs = {subprocess.run([sys.executable, "-c", code, json.dumps(TASK)], capture_output=True, text=True,
                              env={"PYTHONHASHSEED": seed}, check=True).stdout for seed in ("1", "2")}
    here = set_hashes(dict(TASK))
    assert outputs == {f"{here['_input_hash']} {here['_task_hash']}\n"}


def test_key_order_does_not_count():
    reordered = {k: TASK[k] for k in reversed(list(TASK))}
    reordered["spans"] = [{"label": "ORG", "end": 5, "start": 0}]
    assert task_hash(reordered) == task_hash(TASK)
    assert input_hash(reordered) == input_hash(TASK)


@pytest.mark.parametrize("extra", [
    {"score": 0.3}, {"meta": {"source": "x"}}, {"_session_id": "s1"}, {"answer": "reject"},
    {"_timestamp": 123}, {"_view_id": "ner"}, {"tokens": [{"text": "Apple", "start": 0, "end": 5, "id": 0}]},
])
def test_keys_that_must_not_count(extra):
    assert task_hash({**TASK, **extra}) == task_hash(TASK)
    assert input_hash({**TASK, **extra}) == input_hash(TASK)


def test_span_score_and_pattern_do_not_count():
    other = {**TASK, "spans": [{"start": 0, "end": 5, "label": "ORG", "score": 0.9, "pattern": 3}]}
    assert task_hash(other) == task_hash(TASK)


@pytest.mark.parametrize("change", [
    {"spans": [{"start": 0, "end": 5, "label": "PRODUCT"}]},
    {"spans": [{"start": 11, "end": 15, "label": "ORG"}]},
    {"spans": []},
    {"label": "GPE"},
    {"options": [{"id": 1, "text": "a"}]},
])
def test_task_keys_that_must_count(change):
    changed = {**TASK, **change}
    assert task_hash(changed) != task_hash(TASK)
    assert input_hash(changed) == input_hash(TASK)


def test_input_hash_is_the_text_or_the_page_reference():
    assert input_hash({"text": "a"}) != input_hash({"text": "b"})
    page = {"image": "sha256:ab12#page=1", "text": "OCR text"}
    assert input_hash(page) == input_hash({**page, "text": "better OCR text"})
    assert input_hash(page) != input_hash({**page, "image": "sha256:ab12#page=2"})
    assert task_hash(page) != task_hash({**page, "image": "sha256:ab12#page=2"})


def test_set_hashes_keeps_existing_unless_overwrite():
    task = {"text": "x", "_input_hash": 1, "_task_hash": 2}
    assert set_hashes(dict(task))["_task_hash"] == 2
    assert set_hashes(dict(task), overwrite=True)["_input_hash"] == input_hash(task)


@pytest.mark.parametrize("task, message", [
    ([], "expected a JSON object"),
    ({"meta": {}}, "no 'text', 'image' or 'tokens'"),
    ({"text": 3}, "'text' must be a string"),
    ({"text": "abc", "spans": [{"start": 2, "end": 9}]}, "outside the text"),
    ({"text": "abc", "spans": [{"start": "0", "end": 1}]}, "integer 'start'"),
    ({"text": "abc", "answer": "maybe"}, "'answer' must be one of"),
    ({"text": "abc", "tokens": [{"text": "ab", "start": 0, "end": 1}]}, "does not match"),
])
def test_validation_says_what_is_wrong(task, message):
    with pytest.raises(TaskError, match=message):
        validate_task(task)


def test_tokens_only_task_gets_its_text():
    task = validate_task({"tokens": [{"text": "New", "ws": True}, {"text": "York", "ws": False}]})
    assert task["text"] == "New York"
