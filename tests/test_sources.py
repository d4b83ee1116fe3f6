"""Text streams: JSONL, plain text, folders, stdin, tokenisation."""

from __future__ import annotations

import io
import sys

import pytest
import spacy

from vnerteach.errors import InputError
from vnerteach.sources import get_stream
from vnerteach.tasks import TaskError, add_tokens

from helpers import write_jsonl


def test_jsonl_is_lazy_and_skips_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one"}\n\n   \n{"text": "two"}\n{broken\n')
    stream = get_stream(path)
    assert next(stream)["text"] == "one"
    assert next(stream)["text"] == "two"  # read before the broken line is reached
    with pytest.raises(InputError) as err:
        next(stream)
    assert str(err.value).startswith(f"{path}:5: invalid JSON")


def test_jsonl_task_without_input_is_located(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "ok"}, {"meta": {"id": 2}}])
    with pytest.raises(InputError, match=r"a.jsonl:2: task has no 'text', 'image' or 'tokens'"):
        list(get_stream(path))


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"text": "from stdin"}\n\n'))
    assert [t["text"] for t in get_stream("-")] == ["from stdin"]


def test_plain_text_is_a_task_per_non_empty_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("First line.\n\n  Second line.  \n")
    assert [t["text"] for t in get_stream(path)] == ["First line.", "Second line."]


def test_folder_reads_supported_files_in_sorted_order(tmp_path):
    (tmp_path / "b.txt").write_text("from b\n")
    write_jsonl(tmp_path / "a.jsonl", [{"text": "from a"}])
    (tmp_path / "notes.md").write_text("ignored\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("from c\n")
    assert [t["text"] for t in get_stream(tmp_path)] == ["from a", "from b"]
    assert [t["text"] for t in get_stream(tmp_path, recursive=True)] == ["from a", "from b", "from c"]


@pytest.mark.parametrize("name, message", [("missing.jsonl", "no such file"), ("data.csv", "unsupported file type")])
def test_bad_sources_are_named(tmp_path, name, message):
    if name.endswith(".csv"):
        (tmp_path / name).write_text("a,b\n")
    with pytest.raises(InputError, match=message) as err:
        get_stream(tmp_path / name)
    assert name in str(err.value)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"fine\nna\xefve\n")
    with pytest.raises(InputError, match=r"latin.txt:2: not UTF-8"):
        list(get_stream(path))


def test_tokens_with_offsets_and_whitespace():
    nlp = spacy.blank("en")
    [task] = add_tokens(nlp, [{"text": "Apple's CEO  met U.K. staff.",
                              "spans": [{"start": 0, "end": 5, "label": "ORG"}]}])
    tokens = task["tokens"]
    assert [t["text"] for t in tokens] == [t.text for t in nlp("Apple's CEO  met U.K. staff.")]
    for tok in tokens:
        assert task["text"][tok["start"]:tok["end"]] == tok["text"]
    assert [t["id"] for t in tokens] == list(range(len(tokens)))
    assert tokens[0]["ws"] is False and tokens[2]["ws"] is True
    assert task["spans"][0]["token_start"] == 0 and task["spans"][0]["token_end"] == 0


def test_existing_tokens_are_kept():
    tokens = [{"text": "New York", "start": 0, "end": 8, "id": 0, "ws": False, "bbox": [1, 2, 3, 4]}]
    [task] = add_tokens(spacy.blank("en"), [{"text": "New York", "tokens": tokens}])
    assert task["tokens"] == tokens


def test_misaligned_span_is_an_error():
    with pytest.raises(TaskError, match="token boundaries"):
        list(add_tokens(spacy.blank("en"), [{"text": "Apples", "spans": [{"start": 0, "end": 5, "label": "X"}]}]))


def test_tokenisation_is_lazy():
    def tasks():
        yield {"text": "one"}
        raise RuntimeError("read too far")

    assert next(add_tokens(spacy.blank("en"), tasks()))["tokens"][0]["text"] == "one"
