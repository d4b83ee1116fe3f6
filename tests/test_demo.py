"""`make demo` as a new user runs it: sample receipts, a first model trained in seconds, the loop open on the rest."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import pytest
from web_fixtures import ROOT, ServedRecipe, free_port, http

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
    labelled = [json.loads(line) for line in (tmp_path / "samples" / "labelled.jsonl").open()]
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
