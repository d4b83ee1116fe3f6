"""Document sources in streams and the `ocr` command: pages, failures per item, cache, summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pymupdf
import pytest


from vnerteach.errors import InputError
from vnerteach.sources import document_paths, get_stream

from helpers import doc_options, write_jsonl

WORDS = "Invoice ACME total 9.00 EUR due 2026-12-01".split()


@pytest.fixture
def corpus(tmp_path):
    """A folder with a two-page digital PDF, a scanned page (PNG), a text file and two bad files."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    doc = pymupdf.open()
    for i in range(2):
        doc.new_page().insert_text((72, 100), f"Page {i + 1} " + " ".join(WORDS), fontsize=14)
    doc.save(folder / "a_digital.pdf")
    scan = pymupdf.open()
    scan.new_page().insert_text((72, 100), "Receipt from ACME Ltd total 12.50", fontsize=18)
    scan[0].get_pixmap(dpi=200).save(folder / "b_scan.png")
    (folder / "c_notes.txt").write_text("A plain text line about ACME.\n")
    (folder / "d_empty.png").write_bytes(b"")
    (folder / "e_fake.pdf").write_text("not a pdf at all")
    return folder


@pytest.mark.slow
def test_folder_stream_mixes_text_and_page_tasks_and_reports_failures(corpus):
    failures = []
    tasks = list(get_stream(corpus, documents=doc_options(workers=1), on_failure=failures.append))
    pages = [t for t in tasks if "image" in t]
    assert [t["meta"]["page"] for t in pages] == [1, 2, 1]
    assert [t["meta"]["ocr"] for t in pages] == [False, False, True]
    assert pages[0]["text"] == "Page 1 " + " ".join(WORDS)
    assert all(t["bbox"][2] > t["bbox"][0] for t in pages[0]["tokens"])
    assert "ACME" in pages[2]["text"] and "12.50" in pages[2]["text"]
    assert tasks[3] == {"text": "A plain text line about ACME."}
    assert sorted((os.path.basename(f.path), f.error.split(" ")[0]) for f in failures) == [
        ("d_empty.png", "empty"), ("e_fake.pdf", "not")]


def test_without_a_failure_handler_the_first_bad_document_raises(corpus):
    with pytest.raises(InputError, match="d_empty.png: empty file"):
        list(get_stream(corpus, documents=doc_options(workers=1, ocr="never")))


@pytest.mark.slow
def test_jsonl_of_paths(corpus, tmp_path):
    listing = write_jsonl(tmp_path / "docs.jsonl", [{"path": "corpus/a_digital.pdf"}, {"text": "inline task"},
                                                   {"path": str(corpus / "b_scan.png")}])
    tasks = list(get_stream(listing, documents=doc_options(workers=1)))
    assert [t.get("meta", {}).get("page") for t in tasks] == [1, 2, None, 1]
    bad = write_jsonl(tmp_path / "mixed.jsonl", [{"path": "corpus/a_digital.pdf"}, {"text": "x"}])
    with pytest.raises(InputError, match="expected a JSONL of document paths"):
        list(document_paths(bad))


def test_document_paths(corpus, tmp_path):
    listing = write_jsonl(tmp_path / "docs.jsonl", [{"path": "corpus/b_scan.png"}, {"path": str(corpus / "a_digital.pdf")}])
    assert [p.name for p in document_paths(listing)] == ["b_scan.png", "a_digital.pdf"]
    assert [p.name for p in document_paths(corpus)] == ["a_digital.pdf", "b_scan.png", "d_empty.png", "e_fake.pdf"]
    assert [p.name for p in document_paths(corpus / "b_scan.png")] == ["b_scan.png"]
    with pytest.raises(InputError, match="not an image, a PDF"):
        document_paths(corpus / "c_notes.txt")


@pytest.mark.slow
def test_ocr_command_writes_tasks_summary_and_uses_the_cache(cli, corpus, tmp_path):
    out = tmp_path / "tasks.jsonl"
    result = cli("ocr", corpus, "--output", out, "--workers", "1")
    assert result.exit_code == 0, result.stderr
    tasks = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(os.path.basename(t["meta"]["path"]), t["meta"]["page"]) for t in tasks] == [
        ("a_digital.pdf", 1), ("a_digital.pdf", 2), ("b_scan.png", 1)]
    summary = " ".join(result.stderr.split())
    for row in ("Documents │ 4", "Pages │ 3", "Digital pages (text layer) │ 2", "OCR pages │ 1", "Failures │ 2",
                "From cache │ 0"):
        assert row in summary
    assert "d_empty.png" in summary and "empty file (0 bytes)" in summary and "e_fake.pdf" in summary
    again = cli("ocr", corpus, "--output", out, "--workers", "1")
    assert "From cache │ 1" in " ".join(again.stderr.split())  # the OCR'd page; text layers are read anew
    assert [json.loads(line) for line in out.read_text().splitlines()] == tasks
    strict = cli("ocr", corpus, "--output", out, "--strict")
    assert strict.exit_code == 1 and "2 documents or pages failed (--strict)" in strict.stderr


def test_ocr_to_stdout_and_no_cache(cli, corpus):
    result = cli("ocr", corpus / "a_digital.pdf", "--no-cache")
    assert result.exit_code == 0
    assert [json.loads(line)["meta"]["page"] for line in result.stdout.splitlines()] == [1, 2]


@pytest.mark.parametrize("args, message", [
    (["--preprocess", "grayscale,sharpen"], "sharpen"),
    (["--ocr", "sometimes"], "ocr must be one of auto, always, never"),
    (["--dpi", "5"], "dpi must be a whole number from 20 to 1200"),
])
def test_ocr_bad_flags_fail_before_work(cli, corpus, args, message):
    result = cli("ocr", corpus, *args)
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_tesseract_is_one_clear_message(corpus, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "nowhere"), "VNERTEACH_HOME": str(tmp_path / "h")}
    result = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", str(corpus), "--ocr-engine", "tesseract"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "apt-get install tesseract-ocr" in result.stderr and "Traceback" not in result.stderr
    never = subprocess.run([sys.executable, "-m", "vnerteach", "ocr", str(corpus / "a_digital.pdf"), "--ocr", "never"],
                           capture_output=True, text=True, env=env)
    assert never.returncode == 0 and len(never.stdout.splitlines()) == 2
