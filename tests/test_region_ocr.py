"""OCR of a region the page's OCR missed: real Tesseract on a crop of the page image, and its API route."""

from __future__ import annotations


import pytest
from helpers import doc_options
from helpers.documents import iou
from helpers.receipts import AMOUNT, receipt

from vnerteach.loop.controller import Controller
from vnerteach.documents import ocr_region
from vnerteach.documents.region import check_box, text_rows
from vnerteach.errors import InputError
from vnerteach.web.images import folder_images
from vnerteach.web.server import make_app

from helpers.web import wsgi


def png_of(task, folder):
    return folder / f"{task['meta']['image_key']}.png"


def around(box, dx=6, dy=4):
    return [box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy]


@pytest.mark.slow
def test_every_amount_a_receipt_shows_is_read_from_its_box(tmp_path):
    """Amounts boxed one by one (upscaled, read as a single line) come back exact, with their boxes on the page."""
    wrong, boxes, count = [], [], 0
    for seed in range(3):
        task = receipt(seed, tmp_path)
        for tok in task["tokens"]:
            if not AMOUNT.match(tok["text"]):
                continue
            count += 1
            words = ocr_region(png_of(task, tmp_path), around(tok["bbox"]))
            if [w.text for w in words] != [tok["text"]]:
                wrong.append((tok["text"], [w.text for w in words]))
            else:
                boxes.append(iou(words[0].bbox, tok["bbox"]))
    assert count >= 30 and not wrong
    assert min(boxes) > 0.5  # the word's box is where the amount is on the page, not in the crop


def test_a_block_of_lines_is_read_line_by_line(tmp_path):
    task = receipt(4, tmp_path)
    lines = [t for t in task["tokens"] if t["text"] in ("TOTAL:", "CASH:", "CHANGE:")]
    box = [lines[0]["bbox"][0] - 4, lines[0]["bbox"][1] - 4, task["width"] - 8, lines[-1]["bbox"][3] + 4]
    words = ocr_region(png_of(task, tmp_path), box, lang="eng")
    wanted = [t["text"] for t in task["tokens"] if box[1] <= t["bbox"][1] and t["bbox"][3] <= box[3]]
    assert "".join(w.text for w in words) == "".join(wanted) and len({w.line for w in words}) == 3
    assert [w.text for w in words if AMOUNT.match(w.text)] == [t for t in wanted if AMOUNT.match(t)]
    assert all(box[0] <= w.bbox[0] < w.bbox[2] <= box[2] and box[1] <= w.bbox[1] < w.bbox[3] <= box[3] for w in words)


def test_an_empty_region_is_no_words_without_running_tesseract(tmp_path, monkeypatch):
    task = receipt(5, tmp_path)
    calls = []
    monkeypatch.setattr("vnerteach.documents.region.ocr_words", lambda *a, **k: calls.append(a) or [])
    assert ocr_region(png_of(task, tmp_path), [2, 2, 20, 20]) == [] and calls == []


@pytest.mark.parametrize("box", [None, [1, 2, 3], ["a", 0, 10, 10], [0, 0, float("nan"), 5], [True, 0, 10, 10],
                                 [5000, 5000, 6000, 6000], [10, 10, 12, 12]])
def test_a_box_off_the_page_or_malformed_is_an_input_error(box):
    with pytest.raises(InputError):
        check_box(box, 400, 800)


def test_a_box_is_clipped_to_the_page_and_its_corners_may_come_in_any_order():
    assert check_box([390.2, 799, -5, 700.5], 400, 800) == (0, 700, 391, 799)
    assert check_box([-20, -20, 900, 900], 400, 800) == (0, 0, 400, 800)


def test_text_rows_measure_the_height_of_the_lines(tmp_path):
    from PIL import Image

    task = receipt(6, tmp_path)
    with Image.open(png_of(task, tmp_path)) as page:
        first = task["tokens"][0]["bbox"]
        second = next(t["bbox"] for t in task["tokens"] if t["bbox"][1] > first[3])
        rows = text_rows(page.convert("L").crop((0, first[1], page.width, second[3])))
    assert len(rows) == 2 and all(8 <= h <= 20 for h in rows)


