"""Scanned pages: Tesseract in worker processes, boxes in the pixels of the deskewed page image."""

from __future__ import annotations

import io
import os

import pytesseract
import pytest
from helpers import doc_options, home_cache
from helpers.documents import iou, scanned_page, text_image, word_recall
from PIL import Image

from vnerteach.documents import check_tesseract, iter_documents, iter_pages, page_image, tesseract_version
from vnerteach.documents import ocr as ocr_module
from vnerteach.documents.pool import make_executor
from vnerteach.errors import DependencyError


@pytest.mark.slow
def test_scanned_page_recall_and_boxes_after_deskew(tmp_path):
    scan, truth = scanned_page(dpi=200, angle=2.0)
    scan.save(tmp_path / "scan.png")
    result = next(iter_pages(tmp_path / "scan.png", doc_options(preprocess="grayscale,deskew", workers=1)))
    assert result.ocr and result.kind == "png" and (result.width, result.height) == scan.size
    assert abs(result.skew - 2.0) <= 0.5
    found = [w.text for w in result.words]
    assert word_recall(found, [w for w, _ in truth]) >= 0.95
    boxes: dict[str, list] = {}
    for text, box in truth:
        boxes.setdefault(text, []).append(box)
    recovered = [w for w in result.words if w.text in boxes]
    good = [w for w in recovered if max(iou(w.bbox, b) for b in boxes[w.text]) >= 0.5]
    assert len(good) >= 0.95 * len(recovered)
    assert all(0 <= w.conf <= 100 for w in result.words)
    png = page_image(result, cache_dir=home_cache())
    with Image.open(png) as shown:  # the image the boxes refer to: deskewed, same size
        assert shown.size == scan.size and shown.mode == "L"


@pytest.mark.slow
def test_multipage_tiff_and_formats_by_content(tmp_path):
    first = text_image(["alpha station library"]).convert("RGB")
    second = text_image(["winter harbour museum"])
    first.save(tmp_path / "two.tiff", save_all=True, append_images=[second])
    buf = io.BytesIO()
    second.save(buf, format="JPEG", quality=92)
    (tmp_path / "photo.png").write_bytes(buf.getvalue())  # a JPEG named .png: read as what it is
    first.save(tmp_path / "page.bmp")
    first.save(tmp_path / "page.webp", lossless=True)
    results = list(iter_documents([tmp_path / "two.tiff", tmp_path / "photo.png"], doc_options(workers=2)))
    assert [(r.path.rsplit("/", 1)[1], r.page, r.pages, r.kind) for r in results] == [
        ("two.tiff", 1, 2, "tiff"), ("two.tiff", 2, 2, "tiff"), ("photo.png", 1, 1, "jpeg")]
    assert [w.text for w in results[0].words] == ["alpha", "station", "library"]
    assert [w.text for w in results[1].words] == [w.text for w in results[2].words] == ["winter", "harbour",
                                                                                        "museum"]
    plain = list(iter_documents([tmp_path / "page.bmp", tmp_path / "page.webp"], doc_options(ocr="never")))
    assert [(r.kind, r.width, r.height, r.words) for r in plain] == [("bmp", 900, 300, []), ("webp", 900, 300, [])]


def test_workers_run_tesseract_single_threaded():
    executor = make_executor(1)
    try:
        assert executor.submit(os.getenv, "OMP_THREAD_LIMIT").result() == "1"
    finally:
        executor.shutdown()


def test_tesseract_version_and_languages():
    assert tesseract_version()[0].isdigit()
    assert check_tesseract("eng") == tesseract_version()
    with pytest.raises(DependencyError, match="apt-get install tesseract-ocr-xyz"):
        check_tesseract("eng+xyz")


def test_missing_tesseract_is_one_clear_error_before_any_work(tmp_path, monkeypatch):
    text_image(["hello"]).save(tmp_path / "a.png")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-such-tesseract"))
    ocr_module.tesseract_version.cache_clear()
    ocr_module.installed_languages.cache_clear()
    try:
        with pytest.raises(DependencyError, match="apt-get install tesseract-ocr"):
            iter_documents([tmp_path / "a.png"], doc_options(ocr_engine="tesseract"))  # raised before a page is read
        assert [r.ok for r in iter_documents([tmp_path / "a.png"], doc_options(ocr="never"))] == [True]
    finally:
        ocr_module.tesseract_version.cache_clear()
        ocr_module.installed_languages.cache_clear()
