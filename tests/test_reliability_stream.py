"""Issue 11, points 3 and 9: a bad line or task is reported with file and line and skipped, every valid task
around it is served; pathological tasks are refused at the source and the server keeps answering."""

from __future__ import annotations

import json
import random
import signal
import threading
import time

import pytest

from helpers import doc_options, write_jsonl
import spacy

from vnerteach.loop.controller import Controller

from vnerteach.recipes.manual import ner_manual
from vnerteach.recipes.teach import ner_correct, ner_teach
from vnerteach.sources import get_stream
from vnerteach.tasks import MAX_TASK_BYTES, MAX_TOKEN_CHARS, add_tokens


from helpers.browser import served_app
from helpers.web import ServedRecipe, free_port, http

pytestmark = pytest.mark.reliability

PUNCT = "(\"'[{"


def lines_with(path, n, bad: dict[int, str]):
    """A JSONL of ``n`` lines, ``Text number i about Apple`` except the 1-based lines in ``bad`` (raw text)."""
    rows = [bad.get(i, json.dumps({"text": f"Text number {i} about Apple"})) for i in range(1, n + 1)]
    path.write_text("\n".join(rows) + "\n", encoding="utf8")
    return path


def drain(controller: Controller) -> list[dict]:
    """Every question the controller hands out, answered as it comes, until the session is done."""
    served = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = controller.questions(100)
        if not batch:
            if controller.progress().done:
                return served
            continue
        controller.answer([{**t, "answer": "accept"} for t in batch])
        served += batch
    raise AssertionError("the session did not finish in 60 s")


def punct_run(n: int, seed: int) -> str:
    """A run of ``n`` characters without a space that spaCy splits one prefix at a time (quadratic in ``n``)."""
    rng = random.Random(seed)
    return "".join(rng.choice(PUNCT) for _ in range(n - 1)) + rng.choice("abcdefgh")


@pytest.mark.parametrize("bad_line", [6, 300])
@pytest.mark.parametrize("content, message", [
    ("{\"text\": \"broken", "invalid JSON"),
    ("{\"txt\": \"no text\"}", "task has no 'text', 'image' or 'tokens'"),
    (b"\xff\xfe caf\xe9", "not UTF-8"),
])
def test_manual_serves_every_valid_task_around_a_bad_line(store, tmp_path, bad_line, content, message):
    src = tmp_path / "news.jsonl"
    lines_with(src, 600, {bad_line: "@@BAD@@"})
    raw = src.read_bytes().replace(b"@@BAD@@", content if isinstance(content, bytes) else content.encode())
    src.write_bytes(raw)
    components = ner_manual("news", "blank:en", str(src), label=["ORG"])
    controller = Controller(store, components)
    served = drain(controller)
    controller.close()
    expected = [f"Text number {i} about Apple" for i in range(1, 601) if i != bad_line]
    assert [t["text"] for t in served] == expected
    progress = controller.progress().as_dict()
    assert progress["failed"] == 1 and progress["progress"] == 1.0
    assert len(progress["failures"]) == 1 and progress["failures"][0].startswith(f"{src}:{bad_line}: {message}")
    assert controller.error is None


def test_manual_reports_a_misaligned_span_with_file_and_line(store, tmp_path):
    src = lines_with(tmp_path / "news.jsonl", 300, {
        3: json.dumps({"text": "Apple buys a startup", "spans": [{"start": 1, "end": 4, "label": "ORG"}]}),
        290: json.dumps({"text": "Apple sells", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}),
    })
    controller = Controller(store, ner_manual("news", "blank:en", str(src), label=["ORG"]))
    served = drain(controller)
    controller.close()
    assert len(served) == 299 and served[288]["text"] == "Apple sells"
    assert served[288]["spans"][0]["token_start"] == 0
    assert "Apple buys a startup" not in {t["text"] for t in served}
    [failure] = controller.progress().as_dict()["failures"]
    assert failure.startswith(f"{src}:3: span 'ppl' [1, 4) does not match token boundaries")
    assert controller.error is None


