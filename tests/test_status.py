"""What the web app shows around the task, as the library computes it: the source's size in pages, progress and
its estimate in ner.teach, the page OCR is running on, label colours (issue 12, points 9 and 11)."""

from __future__ import annotations

import threading

import pytest

from vnerteach.activity import Activity
from vnerteach.loop.components import Progress
from vnerteach.loop.controller import Controller
from vnerteach.datasets.export import PALETTE, label_colour
from vnerteach.sources import source_size
from vnerteach.web.server import make_app

from helpers import doc_options, write_jsonl
from helpers.documents import digital_pdf, image_only_pdf, scanned_page, text_image
from helpers.web import wsgi


def test_the_size_of_a_source_counts_the_pages_of_its_documents(tmp_path):
    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    digital_pdf(folder / "a.pdf", pages=2)
    text_image(["one page"]).save(folder / "b.png")
    frames = [Image.new("L", (200, 100), 255) for _ in range(3)]
    frames[0].save(folder / "c.tif", save_all=True, append_images=frames[1:])
    (folder / "notes.txt").write_text("first line\n\nsecond line\n")
    write_jsonl(folder / "tasks.jsonl", [{"text": "a task"}, {"path": "a.pdf"}, {"text": "has a \"path\" word"}])
    (folder / "readme.md").write_text("not a source\n")
    assert source_size(str(folder / "a.pdf")) == 2
    assert source_size(str(folder / "c.tif")) == 3
    assert source_size(str(folder / "tasks.jsonl")) == 1 + 2 + 1
    assert source_size(str(folder)) == 2 + 1 + 3 + 2 + 4
    assert source_size("-") is None
    (folder / "more").mkdir()
    (folder / "more" / "d.txt").write_text("one\ntwo\n")  # read only with --recursive, counted only then
    assert source_size(str(folder)) == 12 and source_size(str(folder), recursive=True) == 14
    assert source_size(str(tmp_path / "missing")) is None and source_size(str(folder / "readme.md")) is None


def test_progress_is_a_share_of_the_source_or_in_ner_teach_an_estimate():
    assert Progress(3, 3, 1, 8, False).as_dict()["progress"] == 0.5
    assert Progress(3, 3, 0, 4, True).as_dict()["progress"] == 1.0  # done, though a page could not be read
    assert Progress(3, 3, 0, None, False).as_dict()["progress"] is None

    # ner.teach: the total counts inputs; 20 questions came from the first 10 of 100, so ~200 are expected
    counts = {"inputs": 10, "candidates": 300, "questions": 20}
    shown = Progress(5, 9, 0, 100, False, counts=counts).as_dict()
    assert (shown["progress"], shown["estimated"], shown["questions"], shown["candidates"]) == (0.025, True, 20, 300)
    assert Progress(0, 0, 0, 100, False, counts={"inputs": 0, "candidates": 0, "questions": 0}).as_dict()["progress"] is None
    assert Progress(5, 9, 0, 8, False).as_dict()["estimated"] is False


def test_the_controller_reports_the_counts_of_its_stream(store):
    counts = {"inputs": 4, "candidates": 40, "questions": 8}
    c = Controller(store, {"dataset": "news", "stream": iter([{"text": f"t{i}"} for i in range(8)]), "view_id": "ner",
                           "total": 4, "counts": lambda: counts}, wait_s=5, fill_s=0.1)
    tasks = c.questions(2)
    progress = c.answer([{**t, "answer": "accept"} for t in tasks])["progress"]
    assert (progress["progress"], progress["estimated"], progress["questions"], progress["candidates"]) == (0.25, True, 8, 40)
    c.close()


@pytest.mark.slow
def test_ner_teach_counts_the_candidates_it_scored_and_the_questions_it_chose(store, tmp_path):
    from vnerteach.recipes.teach import ner_teach

    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Alice Baker flew to Paris on day {i} ."} for i in range(40)])
    patterns = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "CITY", "pattern": "Paris"}])
    components = ner_teach("news", "blank:en", str(src), label=["PERSON", "CITY"], patterns=patterns)
    assert components["total"] == 40
    c = Controller(store, components, wait_s=30, fill_s=0.5)
    tasks = c.questions(5)
    progress = c.answer([{**t, "answer": "reject"} for t in tasks])["progress"]
    assert 0 < progress["questions"] <= progress["candidates"]
    assert progress["estimated"] and 0 < progress["progress"] < 1
    c.close()


