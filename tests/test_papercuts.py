"""Command-line papercuts (issue 12, point 13): help that fits, counts with their noun, honest rates."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from vnerteach.output import plural
from vnerteach.recipes.ocr import RateColumn

from helpers import ROOT, write_jsonl
from helpers.web import ServedRecipe, free_port, http


def run(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_the_sample_receipts_module_has_help_instead_of_writing_a_folder_named_help(tmp_path):
    done = run("-m", "vnerteach.samples.receipts", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m vnerteach.samples.receipts")
    assert list(tmp_path.iterdir()) == []
    made = run("-m", "vnerteach.samples.receipts", tmp_path / "out", cwd=tmp_path)
    assert made.returncode == 0 and len(list((tmp_path / "out").iterdir())) >= 3


@pytest.mark.slow
def test_help_names_the_real_default_database_and_fits_80_columns(tmp_path):
    home = Path(tempfile.mkdtemp(prefix="vh", dir="/tmp"))  # short: a path longer than a help line is cut
    env = {"VNERTEACH_HOME": str(home / "myhome"), "COLUMNS": "80", "VNERTEACH_DB": ""}
    done = run("-m", "vnerteach", "ocr", "--help", env=env)
    text = " ".join(done.stdout.replace("│", " ").split())
    assert str(home / "myhome" / "vnerteach.db") in "".join(text.split())  # the path, however it wraps
    assert "grayscale, upscale, deskew, denoise, and binarize or adaptive" in text
    assert all(len(line) <= 80 for line in done.stdout.splitlines())
    assert "…" not in done.stdout.split("--preprocess")[1].split("--lang")[0]


def test_counts_carry_their_noun_and_the_ocr_rate_is_the_summarys():
    assert (plural(1, "answer"), plural(0, "answer"), plural(2, "example")) == ("1 answer", "0 answers", "2 examples")
    # pages over the whole time, as the summary computes it, not over a recent window
    assert str(RateColumn().render(SimpleNamespace(completed=10, elapsed=4.0))) == "2.5 pages/s"
    assert str(RateColumn().render(SimpleNamespace(completed=0, elapsed=1.0))) == "… pages/s"


@pytest.mark.slow
def test_the_exit_line_says_saved_1_answer(tmp_path, env):
    src = write_jsonl(tmp_path / "t.jsonl", [{"text": "one"}, {"text": "two"}])
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"], env, free_port())
    session = http("GET", served.url + "/api/project")[1]["session"]
    [task, *_] = http("GET", served.url + "/api/questions?n=1")[1]["tasks"]
    assert http("POST", served.url + "/api/answers", {"session": session,
                                                      "answers": [{**task, "answer": "accept"}]})[0] == 200
    code, _, err = served.stop()
    assert code == 0 and f"Saved 1 answer in session '{session}'; dataset 'news' now has 1 example" in " ".join(
        err.split())