def test_text_lines_and_document_pages_report_through_one_callback(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    lines_with(folder / "a.jsonl", 3, {2: "not json"})
    (folder / "b.png").write_bytes(b"")
    (folder / "c.txt").write_text("first line\n" + "x" * (MAX_TOKEN_CHARS + 1) + "\nlast line\n", encoding="utf8")
    failures = []
    tasks = list(get_stream(folder, documents=doc_options(workers=1), on_failure=failures.append))
    assert [t["text"] for t in tasks] == ["Text number 1 about Apple", "Text number 3 about Apple",
                                          "first line", "last line"]
    assert [str(f) for f in failures] == [
        f"{folder / 'a.jsonl'}:2: invalid JSON: Expecting value (column 1)",
        f"{folder / 'b.png'}: empty file (0 bytes)",
        f"{folder / 'c.txt'}:2: a token of {MAX_TOKEN_CHARS + 1:,} characters is over the limit of "
        f"{MAX_TOKEN_CHARS:,}"]
    assert [(f.line, f.page) for f in failures] == [(2, None), (None, None), (2, None)]


def bad_teach_source(tmp_path):
    """Ten good lines around four bad ones: a box that is not a box, broken JSON, a misaligned span, an empty token."""
    return lines_with(tmp_path / "news.jsonl", 14, {
        1: json.dumps({"text": "Apple page", "width": 100, "height": 100, "tokens": [
            {"text": "Apple", "start": 0, "end": 5, "bbox": "here"}, {"text": "page", "start": 6, "end": 10}]}),
        2: "{\"text\": ",
        5: json.dumps({"text": "Apple buys a startup", "spans": [{"start": 1, "end": 4, "label": "ORG"}]}),
        8: json.dumps({"text": "Apple buys", "tokens": [{"text": "", "start": 0, "end": 0},
                                                        {"text": "Apple", "start": 0, "end": 5}]}),
    })


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["ner.teach", "ner.correct"])
def test_teach_and_correct_streams_skip_bad_tasks_and_serve_the_rest(tmp_path, recipe):
    src = bad_teach_source(tmp_path)
    if recipe == "ner.teach":
        pattern = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "ORG", "pattern": "Apple"}])
        components = ner_teach("news", "blank:en", str(src), label=["ORG"], sorter="random", patterns=pattern)
    else:
        components = ner_correct("news", "blank:en", str(src), label=["ORG"], update=False)
    asked = {t["text"] for t in components["stream"]}
    assert asked == {f"Text number {i} about Apple" for i in range(1, 15) if i not in (1, 2, 5, 8)}
    failures = {str(f).split(": ")[0]: str(f) for f in components["failures"].recent}
    assert sorted(failures) == sorted(f"{src}:{n}" for n in (1, 2, 5, 8))
    assert "span 'ppl' [1, 4) does not match token boundaries" in failures[f"{src}:5"]
    assert "cannot use this task (ValueError: [E031]" in failures[f"{src}:8"]


@pytest.mark.slow
def test_exit_summary_counts_the_skipped_tasks(tmp_path, db_path):
    env = {"VNERTEACH_DB": str(db_path), "VNERTEACH_HOME": str(tmp_path / "home")}
    src = lines_with(tmp_path / "news.jsonl", 8, {
        2: "{oops", 5: json.dumps({"text": "Apple buys", "spans": [{"start": 1, "end": 4, "label": "ORG"}]})})
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"], env, free_port())
    try:
        session = http("GET", served.url + "/api/project")[1]["session"]
        tasks = []
        deadline = time.monotonic() + 30
        while len(tasks) < 6 and time.monotonic() < deadline:
            body = http("GET", served.url + "/api/questions?n=10")[1]
            tasks += body["tasks"]
            if body["progress"]["done"]:
                break
        code, body = http("POST", served.url + "/api/answers",
                          {"session": session, "answers": [{**t, "answer": "accept"} for t in tasks]})
        assert code == 200 and body["saved"] == 6 and body["progress"]["failed"] == 2
    finally:
        code, out, err = served.stop(signal.SIGINT)
    err = " ".join(err.split())
    assert code == 0, err
    assert [t["text"] for t in tasks] == [f"Text number {i} about Apple" for i in (1, 3, 4, 6, 7, 8)]
    assert f"{src}:2: invalid JSON" in err and f"{src}:5: span 'ppl' [1, 4) does not match token boundaries" in err
    assert "Skipped 2 bad tasks" in err and "Saved 6 answers" in err
    assert "stopped early" not in err and "Traceback" not in err