def test_a_source_says_what_its_reader_waits_on_while_it_waits():
    activity = Activity()
    inside, release = threading.Event(), threading.Event()

    def work():
        with activity.waiting_on("OCR is running on a.pdf page 2"):
            with activity.waiting_on("something inner"):
                pass
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=work)
    assert activity.waiting() is None  # not started
    thread.start()
    inside.wait(5)
    assert activity.waiting() == "OCR is running on a.pdf page 2"
    release.set()
    thread.join()
    assert activity.waiting() is None


@pytest.mark.slow
def test_none_yet_says_which_page_ocr_is_running_on(store, tmp_path):

    from vnerteach.recipes.manual import ner_manual

    scan, _ = scanned_page(dpi=300, lines=28)
    image_only_pdf(tmp_path / "scan.pdf", [scan])
    components = ner_manual("scans", "blank:en", str(tmp_path / "scan.pdf"), label=["ORG"],
                            documents=doc_options(workers=1, dpi=300))
    assert components["total"] == 1
    c = Controller(store, components, wait_s=0.3, fill_s=0.1)
    app = make_app(c)
    code, body = wsgi(app, "GET", "/api/questions?n=1")
    assert code == 200 and body["tasks"] == []
    assert body["waiting"] == "OCR is running on scan.pdf page 1" == c.waiting
    for _ in range(200):
        code, body = wsgi(app, "GET", "/api/questions?n=1")
        if body["tasks"]:
            break
    assert body["tasks"][0]["meta"]["page"] == 1 and body["waiting"] is None and c.waiting is None
    c.close()


def test_label_colours_are_one_hash_of_the_name_whatever_else_is_annotated():
    # Pinned: a label keeps its colour across sessions, versions and exports (static/util.js computes the same).
    assert {label: label_colour(label) for label in ("ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY", "Ölfirma", "")} == {
        "ORG": "#f4c430", "PERSON": "#f27c7c", "GPE": "#8e9fd1", "LOC": "#ea8bd1", "DATE": "#f59b42",
        "MONEY": "#b9bf3f", "Ölfirma": "#6cc26c", "": "#f59b42"}
    # no two labels of the usual label sets share a colour
    for labels in (["PER", "ORG", "LOC", "MISC"], ["ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY"],
                   ["COMPANY", "ADDRESS", "DATE", "TOTAL"], ["PERSON", "ADDRESS"], ["NAME", "EMAIL", "PHONE", "ADDRESS"]):
        assert len({label_colour(label) for label in labels}) == len(labels), labels
    assert len(set(PALETTE)) == len(PALETTE) == 17


def test_the_labels_of_a_project_get_clearly_distinct_colours_whatever_their_order():
    """Issue 23 point 12: QUESTION and HEADER were both pale blue on FUNSD."""
    import itertools
    import math

    from vnerteach.datasets.export import NEAR, label_colours

    def rgb(h):
        return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))

    assert math.dist(rgb(label_colour("QUESTION")), rgb(label_colour("HEADER"))) < NEAR  # the hash alone: too near
    for labels in (["QUESTION", "ANSWER", "HEADER"], ["COMPANY", "ADDRESS", "DATE", "TOTAL"], ["PER", "ORG", "LOC", "MISC"],
                   ["ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY"]):
        colours = label_colours(labels)
        assert all(math.dist(rgb(colours[a]), rgb(colours[b])) >= NEAR for a, b in itertools.combinations(labels, 2))
        assert label_colours(reversed(labels)) == colours  # the set decides, not its order
    assert label_colours(["QUESTION", "ANSWER"], {"QUESTION": "#123456"})["QUESTION"] == "#123456"
