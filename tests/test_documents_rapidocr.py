"""RapidOCR as the OCR engine (`--ocr-engine rapidocr`, the extra `vnerteach[rapidocr]`) on rendered pages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from doc_fixtures import iou, scanned_page, text_image, word_recall

from vnerteach.documents import DocumentOptions, iter_documents, iter_pages
from vnerteach.documents.rapid import words_from_lines
from vnerteach.errors import DependencyError, UsageError

needs_rapidocr = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import rapidocr_onnxruntime"], capture_output=True).returncode != 0,
    reason="RapidOCR is not installed (pip install 'vnerteach[rapidocr]')")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VNERTEACH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.slow
@needs_rapidocr
def test_rapidocr_reads_a_scanned_page_with_word_boxes(tmp_path):
    scan, truth = scanned_page(dpi=200, angle=0.0, lines=8)
    scan.save(tmp_path / "scan.png")
    result = next(iter_pages(tmp_path / "scan.png", DocumentOptions(ocr_engine="rapidocr", workers=1)))
    assert result.ocr and (result.width, result.height) == scan.size
    assert word_recall([w.text for w in result.words], [w for w, _ in truth]) >= 0.9
    boxes: dict[str, list] = {}
    for text, box in truth:
        boxes.setdefault(text, []).append(box)
    recovered = [w for w in result.words if w.text in boxes]
    good = [w for w in recovered if max(iou(w.bbox, b) for b in boxes[w.text]) >= 0.5]
    assert len(good) >= 0.9 * len(recovered)
    assert all(0 <= w.conf <= 100 for w in result.words)
    assert [w.line for w in result.words] == sorted(w.line for w in result.words)


@needs_rapidocr
def test_the_page_cache_keeps_each_engines_words_apart(tmp_path):
    text_image(["Receipt total 12.50 paid"]).save(tmp_path / "a.png")
    rapid = DocumentOptions(ocr_engine="rapidocr", workers=1)
    first = next(iter_pages(tmp_path / "a.png", rapid))
    tesseract = next(iter_pages(tmp_path / "a.png", DocumentOptions(workers=1)))
    again = next(iter_pages(tmp_path / "a.png", rapid))
    assert (first.cached, tesseract.cached, again.cached) == (False, False, True)
    assert again.words == first.words and "12.50" in [w.text for w in first.words]


def test_words_split_at_spaces_and_gaps_between_character_boxes():
    def box(x0, x1):
        return [[x0, 0], [x1, 0], [x1, 20], [x0, 20]]

    line = [box(0, 100), "ab c", 0.9, [box(0, 10), box(10, 20), box(40, 50), box(50, 60)], ["a", "b", "c", "（"],
            [0.9, 0.8, 1.0, 1.0]]
    words = words_from_lines([line])
    assert [(w.text, w.bbox, w.line) for w in words] == [("ab", (0, 0, 20, 20), 0), ("c(", (40, 0, 60, 20), 0)]
    assert words[0].conf == pytest.approx(85.0)
    no_chars = [box(0, 100), "ab cd", 0.5]  # no per-character output: the line's box split by character
    assert [(w.text, w.bbox) for w in words_from_lines([no_chars])] == [("ab", (0, 0, 40, 20)), ("cd", (60, 0, 100, 20))]


def test_an_unknown_or_missing_engine_fails_before_any_work(tmp_path, monkeypatch):
    text_image(["hello"]).save(tmp_path / "a.png")
    with pytest.raises(UsageError, match="ocr_engine must be one of tesseract, rapidocr"):
        iter_documents([tmp_path / "a.png"], DocumentOptions(ocr_engine="easyocr"))
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(DependencyError, match=r"pip install 'vnerteach\[rapidocr\]'"):
        iter_documents([tmp_path / "a.png"], DocumentOptions(ocr_engine="rapidocr"))
    assert [r.ok for r in iter_documents([tmp_path / "a.png"], DocumentOptions(ocr_engine="rapidocr", ocr="never"))]


def test_every_document_recipe_has_the_engine_flag():
    result = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", "--help"], capture_output=True, text=True)
    assert "--ocr-engine" in result.stdout and "rapidocr" in result.stdout
