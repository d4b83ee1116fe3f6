"""The page cache: a page is OCR'd once; images are kept so a server can show what the boxes refer to."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import doc_options, home_cache
from helpers.documents import digital_pdf, image_only_pdf, text_image
from PIL import Image

from vnerteach.documents import PageImageNotFound, iter_documents, iter_pages, page_image
from vnerteach.documents.cache import PageCache, image_key, ocr_key
from vnerteach.documents.pool import ordered


@pytest.fixture
def scan_pdf(tmp_path):
    path = tmp_path / "scan.pdf"
    image_only_pdf(path, [text_image(["cached words only once"]), text_image(["second page text"])])
    return path


@pytest.mark.slow
def test_second_run_comes_from_the_cache(scan_pdf, home):
    first = list(iter_pages(scan_pdf, doc_options(dpi=100, preprocess="grayscale")))
    assert [r.cached for r in first] == [False, False] and all(r.ocr for r in first)
    assert (home / "cache" / "ocr").is_dir() and (home / "cache" / "images").is_dir()
    second = list(iter_pages(scan_pdf, doc_options(dpi=100, preprocess="grayscale")))
    assert [r.cached for r in second] == [True, True]
    assert [r.words for r in second] == [r.words for r in first]
    assert [r.image_key for r in second] == [r.image_key for r in first]
    bypass = list(iter_pages(scan_pdf, doc_options(dpi=100, preprocess="grayscale", cache=False)))
    assert [r.cached for r in bypass] == [False, False] and bypass[0].words == first[0].words
    other = next(iter_pages(scan_pdf, doc_options(dpi=100, preprocess="grayscale,binarize")))
    assert not other.cached and other.image_key != first[0].image_key


def test_keys_cover_every_input_of_a_page():
    base = image_key("ab" * 32, 1, 300, ("deskew",))
    assert len({base, image_key("cd" * 32, 1, 300, ("deskew",)), image_key("ab" * 32, 2, 300, ("deskew",)),
                image_key("ab" * 32, 1, 200, ("deskew",)), image_key("ab" * 32, 1, 300, ())}) == 5
    assert len({ocr_key(base, "eng", "tesseract 5.3.0"), ocr_key(base, "deu", "tesseract 5.3.0"),
                ocr_key(base, "eng", "tesseract 5.4.0"), ocr_key(base, "eng", "rapidocr 1.4.4")}) == 4


@pytest.mark.slow
def test_page_image_of_an_ocr_page_is_the_processed_image(scan_pdf, home):
    result = next(iter_pages(scan_pdf, doc_options(dpi=100, preprocess="grayscale,binarize")))
    png = page_image(result.image_key, cache_dir=home_cache())
    assert png == PageCache(home_cache()).image_path(result.image_key) and png.parent.parent.parent == home / "cache"
    with Image.open(png) as image:
        assert image.size == (result.width, result.height) and set(np.unique(np.asarray(image))) <= {0, 255}
    png.unlink()  # evicted: made again from the manifest, identically
    assert page_image(result.image_key, cache_dir=home_cache()) == png and png.exists()
    manifest = json.loads(png.with_suffix(".json").read_text())
    assert manifest["preprocess"] == ["grayscale", "binarize"] and "password" not in manifest


def test_page_image_of_a_digital_page_is_rendered_on_demand(tmp_path):
    digital_pdf(tmp_path / "d.pdf", pages=2, lines=1, per_line=3)
    results = list(iter_pages(tmp_path / "d.pdf", doc_options(dpi=50)))
    png = PageCache(home_cache()).image_path(results[1].image_key)
    assert not png.exists()
    assert page_image(results[1].image_key, cache_dir=home_cache()) == png
    with Image.open(png) as image:
        assert image.size == (results[1].width, results[1].height)
    assert page_image(results[0], cache_dir=home_cache()).exists()  # from a PageResult too


def test_page_image_refuses_unknown_and_malformed_keys(tmp_path):
    with pytest.raises(PageImageNotFound, match="no page image with key"):
        page_image("0" * 64, cache_dir=home_cache())
    with pytest.raises(PageImageNotFound, match="not a page-image key"):
        page_image("../../etc/passwd", cache_dir=home_cache())


def test_page_image_notices_a_changed_file(tmp_path):
    digital_pdf(tmp_path / "d.pdf", pages=1, lines=1, per_line=2)
    result = next(iter_pages(tmp_path / "d.pdf", doc_options(dpi=50)))
    digital_pdf(tmp_path / "d.pdf", pages=1, lines=1, per_line=5)
    with pytest.raises(Exception, match="changed since"):
        page_image(result.image_key, cache_dir=home_cache())


def test_png_without_preprocessing_is_kept_byte_for_byte(tmp_path):
    text_image(["same bytes"]).save(tmp_path / "p.png")
    result = next(iter_pages(tmp_path / "p.png", doc_options()))
    assert page_image(result, cache_dir=home_cache()).read_bytes() == (tmp_path / "p.png").read_bytes()


def _square(n: int) -> int:
    return n * n


def test_the_command_line_fills_the_cache_folder(cli, tmp_path, home):
    """Issue 24: the page cache is --cache-dir, else $VNERTEACH_HOME/cache, chosen by the command line alone."""
    digital_pdf(tmp_path / "d.pdf", pages=1, lines=1, per_line=3)
    mine = tmp_path / "mine"
    result = cli("ocr", tmp_path / "d.pdf", "-o", tmp_path / "d.jsonl", "--cache-dir", mine)
    assert result.exit_code == 0, result.stderr
    assert list((mine / "images").rglob("*.json")) and not (home / "cache").exists()
    assert cli("db-in", "pages", tmp_path / "d.jsonl").exit_code == 0
    result = cli("db-out", "pages", "--embed-images", "--cache-dir", mine)  # a recipe without DocumentOptions
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["image"].startswith("data:image/png;base64,")
    assert list((mine / "images").rglob("*.png")) and not (home / "cache").exists()
    assert cli("ocr", tmp_path / "d.pdf", "-o", tmp_path / "again.jsonl").exit_code == 0
    assert list((home / "cache" / "images").rglob("*.json"))


def test_a_cache_folder_that_cannot_be_one_is_one_line_before_any_page_is_read(cli, tmp_path):
    """A --cache-dir that is a file, or cannot be made, stops the run naming it (each page failed with an OSError)."""
    digital_pdf(tmp_path / "d.pdf", pages=1, lines=1, per_line=3)
    (tmp_path / "a-file").write_text("")
    for folder, why in ((tmp_path / "a-file", "not a folder"), (tmp_path / "a-file" / "sub", "cannot use it")):
        result = cli("ocr", tmp_path / "d.pdf", "-o", tmp_path / "d.jsonl", "--cache-dir", folder)
        assert result.exit_code == 2 and f"cache_dir {folder}: {why}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "d.jsonl").exists()


def test_a_library_call_without_a_cache_folder_is_refused(tmp_path, home):
    """Below the command line nothing reads $VNERTEACH_HOME: options without a cache folder are a UsageError."""
    from vnerteach.documents import DocumentOptions
    from vnerteach.documents.turning import read_turned
    from vnerteach.errors import UsageError
    from vnerteach.sources import get_stream

    digital_pdf(tmp_path / "d.pdf", pages=1, lines=1, per_line=3)
    for read in (lambda: iter_documents([tmp_path / "d.pdf"], DocumentOptions()),
                 lambda: get_stream(tmp_path / "d.pdf", documents=DocumentOptions()),
                 lambda: get_stream(tmp_path / "d.pdf"),
                 lambda: read_turned("0" * 64, 90, DocumentOptions())):
        with pytest.raises(UsageError, match="no page cache folder: DocumentOptions.cache_dir is not set"):
            read()
    assert DocumentOptions().page_images() is None  # text only: the server then serves no page images
    assert not (home / "cache").exists()


def test_ordered_stream_keeps_order_with_a_small_window():
    items = [("job", n) if n % 3 else n for n in range(20)]
    out = ordered(items, lambda x: isinstance(x, tuple), _pair_square, lambda job, msg: None, workers=2, window=3)
    assert list(out) == [n * n if n % 3 else n for n in range(20)]


def _pair_square(job) -> int:
    return _square(job[1])


class WorkerGone(Exception):
    """Stands for Dask's KilledWorker: the job's workers kept dying."""


def _square_unless_seven(job) -> int:
    if job[1] == 7:
        raise WorkerGone
    return _square(job[1])


def test_ordered_runs_on_another_executor_and_records_a_lost_job():
    from concurrent.futures import ThreadPoolExecutor

    started = []

    def start():
        started.append(ThreadPoolExecutor(2))
        return started[-1]

    items = [("job", n) if n % 3 else n for n in range(10)]
    out = list(ordered(items, lambda x: isinstance(x, tuple), _square_unless_seven, lambda job, msg: (job, msg),
                       workers=2, window=3, start=start, lost=(WorkerGone,)))
    assert out[:7] == [n * n if n % 3 else n for n in range(7)] and out[8:] == [64, 9]
    assert out[7][0] == ("job", 7) and "died" in out[7][1]
    assert len(started) == 1 and started[0]._shutdown


@pytest.mark.slow
def test_many_documents_stream_in_input_order(tmp_path):
    paths = []
    for i in range(4):
        text_image([f"page number {i}"]).save(tmp_path / f"p{i}.png")
        digital_pdf(tmp_path / f"d{i}.pdf", pages=1, lines=1, per_line=2)
        paths += [tmp_path / f"p{i}.png", tmp_path / f"d{i}.pdf"]
    results = list(iter_documents(paths, doc_options(workers=2), window=2))
    assert [r.path for r in results] == [str(p) for p in paths]
    assert [r.ocr for r in results] == [True, False] * 4
