"""Issue 11, point 4: spans that db-in accepts must never crash training or export.

Each probe is a span db-in used to accept and ner.batch-train or db-out --format spacy/conll then
crashed on; the property tests throw any text with any spans at db-in/db-out and at the merge.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, given, settings, strategies as st
from spacy.tokens import DocBin

from vnerteach.errors import TaskError
from vnerteach.datasets.export import conll_lines, docbin
from vnerteach.nlp.merge import answers_to_examples, merge_answers, merged_doc
from vnerteach.store import connect
from vnerteach.tasks import input_hash, set_hashes, validate_task

from helpers import write_jsonl
from helpers.train import manual_tasks

pytestmark = pytest.mark.reliability

NLP = spacy.blank("en")

# (name, task, span text, reason) of spans db-in accepts (no tokens) that training and export cannot use
PROBES = [
    ("off-boundary", {"text": "Apple buys a startup", "spans": [{"start": 1, "end": 6, "label": "ORG"}]},
     "'pple '", "token boundaries"),
    # "Apple" is [2, 7) in code points; [3, 8) counts the emoji as two UTF-16 units
    ("utf-16", {"text": "😀 Apple buys a startup", "spans": [{"start": 3, "end": 8, "label": "ORG"}]},
     "'pple '", "UTF-16"),
    # the English tokenizer keeps the whole Thai sentence as one token
    ("unsplit script", {"text": "ฉันรักกรุงเทพมหานคร", "spans": [{"start": 6, "end": 19, "label": "CITY"}]},
     "'กรุงเทพมหานคร'", "token boundaries"),
    ("overlapping", {"text": "Bank of America rules", "spans": [{"start": 0, "end": 4, "label": "ORG"},
                                                                 {"start": 0, "end": 15, "label": "ORG"}]},
     "'Bank of America'", "overlaps"),
]
PROBE_IDS = [p[0] for p in PROBES]


def assert_one_line_error(result, code=1):
    """A clean failure: the exit code, one line on stderr, no traceback."""
    assert result.exit_code == code, result.stdout + result.stderr
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def assert_reported(stderr: str, dataset: str, task: dict, span_text: str, reason: str) -> None:
    """The report names the dataset, the input hash, the span's text and offsets, and why."""
    text = " ".join(stderr.split())
    assert f"'{dataset}'" in text and str(input_hash(task)) in text, stderr
    assert span_text in text and reason in text, stderr
    assert any(f"[{s['start']}, {s['end']})" in text for s in task["spans"]), stderr


def dataset_with(cli, tmp_path, name: str, probes: list[dict], good: int = 12) -> list[dict]:
    """Import ``good`` complete annotations plus the probes through db-in; return the good tasks."""
    tasks = manual_tasks(good)
    result = cli("db-in", name, write_jsonl(tmp_path / f"{name}.jsonl", tasks + probes))
    assert result.exit_code == 0, result.stderr
    return tasks


# --- db-in checks spans against the task's own tokens -------------------------------------------------


def tokenized(text: str, spans: list[dict]) -> dict:
    """A task with spaCy's English tokens, as ner.manual or the OCR store them."""
    tokens = [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)}
              for t in NLP.make_doc(text)]
    return {"text": text, "tokens": tokens, "spans": spans}


@pytest.mark.parametrize("task, message", [
    (tokenized("Apple buys a startup", [{"start": 1, "end": 6, "label": "ORG"}]),
     "in.jsonl:2: span 0 'pple ' [1, 6) does not match token boundaries"),
    (tokenized("😀 Apple buys", [{"start": 3, "end": 8, "label": "ORG"}]),
     "UTF-16 code units: in code points the span is [2, 7) 'Apple'"),
    (tokenized("Apple buys", [{"start": 0, "end": 5, "token_start": 0, "token_end": 7, "label": "ORG"}]),
     "in.jsonl:2: span 0 'Apple' [0, 5) is tokens 0 to 0, not token_start 0 and token_end 7"),
    ({"text": "lone \ud83d surrogate", "spans": [{"start": 0, "end": 4, "label": "X"}]},
     "in.jsonl:2: invalid text: a lone surrogate '\\ud83d' is not a character"),
], ids=["off-boundary", "utf-16", "token-indices", "lone-surrogate"])
def test_db_in_refuses_a_span_off_the_tasks_own_tokens(cli, tmp_path, task, message):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps(task) + "\n", encoding="utf8")
    result = cli("db-in", "news", src)
    assert_one_line_error(result)
    assert message in result.stderr
    with connect(str(tmp_path / "test.db")) as store:
        assert "news" not in store.datasets()


