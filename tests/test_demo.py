"""`make demo` as a new user runs it: sample receipts, a first model trained in seconds, the loop open on the rest."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import pytest
from helpers.web import ROOT, ServedRecipe, free_port, http

FIELDS = {"COMPANY", "ADDRESS", "DATE", "TOTAL"}


def demo_commands(folder, db) -> list[list[str]]:
    """The demo target's vnerteach commands (make -n), with this interpreter standing in for .venv/bin."""
    printed = subprocess.run(["make", "-s", "-n", "demo", f"DEMO_DIR={folder}", f"DEMO_DB={db}", "DEMO_COUNT=9"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.replace("\\\n", " ")
    commands = []
    for line in printed.splitlines():
        args = shlex.split(line)
        if args and args[0] == ".venv/bin/python":
            commands.append([sys.executable, *args[1:]])
        elif args and args[0] == ".venv/bin/vnerteach":
            commands.append([sys.executable, "-m", "vnerteach", *args[1:]])
    return commands


@pytest.mark.slow
def test_make_demo_trains_a_model_on_the_labelled_receipts_and_opens_the_loop_on_the_others(tmp_path):
    db = tmp_path / "home" / "demo.db"
    env = {"VNERTEACH_HOME": str(tmp_path / "home"), "VNERTEACH_DB": ""}
    *steps, loop = demo_commands(tmp_path / "samples", db)
    assert [c[c.index("vnerteach") + 1] for c in steps[1:]] == ["db-in", "ner.batch-train"]
    assert loop[3] == "ner.correct"
    db.parent.mkdir()
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
    labelled = [json.loads(line) for line in (tmp_path / "samples" / "labelled.jsonl").read_text().splitlines()]
    assert len(labelled) == 7  # six receipts, one of two pages
    assert all({s["label"] for s in task["spans"]} == FIELDS for task in labelled)
    assert (tmp_path / "samples" / "model" / "meta.json").exists()

    server = ServedRecipe(loop[3:], env, free_port())
    try:
        deadline, tasks = time.monotonic() + 120, []
        while len(tasks) < 6 and time.monotonic() < deadline:  # the server answers within a second, tasks or not
            code, body = http("GET", server.url + "/api/questions?n=3", timeout=30)
            assert code == 200
            tasks += body["tasks"]
        assert tasks and all(t["meta"]["path"].startswith(str(tmp_path / "samples" / "to-annotate")) for t in tasks)
        # the model in the loop pre-fills the pages with fields it learnt from six receipts (which
        # fields are sure enough to pre-fill on a noisy scan, and on which of the first pages
        # served, varies with what was scored first)
        predicted = {s["label"] for t in tasks for s in t["spans"]}
        assert predicted and predicted <= FIELDS, [(t["meta"], t["spans"]) for t in tasks]
    finally:
        server.stop()


@pytest.mark.slow
def test_make_demo_run_again_keeps_its_samples_and_imports_nothing_twice(tmp_path):
    """Issue 23 point 5: a second `make demo` wrote the PDFs again with new bytes, so the labelled receipts came
    in again under new input hashes ("now has 36 examples" for 24 receipts) and answered ones were asked again."""
    db = tmp_path / "home" / "demo.db"
    db.parent.mkdir()
    env = {**os.environ, "VNERTEACH_HOME": str(tmp_path / "home"), "VNERTEACH_DB": ""}
    samples, db_in = demo_commands(tmp_path / "samples", db)[:2]
    outputs = []
    for _ in range(2):
        for step in (samples, db_in):
            done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, env=env)
            assert done.returncode == 0, done.stderr
        outputs.append(done.stderr)
        files = sorted((tmp_path / "samples").rglob("*.*"))
        if len(outputs) == 1:
            first = {p: p.read_bytes() for p in files}
    assert {p: p.read_bytes() for p in files} == first  # the same files, byte for byte
    assert "Imported 7 examples" in outputs[0] and "Imported 0 examples" in outputs[1], outputs


@pytest.mark.slow
def test_a_pdf_saved_again_with_other_bytes_is_named_when_its_pages_come_as_new_questions(tmp_path):
    """Issue 23 point 5: the same PDF saved again (new bytes, same pages) lost its answers silently."""
    import pymupdf
    from helpers.documents import digital_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = folder / "invoice.pdf"
    digital_pdf(pdf, pages=2)
    env = {"VNERTEACH_HOME": str(tmp_path / "home"), "VNERTEACH_DB": str(tmp_path / "v.db")}
    args = ["ner.manual", "docs", "blank:en", folder, "--label", "TOTAL"]
    served = ServedRecipe(args, env, free_port())
    try:
        session = http("GET", served.url + "/api/project")[1]["session"]
        task = http("GET", served.url + "/api/questions?n=1")[1]["tasks"][0]
        assert http("POST", served.url + "/api/answers", {"session": session,
                                                          "answers": [{**task, "answer": "accept"}]})[0] == 200
    finally:
        served.stop()
    _code, _out, err = ServedRecipe(args, env, free_port()).stop()  # the file unchanged: nothing to say
    assert "not the file annotated before" not in err
    doc = pymupdf.open(pdf)
    doc.set_metadata({"title": "saved again"})
    doc.save(folder / "tmp.pdf")
    (folder / "tmp.pdf").replace(pdf)
    served = ServedRecipe(args, env, free_port())
    try:
        questions = http("GET", served.url + "/api/questions?n=2")[1]["tasks"]
        assert [t["meta"]["page"] for t in questions] == [1, 2]  # new bytes: new questions
    finally:
        _code, _out, err = served.stop()
    said = " ".join(err.split())  # as printed, wrapped or not
    assert "invoice.pdf is not the file annotated before (its bytes differ)" in said, err
