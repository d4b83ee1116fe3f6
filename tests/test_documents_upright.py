"""Issue 22: pages turned by 90, 180 or 270 degrees are read upright (rotation in meta, boxes on the upright image),
an upright page is left alone, an annotator's turn is cached beside the detected one, and a page read badly is flagged."""

from __future__ import annotations

import json

import pytest
from helpers import doc_options, home_cache
from helpers.documents import LINES, drawn_page as page
from PIL import Image

from vnerteach.documents import PageCache, iter_pages, page_image, page_task
from vnerteach.documents.quality import THRESHOLDS, quality

LOW_CONF, POOR_MEAN, POOR_LOW_SHARE = THRESHOLDS["tesseract"]  # the engine of the coarse-scan tests
from vnerteach.documents.turning import read_turned, turn_task
from vnerteach.errors import InputError, PageImageNotFound


def words_on_ink(result, path) -> float:
    """The share of the page's word boxes that lie on ink in the page image the boxes refer to."""
    with Image.open(path) as image:
        gray = image.convert("L")
        on = 0
        for w in result.words:
            crop = gray.crop(w.bbox)
            on += crop.getextrema()[0] < 100
    return on / max(1, len(result.words))


def read(path, **options):
    return next(iter_pages(path, doc_options(workers=1, **options)))


@pytest.mark.slow
@pytest.mark.parametrize("turned", [90, 180, 270])
def test_a_turned_page_is_read_upright_with_its_rotation_in_meta(tmp_path, turned):
    src = page(tmp_path / f"p{turned}.png", turned_ccw=turned)
    result = read(src)
    task = page_task(result)
    assert result.rotation == turned  # degrees turned clockwise to read it: the turn Pillow made, undone
    assert task["meta"]["rotation"] == turned and task["meta"]["rotation_source"] in ("read", "osd")
    assert "INVOICE NUMBER 20417" in task["text"] and "TOTAL AMOUNT DUE 148.50" in task["text"]
    png = page_image(result, cache_dir=home_cache())
    with Image.open(png) as image:
        assert image.size == (900, 520) == (task["width"], task["height"])  # landscape again, as drawn
    assert words_on_ink(result, png) == 1.0
    boxes = [t["bbox"] for t in task["tokens"]]
    assert all(b[2] - b[0] > b[3] - b[1] for t, b in zip(task["tokens"], boxes) if len(t["text"]) >= 4)  # lying flat
    first, last = task["tokens"][0], task["tokens"][-1]
    assert first["text"] == "INVOICE" and first["bbox"][1] < last["bbox"][1]  # the first line is at the top


@pytest.mark.slow
def test_an_upright_page_is_not_turned_and_stays_its_own_bytes(tmp_path):
    src = page(tmp_path / "up.png")
    result = read(src)
    task = page_task(result)
    assert (task["meta"]["rotation"], task["meta"]["rotation_source"], task["meta"]["skew"]) == (0, "read", 0.0)
    assert page_image(result, cache_dir=home_cache()).read_bytes() == src.read_bytes()
    off = page_task(read(src, turn=False))
    assert "rotation" not in off["meta"] and off["text"] == task["text"]


@pytest.mark.slow
def test_a_small_skew_is_left_alone_by_default_and_straightened_with_deskew(tmp_path):
    src = tmp_path / "skew.png"
    Image.open(page(tmp_path / "flat.png")).rotate(2.0, expand=True, fillcolor=255).save(src)
    meta = page_task(read(src))["meta"]
    assert meta["skew"] == 0.0 and meta["rotation"] == 0  # not turned for a skew: read as it is
    deskewed = page_task(read(src, preprocess="deskew"))["meta"]
    assert 1.6 <= deskewed["skew"] <= 2.4 and deskewed["rotation"] == 0


@pytest.mark.slow
def test_an_annotators_turn_is_cached_beside_the_detected_one(tmp_path):
    src = page(tmp_path / "p.png", turned_ccw=90)
    detected = read(src)
    assert detected.rotation == 90
    sideways = read_turned(detected.image_key, 180, doc_options())  # one more quarter: upside down
    assert (sideways.rotation, sideways.rotation_source) == (180, "annotator")
    assert sideways.image_key != detected.image_key
    with Image.open(page_image(sideways, cache_dir=home_cache())) as image:
        assert image.size == (520, 900)
    back = read_turned(detected.image_key, 90, doc_options())  # the annotator's 90 is not the detected 90: its own image
    assert back.image_key not in (detected.image_key, sideways.image_key) and back.rotation_source == "annotator"
    cache = PageCache(home_cache())
    for r in (detected, sideways, back):
        assert cache.cached_image(r.image_key) is not None
        assert cache.read_manifest(r.image_key)["rotation"] == r.rotation
    again = read(src)
    assert again.cached and again.image_key == detected.image_key and again.rotation_source == detected.rotation_source
    assert read_turned(detected.image_key, 180, doc_options()).cached  # read once, kept
    assert [w.text for w in back.words] == [w.text for w in detected.words]


