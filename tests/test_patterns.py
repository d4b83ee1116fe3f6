"""Patterns for the cold start: phrase and token patterns pre-highlight spans in text and page tasks."""

from __future__ import annotations

import json

import pytest
import spacy

from vnerteach.errors import InputError
from vnerteach.teach.patterns import PatternMatcher, read_patterns
from vnerteach.tasks import add_tokens

from helpers import write_jsonl


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


def test_phrase_and_token_patterns(nlp, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [
        {"label": "ORG", "pattern": "Apple"},
        {"label": "PERSON", "pattern": [{"lower": "tim"}, {"lower": "cook"}]},
        {"label": "ORG", "pattern": "Apple Park", "id": "hq"},
    ])
    patterns = read_patterns(path)
    assert [p["id"] for p in patterns] == ["p.jsonl:1", "p.jsonl:2", "hq"]
    [task] = PatternMatcher(nlp, patterns)(add_tokens(nlp, [{"text": "TIM COOK walks around Apple Park and Apple"}]))
    assert [(task["text"][s["start"]:s["end"]], s["label"], s["pattern"]) for s in task["spans"]] == [
        ("TIM COOK", "PERSON", "p.jsonl:2"), ("Apple Park", "ORG", "hq"), ("Apple", "ORG", "p.jsonl:1")]
    assert task["spans"][1]["token_start"] == 4 and task["spans"][1]["token_end"] == 5


def test_existing_spans_win_over_matches(nlp):
    task = {"text": "Apple pie", "spans": [{"start": 0, "end": 9, "label": "FOOD"}]}
    [task] = PatternMatcher(nlp, [{"label": "ORG", "pattern": "Apple", "id": "x"}])(add_tokens(nlp, [task]))
    assert [s["label"] for s in task["spans"]] == ["FOOD"]


def test_page_tokens_keep_their_boxes(nlp):
    tokens = [{"text": w, "start": s, "end": s + len(w), "id": i, "ws": True, "bbox": [i * 10, 0, i * 10 + 8, 10]}
              for i, (w, s) in enumerate([("Acme", 0), ("GmbH", 5), ("Berlin", 10)])]
    task = {"text": "Acme GmbH Berlin", "tokens": tokens, "image": "sha256:ab#page=1", "width": 100, "height": 20}
    [task] = PatternMatcher(nlp, [{"label": "ORG", "pattern": "Acme GmbH", "id": "x"}])([task])
    assert task["spans"] == [{"start": 0, "end": 9, "token_start": 0, "token_end": 1, "label": "ORG", "pattern": "x"}]


@pytest.mark.parametrize("line, message", [
    ("{oops", "p.jsonl:1: invalid JSON"),
    (json.dumps(["ORG", "Apple"]), "p.jsonl:1: a pattern must be an object"),
    (json.dumps({"pattern": "Apple"}), "p.jsonl:1: a pattern needs a 'label'"),
    (json.dumps({"label": "ORG", "pattern": 5}), "p.jsonl:1: 'pattern' must be a string"),
    (json.dumps({"label": "ORG", "pattern": [{}]}), "p.jsonl:1: 'pattern' must be a string"),
])
def test_bad_pattern_files_name_the_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InputError, match=message):
        read_patterns(path)


def test_invalid_token_pattern_is_an_input_error(nlp):
    with pytest.raises(InputError, match="pattern bad"):
        PatternMatcher(nlp, [{"label": "ORG", "pattern": [{"NOT_AN_ATTR": "x"}], "id": "bad"}])


def test_empty_or_missing_file(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no patterns"):
        read_patterns(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="cannot read patterns"):
        read_patterns(tmp_path / "missing.jsonl")