# --- training reports what it cannot use and trains on the rest ---------------------------------------


def test_batch_train_reports_each_unusable_answer_and_trains_on_the_rest(cli, tmp_path):
    probes = [p[1] for p in PROBES]
    dataset_with(cli, tmp_path, "news", probes)
    model = tmp_path / "model"
    result = cli("ner.batch-train", "news", "--output", model, "--n-iter", "1", "--eval-split", "0.25")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "4 answers left out" in result.stderr
    for _, task, span_text, reason in PROBES:
        assert_reported(result.stderr, "news", task, span_text, reason)
    meta = json.loads((model / "meta.json").read_text())["vnerteach"]
    assert meta["train_inputs"] + meta["eval_inputs"] == 12 and meta["unusable"] == 4

    strict = cli("ner.batch-train", "news", "--output", tmp_path / "strict", "--n-iter", "1", "--strict")
    assert_one_line_error(strict)
    assert "--strict" in strict.stderr
    assert_reported(strict.stderr, "news", PROBES[0][1], PROBES[0][2], PROBES[0][3])
    assert not (tmp_path / "strict").exists()

    curve = cli("ner.train-curve", "news", "--n-iter", "1", "--strict")
    assert_one_line_error(curve)

    scored = cli("ner.evaluate", model, "news")
    assert scored.exit_code == 0, scored.stderr
    assert "4 answers left out" in scored.stderr
    assert_one_line_error(cli("ner.evaluate", model, "news", "--strict"))


# --- exports report what they cannot use and export the rest ------------------------------------------


@pytest.mark.parametrize("name, task, span_text, reason", PROBES, ids=PROBE_IDS)
def test_db_out_spacy_and_conll_report_the_unusable_answer_and_export_the_rest(cli, tmp_path, name, task,
                                                                              span_text, reason):
    good = dataset_with(cli, tmp_path, "news", [task])
    out = tmp_path / "news.spacy"
    result = cli("db-out", "news", out, "--format", "spacy")
    assert result.exit_code == 0, result.stderr
    assert "1 answers left out" in result.stderr
    assert_reported(result.stderr, "news", task, span_text, reason)
    docs = list(DocBin().from_disk(out).get_docs(NLP.vocab))
    assert sorted(d.text for d in docs) == sorted(t["text"] for t in good)

    conll = tmp_path / "news.conll"
    result = cli("db-out", "news", conll, "--format", "conll")
    assert result.exit_code == 0, result.stderr
    assert_reported(result.stderr, "news", task, span_text, reason)
    inputs = conll.read_text(encoding="utf8").split("\n\n")[:-1]
    assert len(inputs) == len(good)
    assert task["text"].split()[0] not in conll.read_text(encoding="utf8")

    for fmt, target in (("spacy", tmp_path / "strict.spacy"), ("conll", tmp_path / "strict.conll")):
        strict = cli("db-out", "news", target, "--format", fmt, "--strict")
        assert_one_line_error(strict)
        assert_reported(strict.stderr, "news", task, span_text, reason)
        assert not target.exists()


def test_db_out_conll_names_the_input_of_overlapping_accepted_answers(cli, tmp_path):
    text = "Bank of America rules"
    answers = [{"text": text, "spans": [span], "answer": "accept", "_view_id": "ner"}
               for span in ({"start": 0, "end": 4, "label": "ORG"}, {"start": 0, "end": 15, "label": "ORG"})]
    dataset_with(cli, tmp_path, "news", answers, good=3)
    result = cli("db-out", "news", "--format", "conll", "--partial")
    assert result.exit_code == 0, result.stderr
    assert "2 contradictory answers dropped" in result.stderr
    assert str(input_hash({"text": text})) in result.stderr
    assert "Bank\t" not in result.stdout