def test_the_language_comes_from_the_document_options(tmp_path):
    task = receipt(7, tmp_path)
    total = next(t for t in task["tokens"] if AMOUNT.match(t["text"]))
    reader = doc_options(lang="eng").region_reader()
    assert [w.text for w in reader(png_of(task, tmp_path), around(total["bbox"]))] == [total["text"]]
    with pytest.raises(Exception, match="xyz"):
        doc_options(lang="xyz").region_reader()(png_of(task, tmp_path), around(total["bbox"]))


@pytest.fixture
def region_app(store, tmp_path):
    task = receipt(8, tmp_path / "img")
    c = Controller(store, {"dataset": "r", "stream": iter([]), "view_id": "ner_manual", "config": {"labels": ["TOTAL"]}})
    yield make_app(c, images=folder_images(tmp_path / "img")), task
    c.close()


def test_the_ocr_region_route_reads_a_box_of_a_page_image(region_app):
    app, task = region_app
    total = [t for t in task["tokens"] if AMOUNT.match(t["text"])][-4]
    code, body = wsgi(app, "POST", "/api/ocr-region", {"image_key": task["meta"]["image_key"],
                                                       "box": around(total["bbox"])})
    assert code == 200 and [w["text"] for w in body["words"]] == [total["text"]]
    assert iou(body["words"][0]["bbox"], total["bbox"]) > 0.5 and 0 <= body["words"][0]["conf"] <= 100


def test_the_ocr_region_route_refuses_what_it_cannot_read(region_app):
    app, task = region_app
    key = task["meta"]["image_key"]
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": key, "box": [1, 2]})[0] == 400
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": key, "box": [9000, 9000, 9100, 9100]})[0] == 400
    assert wsgi(app, "POST", "/api/ocr-region", {"box": [0, 0, 50, 50]})[0] == 400
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": "../secret", "box": [0, 0, 50, 50]})[0] == 404
    assert wsgi(app, "POST", "/api/ocr-region", b'{"image_key": "' + key.encode() + b'", "box": [0, 0, 50, 50]}',
                headers={"Content-Type": "text/plain"})[0] == 415
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": key, "box": [0, 0, 50, 50], "pad": "x" * 5000})[0] == 413
    # Like the other calls that act for the annotator: only the app may make it.
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": key, "box": [0, 0, 50, 50]}, as_app=False)[0] == 403
    assert wsgi(app, "POST", "/api/ocr-region", {"image_key": key, "box": [0, 0, 50, 50]},
                headers={"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_region_ocr_runs_two_at_a_time_and_turns_a_flood_away_while_questions_stay_served(store, tmp_path):
    """Issue 23 point 7: 100 requests at once started 90 tesseract processes and /api/questions took 30 s."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from vnerteach.web.images import english_region_reader

    task = receipt(8, tmp_path / "img")
    running, most, lock = [0], [0], threading.Lock()

    def counted(path, box):  # the real reader (Tesseract), counted
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # wide enough that the flood overlaps
            return english_region_reader(path, box)
        finally:
            with lock:
                running[0] -= 1

    c = Controller(store, {"dataset": "r", "stream": iter([{"text": f"t {i}"} for i in range(5)]),
                           "view_id": "ner_manual", "config": {"labels": ["TOTAL"]}})
    app = make_app(c, images=folder_images(tmp_path / "img"), read_region=counted)
    total = [t for t in task["tokens"] if AMOUNT.match(t["text"])][-4]
    body = {"image_key": task["meta"]["image_key"], "box": around(total["bbox"])}
    with ThreadPoolExecutor(24) as pool:
        flood = [pool.submit(wsgi, app, "POST", "/api/ocr-region", body) for _ in range(24)]
        time.sleep(0.1)
        questions = wsgi(app, "GET", "/api/questions?n=1")
        results = [f.result() for f in flood]
    c.close()
    assert questions[0] == 200 and len(questions[1]["tasks"]) == 1
    assert most[0] <= 2  # never more than two readers at once
    codes = sorted(code for code, _ in results)
    assert set(codes) <= {200, 429} and codes.count(200) >= 2 and 429 in codes
    busy = next(b for code, b in results if code == 429)
    assert "region OCR is busy" in busy["error"]
    assert all(b["words"][0]["text"] == total["text"] for code, b in results if code == 200)
