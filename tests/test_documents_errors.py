"""Bad input is recorded per item (path, page, error) and the run goes on."""

from __future__ import annotations

import io
import struct
import zlib

import pymupdf
import pytest
from helpers import doc_options
from helpers.documents import text_image, write_lines
from PIL import Image

from vnerteach.documents import file_kind, iter_documents, iter_pages
from vnerteach.errors import InputError, UsageError


def png_header_only(path, width: int, height: int) -> None:
    """A tiny PNG that claims to be width x height 1-bit pixels: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.fixture
def bad_and_good(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    buf = io.BytesIO()
    text_image(["truncated scan"]).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (tmp_path / "notes.pdf").write_text("just some text, not a PDF at all\n")
    png_header_only(tmp_path / "bomb.png", 30_000, 30_000)
    png_header_only(tmp_path / "big.png", 10_000, 10_000)
    Image.new("L", (40_000, 20), 255).save(tmp_path / "wide.png")  # Tesseract refuses it
    doc = pymupdf.open()
    write_lines(doc.new_page(), [["secret"]])
    doc.save(tmp_path / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="o")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    text_image(["good page here"]).save(tmp_path / "good.png")
    names = ["empty.png", "cut.jpg", "notes.pdf", "bomb.png", "big.png", "wide.png", "locked.pdf", "data.csv",
             "missing.png", "good.png"]
    return [tmp_path / n for n in names]


def test_each_bad_item_is_recorded_and_the_run_goes_on(bad_and_good):
    results = list(iter_documents(bad_and_good, doc_options(workers=2, ocr_engine="tesseract"), window=4))  # refuses wide.png
    assert [r.path for r in results] == [str(p) for p in bad_and_good]
    *failures, good = results
    assert good.ok and [w.text for w in good.words] == ["good", "page", "here"]
    assert all(not f.ok for f in failures)
    errors = {f.path.rsplit("/", 1)[1]: (f.page, f.error) for f in failures}
    assert errors["empty.png"] == (None, "empty file (0 bytes)")
    assert errors["cut.jpg"][0] == 1 and "truncated" in errors["cut.jpg"][1]
    assert errors["notes.pdf"][1].startswith("not a PDF: the extension says .pdf but the content does not")
    assert "decompression-bomb" in errors["bomb.png"][1] and "decompression-bomb" in errors["big.png"][1]
    assert errors["wide.png"][0] == 1 and errors["wide.png"][1].startswith("Tesseract failed")
    assert "encrypted PDF" in errors["locked.pdf"][1] and "password" in errors["locked.pdf"][1]
    assert errors["data.csv"][1].startswith("unsupported file type '.csv'")
    assert errors["missing.png"] == (None, "no such file")
    assert str(failures[0]).endswith("empty.png: empty file (0 bytes)")


def test_pdf_page_larger_than_the_pixel_limit(tmp_path):
    doc = pymupdf.open()
    write_lines(doc.new_page(width=14_000, height=14_000), [["huge", "page", "words"]])
    doc.save(tmp_path / "poster.pdf")
    failure, = iter_documents([tmp_path / "poster.pdf"], doc_options(dpi=300))
    assert failure.page == 1 and "decompression-bomb" in failure.error


def test_iter_pages_raises_the_failure(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.pdf: empty file"):
        list(iter_pages(tmp_path / "empty.pdf", doc_options()))


def test_damaged_pdf(tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    failure, = iter_documents([tmp_path / "broken.pdf"], doc_options(ocr="never"))
    assert not failure.ok and failure.page is None


def test_content_decides_the_kind(tmp_path):
    text_image(["x"]).save(tmp_path / "scan.pdf", format="PNG")
    assert file_kind(tmp_path / "scan.pdf") == "png"


@pytest.mark.parametrize("kwargs, message", [
    ({"ocr": "sometimes"}, "ocr must be one of auto, always, never"),
    ({"dpi": 0}, "dpi must be a whole number"),
    ({"workers": 0}, "workers must be 1 or more"),
    ({"preprocess": "sharpen"}, "unknown preprocessing step 'sharpen'"),
])
def test_bad_options_are_usage_errors(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        iter_documents([tmp_path / "a.pdf"], doc_options(**kwargs))