# --- properties: any text, any spans ------------------------------------------------------------------

ODD = " \t\n\r\u00a0\u2028\u200b😀👍🏽ก่ำ中文\u0301\ud83d\ude00"  # whitespace runs, emoji, combining marks, lone surrogates
TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(ODD)), max_size=24).map("".join)  # st.text() drops surrogates
LABEL = st.sampled_from(["ORG", "PER"])


@st.composite
def tasks(draw) -> dict:
    """A task: any text, maybe its tokens (maybe with a broken offset), any spans (on tokens or not)."""
    text = draw(TEXT)
    task: dict = {"text": text}
    tokens = None
    if draw(st.booleans()):
        try:
            tokens = [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)}
                      for t in NLP.make_doc(text)]
        except UnicodeError:
            tokens = None
        if tokens and draw(st.integers(0, 9)) == 0:
            tokens[draw(st.integers(0, len(tokens) - 1))]["end"] += draw(st.sampled_from([-1, 1]))
        if tokens is not None:
            task["tokens"] = tokens
    spans = []
    for _ in range(draw(st.integers(0, 3))):
        if tokens and draw(st.booleans()):
            first = draw(st.integers(0, len(tokens) - 1))
            last = draw(st.integers(first, len(tokens) - 1))
            span = {"start": tokens[first]["start"], "end": tokens[last]["end"]}
            if draw(st.booleans()):
                span.update(token_start=first, token_end=last)
        else:
            span = {"start": draw(st.integers(-2, len(text) + 2)), "end": draw(st.integers(-2, len(text) + 2))}
        span["label"] = draw(LABEL)
        spans.append(span)
    if spans or draw(st.booleans()):
        task["spans"] = spans
    return task


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=tasks(), ascii_json=st.booleans())
def test_any_text_and_spans_round_trip_through_db_in_and_db_out_or_are_refused(cli, task, ascii_json):
    with tempfile.TemporaryDirectory() as tmp:
        db, src = Path(tmp) / "p.db", Path(tmp) / "in.jsonl"
        src.write_bytes((json.dumps(task, ensure_ascii=ascii_json) + "\n").encode("utf8", "surrogatepass"))
        imported = cli("db-in", "d", src, "--db", db)
        if imported.exit_code == 0:
            out = cli("db-out", "d", "--db", db)
            assert out.exit_code == 0, out.stderr
            (line,) = out.stdout.split("\n")[:-1]
            back = json.loads(line)
            meant = json.loads(src.read_bytes().decode("utf8", "surrogatepass"))  # "\\ud800\\udc00" is one character
            assert back["text"] == meant["text"] and back.get("spans") == meant.get("spans")
        else:
            assert_one_line_error(imported)
            assert str(src) in imported.stderr
            with connect(str(db)) as store:
                assert "d" not in store.datasets()


@settings(max_examples=200, deadline=None)
@given(task=tasks(), binary=st.booleans())
def test_any_task_db_in_accepts_is_merged_or_reported_never_a_crash(task, binary):
    try:
        validate_task(task)
        set_hashes(task)
    except (TaskError, UnicodeError):
        return  # db-in refuses it (the test above)
    task.update(answer="accept", _view_id="ner" if binary else "ner_manual")
    result = merge_answers({"d": [task]}, tokenizer_nlp=NLP)
    for problem in result.unusable:
        assert problem.dataset == "d" and problem.input_hash == task["_input_hash"] and problem.reason
    if not result.unusable and task.get("spans") and NLP.make_doc(task["text"]):
        (m,) = result.merged
        doc = merged_doc(NLP.vocab, m)
        got = sorted((doc[a:b].text, label) for a, b, label in m.ents)
        spans = {(s["start"], s["end"], s["label"]) for s in task["spans"]}  # one per place: two ":" are two
        assert got == sorted((task["text"][start:end], label) for start, end, label in spans)
    answers_to_examples(NLP, result.merged)
    docbin(NLP.vocab, result.merged, partial=True)
    list(conll_lines(result.merged, partial=True))
