"""The recipes served for real: `vnerteach ner.manual` / `mark` in a child process, stopped by SIGTERM or SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from vnerteach.store import connect

from helpers import ROOT, write_jsonl
from helpers.web import ServedRecipe, free_port, http, install_in_cache, page_task

pytestmark = pytest.mark.slow


def answer_all(url, session, tasks, kind="accept"):
    for task in tasks:
        code, body = http("POST", url + "/api/answers", {"session": session, "answers": [{**task, "answer": kind}]})
        assert code == 200 and body["saved"] == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_stops_cleanly_and_reports_what_was_saved(tmp_path, env, sig):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Text number {i}"} for i in range(5)])
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"], env, free_port())
    session = http("GET", served.url + "/api/project")[1]["session"]
    tasks = http("GET", served.url + "/api/questions?n=3")[1]["tasks"]
    assert [t["tokens"][0]["text"] for t in tasks] == ["Text"] * 3
    answer_all(served.url, session, tasks)
    code, out, err = served.stop(sig)
    assert code == 0, err
    assert f"Annotating 'news' at http://127.0.0.1:{served.port}/" in err
    assert f"Saved 3 answers in session '{session}'; dataset 'news' now has 3 examples" in " ".join(err.split())
    assert "Traceback" not in err


def test_sigkill_loses_no_acknowledged_answer_and_a_restart_skips_them(tmp_path, env, db_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} about Apple"} for i in range(40)])
    patterns = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "ORG", "pattern": "Apple"}])
    args = ["ner.manual", "news", "blank:en", src, "--label", "ORG", "--patterns", patterns]
    served = ServedRecipe(args, env, free_port())
    session = http("GET", served.url + "/api/project")[1]["session"]
    tasks = []
    while len(tasks) < 30:  # a request returns what is ready (at most the reader's buffer)
        tasks += http("GET", served.url + f"/api/questions?n={30 - len(tasks)}")[1]["tasks"]
    assert all(t["spans"][0]["label"] == "ORG" and t["spans"][0]["pattern"].endswith(":1") for t in tasks)

    def post(task):
        return http("POST", served.url + "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]})

    with ThreadPoolExecutor(4) as pool:  # answers in flight from several clients when the kill comes
        futures = [pool.submit(post, t) for t in tasks]
        acked = [t for t, f in zip(tasks, futures) if f.result()[0] == 200]
        served.stop(signal.SIGKILL)
    assert served.proc.returncode == -signal.SIGKILL
    with connect(str(db_path)) as store:
        stored = {e["_task_hash"] for e in store.iter_examples("news")}
        assert {int(t["_task_hash"]) for t in acked} <= stored and len(acked) == 30
        assert store.count(session) == len(stored)
    again = ServedRecipe(args, env, free_port())
    try:
        fresh = http("GET", again.url + "/api/questions?n=50")[1]
        assert [t["text"] for t in fresh["tasks"]] == [f"Sentence {i} about Apple" for i in range(30, 40)]
        assert fresh["progress"]["skipped"] == 30 and fresh["progress"]["total"] == 40
        # The browser's resend of an answer from the killed session is idempotent.
        resend = http("POST", again.url + "/api/answers", {"session": session, "answers": [{**tasks[0], "answer": "accept"}]})
        assert resend[1]["unchanged"] == 1
    finally:
        again.stop()


def test_mark_serves_page_tasks_and_their_images(tmp_path, env):
    page = page_task(["Total due 9.00 EUR"], tmp_path / "img", page=2, pages=3)
    install_in_cache(page, tmp_path / "img", tmp_path / "home")
    src = write_jsonl(tmp_path / "pages.jsonl", [page, {"text": "plain text"}])
    served = ServedRecipe(["mark", "check", src, "--view-id", "ner", "--label", "TOTAL"], env, free_port())
    try:
        project = http("GET", served.url + "/api/project")[1]
        assert project["view_id"] == "ner" and project["labels"] == ["TOTAL"]
        tasks = http("GET", served.url + "/api/questions?n=5")[1]["tasks"]
        assert [t.get("image") for t in tasks] == [page["image"], None]
        import urllib.request

        with urllib.request.urlopen(f"{served.url}/api/image/{page['meta']['image_key']}") as r:
            assert r.headers["Content-Type"] == "image/png" and r.read().startswith(b"\x89PNG")
    finally:
        served.stop()


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "vnerteach", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env={**__import__("os").environ, **env}, timeout=60)


@pytest.mark.parametrize("args, message, code", [
    (["ner.manual", "news", "blank:en", "{src}"], "--label: give the labels to annotate", 2),
    (["ner.manual", "news", "blank:zz", "{src}", "--label", "ORG"], "MODEL 'blank:zz': cannot load it", 2),
    (["ner.manual", "news", "blank:en", "{src}", "--label", "ORG", "--host", "0.0.0.0"], "set --access-token too", 2),
    (["ner.manual", "news", "blank:en", "{src}", "--label", "ORG", "--exclude-by", "text"], "--exclude-by: use one of", 2),
    (["ner.manual", "news", "blank:en", "{src}", "--label", "ORG", "--exclude", "nope"], "Dataset 'nope' not found", 1),
    (["ner.manual", "news", "blank:en", "missing.jsonl", "--label", "ORG"], "missing.jsonl: no such file", 1),
    (["ner.manual", "news", "blank:en", "{src}", "--label", "ORG", "--patterns", "{bad}"], "bad.jsonl:2: a pattern needs a 'label'", 1),
    (["mark", "news", "{src}", "--view-id", "fancy"], "--view-id: use one of", 2),
])
def test_recipe_errors_are_one_line(tmp_path, env, args, message, code):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "a"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"label": "ORG", "pattern": "x"}) + "\n" + json.dumps({"pattern": "y"}) + "\n")
    result = run_cli(*[a.format(src=src, bad=bad) for a in args], env=env)
    assert result.returncode == code, result.stderr
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


USER_RECIPE = '''
from typing import Annotated
from vnerteach import recipe, Arg
from vnerteach.loop.components import Components

@recipe("my.check")
def my_check(dataset: Annotated[str, Arg("Dataset")]) -> Components:
    """Check two sentences.

    Example: vnerteach my.check mine -F my_recipes.py
    """
    return {"dataset": dataset, "stream": iter([{"text": "one"}, {"text": "two"}]), "view_id": "text", "total": 2}
'''


def test_a_user_recipe_returning_components_is_served(tmp_path, env):
    recipe_file = tmp_path / "my_recipes.py"
    recipe_file.write_text(USER_RECIPE)
    help_text = run_cli("my.check", "--help", "-F", recipe_file, env=env).stdout
    assert "--port" in help_text and "--access-token" in help_text
    served = ServedRecipe(["my.check", "mine", "-F", recipe_file], env, free_port())
    try:
        body = http("GET", served.url + "/api/questions?n=5")[1]
        assert [t["text"] for t in body["tasks"]] == ["one", "two"] and body["progress"]["total"] == 2
    finally:
        code, _, err = served.stop()
    assert code == 0 and "Saved 0 answers" in err
