"""Digital and mixed PDFs: words and boxes from the text layer, OCR only for pages without one."""

from __future__ import annotations

import pymupdf
import pytest
from helpers import doc_options
from helpers.documents import digital_pdf, image_only_pdf, scanned_page, text_image, word_recall, write_lines

from vnerteach.documents import iter_documents, iter_pages, page_task
from vnerteach.errors import InputError


@pytest.mark.parametrize("dpi", [300, 97])
def test_digital_pdf_words_and_boxes_match_what_was_written(tmp_path, dpi):
    path = tmp_path / "digital.pdf"
    written = digital_pdf(path, pages=3)
    results = list(iter_pages(path, doc_options(dpi=dpi, ocr="auto", workers=1)))
    assert [r.page for r in results] == [1, 2, 3]
    scale = dpi / 72
    for result, truth in zip(results, written):
        assert result.pages == 3 and not result.ocr and result.dpi == dpi
        assert (result.width, result.height) == (round(612 * scale + 0.49), round(792 * scale + 0.49))
        assert [w.text for w in result.words] == [w for w, _ in truth]
        for word, (_, box) in zip(result.words, truth):
            assert word.conf is None
            assert max(abs(a - b * scale) for a, b in zip(word.bbox, box)) <= 1.0, (word, box)
        lines = [w.line for w in result.words]
        assert lines == sorted(lines) and len(set(lines)) == 6


def test_pixel_size_is_that_of_the_rendered_image(tmp_path):
    path = tmp_path / "digital.pdf"
    digital_pdf(path, pages=1)
    result = next(iter_pages(path, doc_options(dpi=97)))
    pix = pymupdf.open(path)[0].get_pixmap(dpi=97)
    assert (result.width, result.height) == (pix.width, pix.height)


def test_rotated_page_boxes_are_in_the_rotated_image(tmp_path):
    path = tmp_path / "rotated.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    (word, box), = write_lines(page, [["landscape"]], x0=100, y0=200)
    page.set_rotation(90)
    doc.save(path)
    result = next(iter_pages(path, doc_options(dpi=72, min_text=1)))
    assert (result.width, result.height) == (792, 612)
    # a 90-degree clockwise turn maps (x, y) of the unrotated page to (792 - y, x)
    expected = (792 - box[3], box[0], 792 - box[1], box[2])
    assert result.words[0].text == word
    assert max(abs(a - b) for a, b in zip(result.words[0].bbox, expected)) <= 1.0


@pytest.mark.slow
def test_mixed_pdf_takes_the_right_path_per_page(tmp_path):
    scan, truth = scanned_page(dpi=150, angle=0.0, lines=6, per_line=6)
    image_only_pdf(tmp_path / "scan.pdf", [scan])
    doc = pymupdf.open()
    digital = doc.new_page(width=612, height=792)
    written = write_lines(digital, [["digital", "page", "first"]])
    doc.insert_pdf(pymupdf.open(tmp_path / "scan.pdf"))
    page3 = doc.new_page(width=612, height=792)
    write_lines(page3, [["tiny"]])  # 4 characters: under min_text, so OCR'd (and found blank)
    doc.save(tmp_path / "mixed.pdf")

    results = list(iter_documents([tmp_path / "mixed.pdf"], doc_options(dpi=150, workers=2)))
    assert [(r.page, r.ocr) for r in results] == [(1, False), (2, True), (3, True)]
    assert [w.text for w in results[0].words] == [w for w, _ in written]
    assert word_recall([w.text for w in results[1].words], [w for w, _ in truth]) >= 0.95
    assert all(w.conf is not None for w in results[1].words)
    assert results[1].width == results[0].width == round(612 * 150 / 72)


@pytest.mark.slow
def test_ocr_always_and_never(tmp_path):
    path = tmp_path / "digital.pdf"
    digital_pdf(path, pages=1, lines=2, per_line=4)
    never = next(iter_pages(path, doc_options(dpi=100, ocr="never", min_text=10_000)))
    assert not never.ocr and len(never.words) == 8
    always = next(iter_pages(path, doc_options(dpi=150, ocr="always")))
    assert always.ocr and word_recall([w.text for w in always.words], [w.text for w in never.words]) >= 0.9


def test_image_only_page_with_ocr_never_has_no_words(tmp_path):
    image_only_pdf(tmp_path / "scan.pdf", [text_image(["nothing to read here"])])
    result = next(iter_pages(tmp_path / "scan.pdf", doc_options(ocr="never", dpi=100)))
    assert not result.ocr and result.words == []
    assert page_task(result)["text"] == ""


def test_encrypted_pdf_needs_its_password(tmp_path):
    path = tmp_path / "secret.pdf"
    doc = pymupdf.open()
    write_lines(doc.new_page(), [["classified", "words", "inside"]])
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="sesame", owner_pw="owner")
    with pytest.raises(InputError, match="encrypted PDF: give its password"):
        next(iter_pages(path, doc_options()))
    failure, = iter_documents([path], doc_options(password="wrong"))
    assert not failure.ok and failure.page is None and "password given is wrong" in failure.error
    result = next(iter_pages(path, doc_options(password="sesame", dpi=72)))
    assert [w.text for w in result.words] == ["classified", "words", "inside"]


def test_pages_stream_lazily(tmp_path):
    path = tmp_path / "long.pdf"
    digital_pdf(path, pages=5, lines=1, per_line=3)
    pages = iter_pages(path, doc_options())
    assert next(pages).page == 1
    pages.close()


def test_text_layer_words_split_into_tokens_inside_their_boxes(tmp_path):
    path = tmp_path / "receipt.pdf"
    doc = pymupdf.open()
    write_lines(doc.new_page(), [["DATE:14/03/2018"], ["TOTAL", "RM9.00"]])
    doc.save(path)
    [result] = iter_pages(path, doc_options(workers=1))
    task = page_task(result)
    assert task["text"] == "DATE:14/03/2018 TOTAL RM9.00"
    assert [t["text"] for t in task["tokens"]] == ["DATE", ":", "14/03/2018", "TOTAL", "RM", "9.00"]
    assert [task["text"][t["start"]:t["end"]] for t in task["tokens"]] == [t["text"] for t in task["tokens"]]
    for word, tokens in ((result.words[0], task["tokens"][:3]), (result.words[2], task["tokens"][4:])):
        boxes = [t["bbox"] for t in tokens]
        assert boxes[0][0] == word.bbox[0] and boxes[-1][2] == word.bbox[2]
        assert all(a[2] == b[0] and a[0] < a[2] for a, b in zip(boxes, boxes[1:]))  # left to right, inside
        assert all((b[1], b[3]) == (word.bbox[1], word.bbox[3]) for b in boxes)


def test_ocr_words_split_into_tokens_inside_their_boxes(tmp_path):
    path = tmp_path / "scan.png"
    text_image(["DATE:14/03/2018", "TOTAL RM9.00"]).save(path)
    [result] = iter_pages(path, doc_options(workers=1))
    task = page_task(result)
    assert result.ocr and [w.text for w in result.words] == ["DATE:14/03/2018", "TOTAL", "RM9.00"]
    assert [t["text"] for t in task["tokens"]] == ["DATE", ":", "14/03/2018", "TOTAL", "RM", "9.00"]
    value = task["tokens"][5]
    assert task["text"][value["start"]:value["end"]] == "9.00" and task["meta"]["conf"][5] == result.words[2].conf
    assert result.words[2].bbox[0] < value["bbox"][0] < value["bbox"][2] == result.words[2].bbox[2]