def big_page_task(boxes: int) -> dict:
    tokens, offset = [], 0
    for i in range(boxes):
        word = f"w{i}"
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": i, "ws": True,
                       "bbox": [i % 40 * 50, i // 40 * 30, i % 40 * 50 + 45, i // 40 * 30 + 25]})
        offset += len(word) + 1
    return {"text": " ".join(t["text"] for t in tokens), "tokens": tokens, "width": 2000, "height": 1600,
            "image": "sha256:big#page=1", "meta": {"path": "big.pdf", "page": 1}}


@pytest.mark.slow
def test_pathological_tasks_are_refused_and_the_server_keeps_answering(tmp_path, db_path):
    env = {"VNERTEACH_DB": str(db_path), "VNERTEACH_HOME": str(tmp_path / "home")}
    words = " ".join(f"word{i % 997}, and" for i in range(11_000))  # 0.2 MB of text: a 2.1 MB answer
    src = lines_with(tmp_path / "news.jsonl", 9, {
        2: json.dumps({"text": "x" * 5_000_000}),
        4: json.dumps({"text": "before " + punct_run(6_000, 1) + " after"}),  # 7 s for spaCy, holding the GIL
        6: json.dumps({"text": words}),
        8: json.dumps(big_page_task(2_000)),
    })
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"], env, free_port())
    latencies, project_latencies, tasks = [], [], []
    stop = threading.Event()

    def poll_project():  # a request that never waits for tasks: its latency is the time the server was blocked
        while not stop.is_set():
            start = time.monotonic()
            http("GET", served.url + "/api/project", timeout=60)
            project_latencies.append(time.monotonic() - start)
            time.sleep(0.05)

    poller = threading.Thread(target=poll_project)
    poller.start()
    try:
        session = http("GET", served.url + "/api/project")[1]["session"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            start = time.monotonic()
            code, body = http("GET", served.url + "/api/questions?n=10", timeout=60)
            latencies.append(time.monotonic() - start)
            assert code == 200
            if body["tasks"]:
                code, saved = http("POST", served.url + "/api/answers", {
                    "session": session, "answers": [{**t, "answer": "accept"} for t in body["tasks"]]}, timeout=60)
                assert code == 200, saved
                tasks += body["tasks"]
            elif body["progress"]["done"]:
                break
        failures = body["progress"].get("failures", [])
    finally:
        stop.set()
        poller.join()
        served.stop()
    # the documented 1 s wait for questions, and any other request answered at once, with a margin for a loaded
    # machine well under the 7 s a server tokenizing line 4 would be blocked
    assert max(project_latencies) < 1.5 and max(latencies) < 2.5, (project_latencies, latencies)
    assert [t["text"][:12] for t in tasks] == ["Text number "] * 3 + ["word0, and w", "Text number ",
                                                                      "w0 w1 w2 w3 ", "Text number "]
    assert len(tasks[3]["tokens"]) == 33_000 and len(tasks[5]["tokens"]) == 2_000
    assert failures[0].startswith(f"{src}:2: a task of 4.8 MB is over the limit of {MAX_TASK_BYTES // 2**20} MB")
    assert failures[1] == (f"{src}:4: a token of 6,000 characters is over the limit of {MAX_TOKEN_CHARS:,}")


@pytest.mark.slow
def test_a_long_text_is_tokenized_in_pieces_as_spacy_would_and_lets_other_threads_run():
    nlp = spacy.blank("en")
    text = " ".join(punct_run(MAX_TOKEN_CHARS, seed) for seed in range(16))  # 3 s as one piece, 0.2 s a token
    natural = "\n".join(f"Dr. Smith's  \t({i}) e-mail: a.b@c.org, U.S.A.   costs $5.00!\n\n" for i in range(400))
    gaps: list[float] = []
    stop = threading.Event()

    def ping():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=ping)
    thread.start()
    try:
        tasks = list(add_tokens(nlp, [{"text": text}, {"text": natural}]))
    finally:
        stop.set()
        thread.join()
    assert max(gaps) < 1.5, max(gaps)
    for task in tasks:
        doc = nlp.make_doc(task["text"])
        assert [(t["text"], t["start"], t["ws"]) for t in task["tokens"]] == [
            (t.text, t.idx, bool(t.whitespace_)) for t in doc]
        assert [t["id"] for t in task["tokens"]] == list(range(len(doc)))


@pytest.mark.slow
def test_the_app_lists_skipped_tasks_with_file_and_line(browser, tmp_path, db_path):
    env = {"VNERTEACH_DB": str(db_path), "VNERTEACH_HOME": str(tmp_path / "home")}
    src = lines_with(tmp_path / "news.jsonl", 4, {2: "{oops", 3: json.dumps({"text": "y" * (MAX_TOKEN_CHARS + 5)})})
    with served_app(browser, ["ner.manual", "news", "blank:en", src, "--label", "ORG"], env):
        browser.wait_for_selector("#skipped li:nth-child(2)")
        assert browser.locator("#skipped-title").text_content() == "Skipped 2 bad tasks"
        assert browser.locator("#skipped li").all_text_contents() == [
            f"{src}:3: a token of {MAX_TOKEN_CHARS + 5:,} characters is over the limit of {MAX_TOKEN_CHARS:,}",
            f"{src}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"]
        browser.wait_for_function("s => window.vnerteach.current && window.vnerteach.current.task.text === s",
                                  arg="Text number 1 about Apple")