@pytest.mark.slow
def test_turn_task_keeps_the_question_and_drops_its_spans(tmp_path):
    src = page(tmp_path / "p.png")
    task = page_task(read(src, turn=False))
    task.update(_input_hash=11, _task_hash=22, spans=[{"start": 0, "end": 7, "label": "X"}],
                meta={**task["meta"], "note": "kept"})
    turned = turn_task(task, doc_options())
    assert (turned["_input_hash"], turned["_task_hash"], turned["spans"]) == (11, 22, [])
    assert turned["meta"]["rotation"] == 90 and turned["meta"]["rotation_source"] == "annotator"
    assert turned["meta"]["note"] == "kept" and turned["meta"]["image_key"] != task["meta"]["image_key"]
    assert (turned["width"], turned["height"]) == (task["height"], task["width"])
    assert turn_task(turned, doc_options())["meta"]["rotation"] == 180
    with pytest.raises(InputError, match="only a page"):
        turn_task({"text": "plain text"}, doc_options())
    with pytest.raises(PageImageNotFound):
        turn_task({"text": "x", "meta": {"image_key": "0" * 64, "page": 1}}, doc_options())
    with pytest.raises(ValueError, match="0, 90, 180 or 270"):
        read_turned(task["meta"]["image_key"], 45, doc_options())


def test_turn_task_says_when_the_file_changed(tmp_path):
    src = page(tmp_path / "p.png")
    task = page_task(read(src))
    page(src, lines=LINES[:2])
    with pytest.raises(InputError, match="changed since"):
        turn_task(task, doc_options())


def test_digits_read_upside_down_are_no_sign_of_an_upright_page():
    from vnerteach.documents.results import Word
    from vnerteach.documents.upright import clear_words

    upside_down = [Word(t, (0, 0, 40, 10), 99.0, 0, 0) for t in ("0081", "0001", "009", "00/1", "HSVO")]
    assert clear_words(upside_down) == (1, 0)  # PP-OCR reads 0, 1, 8 and 9 turned over as themselves, confidently


def test_quality_thresholds_flag_a_page_read_badly():
    assert quality([90, 85, 95], "tesseract") == (90.0, 0.0, False)
    assert quality([90, 30, 40, 88], "tesseract").poor  # half the words low
    assert quality([POOR_MEAN - 1] * 10, "tesseract").poor and not quality([POOR_MEAN + 1] * 10, "tesseract").poor
    share = POOR_LOW_SHARE + 0.05
    n_low = round(share * 100)
    assert quality([LOW_CONF - 1] * n_low + [99] * (100 - n_low), "tesseract").poor
    assert quality([None, None], "tesseract") == (None, None, False)
    # PP-OCR scores sit near 90-96 on a receipt read well: its thresholds are its own
    assert not quality([95, 93, 91, 97], "ppocrv5").poor and quality([95, 93, 91, 97], "tesseract") == (94.0, 0.0, False)
    assert quality([95, 70, 72, 94], "ppocrv5").poor and not quality([95, 70, 72, 94], "tesseract").poor


def test_a_page_read_badly_is_flagged_in_meta_and_a_clean_one_is_not(tmp_path):
    clean = page_task(read(page(tmp_path / "clean.png"), ocr_engine="tesseract"))["meta"]
    assert clean["mean_conf"] > POOR_MEAN and clean["low_conf_share"] < POOR_LOW_SHARE and "poor_ocr" not in clean
    sharp = Image.open(page(tmp_path / "sharp.png"))
    coarse = sharp.resize((sharp.width // 5, sharp.height // 5), Image.BILINEAR).resize(sharp.size, Image.NEAREST)
    coarse.save(tmp_path / "coarse.png")  # a 5x coarser scan: Tesseract guesses at half the words
    bad = page_task(read(tmp_path / "coarse.png", ocr_engine="tesseract"))["meta"]
    assert bad["engine"] == "tesseract" and bad["low_conf"] == LOW_CONF
    assert bad["poor_ocr"] is True and (bad["mean_conf"] < POOR_MEAN or bad["low_conf_share"] > POOR_LOW_SHARE)
    assert bad["rotation"] == 0  # read badly every way: kept as it is
    json.dumps(bad)


@pytest.mark.slow
def test_the_ocr_summary_counts_pages_read_badly_and_turned(cli, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    page(folder / "a_clean.png")
    page(folder / "b_turned.png", turned_ccw=180)
    sharp = Image.open(page(tmp_path / "sharp.png"))
    sharp.resize((sharp.width // 5, sharp.height // 5), Image.BILINEAR).resize(sharp.size, Image.NEAREST).save(
        folder / "c_coarse.png")
    out = tmp_path / "tasks.jsonl"
    result = cli("ocr", folder, "-o", out, "--workers", "1", "--ocr-engine", "tesseract")
    assert result.exit_code == 0, result.stderr
    summary = " ".join(result.stderr.split())
    assert f"OCR pages read badly (tesseract: mean < {POOR_MEAN:g} or > {POOR_LOW_SHARE:.0%} of words < 60) │ 1" in summary
    assert "OCR pages read turned upright │ 1" in summary
    metas = [json.loads(line)["meta"] for line in out.read_text().splitlines()]
    assert [m.get("poor_ocr", False) for m in metas] == [False, False, True]
    assert [m["rotation"] for m in metas] == [0, 180, 0]
    result = cli("ocr", folder, "-o", out, "--workers", "1", "--no-turn", "--ocr-engine", "tesseract")
    assert result.exit_code == 0, result.stderr
    assert "OCR pages read turned upright │ 0" in " ".join(result.stderr.split())
