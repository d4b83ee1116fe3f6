"""A faint page OCR reads no word from is OCR'd again with stronger preprocessing, and counted."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vnerteach.documents import iter_documents
from vnerteach.documents.jobs import RETRY_STEPS

from helpers import doc_options
from helpers.documents import faint_receipt


@pytest.mark.slow
def test_a_page_without_words_is_retried_with_stronger_preprocessing(tmp_path, monkeypatch):
    monkeypatch.setenv("VNERTEACH_HOME", str(tmp_path / "home"))
    scan = faint_receipt(tmp_path / "faint.png")
    blank = tmp_path / "blank.png"
    Image.new("L", (400, 200), 255).save(blank)
    for cache in (False, True, True):  # no cache; fresh into the cache; from the cache
        options = doc_options(workers=1, cache=cache, ocr_engine="tesseract")  # reads no word of it at first
        faint, empty = list(iter_documents([scan, blank], options))
        words = [w.text for w in faint.words]
        assert faint.retried and "TOTAL" in words and "THANK" in words, words
        assert faint.preprocess == RETRY_STEPS and faint.image_key != empty.image_key
        assert all(0 <= w.bbox[0] < w.bbox[2] <= faint.width for w in faint.words)
        assert empty.retried and empty.words == [] and empty.preprocess == ()


def test_ppocrv5_reads_the_faint_receipt_tesseract_needs_a_retry_for(tmp_path, monkeypatch):
    monkeypatch.setenv("VNERTEACH_HOME", str(tmp_path / "home"))
    faint = next(iter_documents([faint_receipt(tmp_path / "faint.png")], doc_options(workers=1, ocr_engine="ppocrv5")))
    assert not faint.retried and {"TOTAL", "THANK"} <= {w.text for w in faint.words}


@pytest.mark.slow
def test_ocr_summary_counts_retried_and_still_empty_pages(cli, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    faint_receipt(folder / "a_faint.png")
    Image.new("L", (400, 200), 255).save(folder / "b_blank.png")
    out = tmp_path / "tasks.jsonl"
    result = cli("ocr", folder, "-o", out, "--workers", "1", "--ocr-engine", "tesseract")
    assert result.exit_code == 0, result.stderr
    summary = " ".join(result.stderr.split())
    assert "Retried with stronger preprocessing (no words) │ 2" in summary
    assert "OCR pages still without words │ 1" in summary
    faint, blank = [json.loads(line) for line in out.read_text().splitlines()]
    assert faint["meta"]["retried"] and faint["meta"]["preprocess"] == list(RETRY_STEPS) and "TOTAL" in faint["text"]
    assert blank["meta"]["retried"] and blank["text"] == ""

