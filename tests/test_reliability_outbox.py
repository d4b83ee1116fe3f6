"""Issue 11, point 1: the browser's outbox never drops an answer the server has not stored.

The server validates each answer of a request separately, stores the valid ones together and
says per answer whether it was stored or refused and why; a request too large as a whole, a
network failure or a 5xx is never final: the outbox splits its batch and retries.
"""

from __future__ import annotations

import base64
import json
import random
import re
import signal
import zlib

import pytest

from vnerteach.loop.controller import Controller
from vnerteach.web.server import make_app

from helpers import write_jsonl
from helpers.browser import db_out, served_app, wait_for_task
from helpers.web import ServedRecipe, free_port, wsgi

pytestmark = pytest.mark.reliability

STATUS_LOG = """
window.__status = [];
new MutationObserver(() => {
  const app = window.vnerteach, box = app && app.outbox, status = document.getElementById("status-text");
  if (!status) return;
  window.__status.push({text: status.textContent,
                        unsaved: box ? box.size : -1, refused: box && box.refused ? box.refused.size : 0});
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def noise_png(seed: int, size: int = 1_500_000) -> str:
    """A PNG data URI of random grey pixels: about ``size`` bytes of PNG that do not compress."""
    side = int(size ** 0.5)
    rows = random.Random(seed).randbytes(side * side)
    raw = b"".join(b"\0" + rows[y * side:(y + 1) * side] for y in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


POST_LOG = """
window.__posts = [];
const send = window.fetch;
window.fetch = async (url, init) => {
  const res = await send(url, init);
  if (String(url).includes("/api/answers")) window.__posts.push({n: JSON.parse(init.body).answers.length, status: res.status});
  return res;
};
"""


HOLD = """() => {
  const box = window.vnerteach.outbox, kick = box.kick.bind(box);
  box.kick = () => {};
  window.__release = async () => {
    while (box.sending) await new Promise((r) => setTimeout(r, 20));
    clearTimeout(box.timer);
    Object.assign(box, {kick, maxBody: null, limit: 20});
    box.kick();
  };
}"""


def unsaved_claims(page) -> list[dict]:
    """Every moment the status bar said "All answers saved" while the outbox held or had refused answers."""
    return [s for s in page.evaluate("window.__status")
            if "All answers saved" in s["text"] and (s["unsaved"] != 0 or s["refused"] != 0)]


@pytest.mark.slow
@pytest.mark.parametrize("limit_known", [True, False], ids=["limit-known", "limit-learnt-from-413"])
def test_ten_answers_of_2mb_kept_while_the_server_was_down_are_all_stored(browser, cli, env, tmp_path, limit_known):
    page = browser
    page.add_init_script(STATUS_LOG)
    page.add_init_script(POST_LOG)
    tasks = [{"text": f"Scan {i}", "image": noise_png(i), "width": 1224, "height": 1224} for i in range(10)]
    assert all(1.9e6 < len(json.dumps(t)) < 2.2e6 for t in tasks)
    src = write_jsonl(tmp_path / "scans.jsonl", tasks)
    port = free_port()
    args = ["mark", "scans", src, "--view-id", "image"]
    with served_app(page, args, env, first="Scan 0", port=port) as served:
        page.wait_for_function("() => window.vnerteach.queue.length === 9")
        served.stop(signal.SIGKILL)

    for i in range(10):
        wait_for_task(page, f"Scan {i}")
        page.keyboard.press("a")
    page.wait_for_function("() => window.vnerteach.outbox.size === 10 && document.body.dataset.conn === 'offline'")
    page.screenshot(path=str(tmp_path / "offline.png"))
    if not limit_known:  # hold the outbox until the server is back, then resend as one that never learnt the limit
        page.evaluate(HOLD)

    with ServedRecipe(args, env, port):  # the open app finds it back on its own
        if not limit_known:
            page.evaluate("window.__release()")
        page.wait_for_function("() => window.vnerteach.outbox.size === 0 && document.body.dataset.conn === 'saved'",
                               timeout=60_000)
        assert page.locator("#status-text").inner_text() == "All answers saved"
        page.screenshot(path=str(tmp_path / "saved.png"))
    examples = db_out(cli, "scans", tmp_path)
    assert sorted(e["text"] for e in examples) == [f"Scan {i}" for i in range(10)]
    assert all(e["answer"] == "accept" and e["image"] == t["image"] for e, t in
               zip(sorted(examples, key=lambda e: e["text"]), tasks))
    assert unsaved_claims(page) == []
    posts = page.evaluate("window.__posts")
    assert sum(p["n"] for p in posts if p["status"] == 200) == 10
    first = next(p for p in posts if p["status"] != 403)  # a 403 only renews the app key of the restarted server
    assert (first == {"n": 10, "status": 413}) is not limit_known


def post(app, answers, session="news-s1", count=None):
    body = json.dumps({"session": session, "answers": answers}).encode()
    headers = {"Content-Type": "application/json", **({"X-Answer-Count": str(count)} if count else {})}
    return wsgi(app, "POST", "/api/answers", body, headers=headers)


@pytest.fixture
def app(store):
    tasks = [{"text": f"Text {i} from Acme"} for i in range(4)]
    c = Controller(store, {"dataset": "news", "stream": iter(tasks), "view_id": "ner_manual"}, wait_s=5, fill_s=5)
    yield make_app(c, max_body=4000)
    c.close()


def test_a_request_of_valid_and_invalid_answers_stores_the_valid_ones_and_says_why_the_others_not(app, store):
    t = wsgi(app, "GET", "/api/questions?n=4")[1]["tasks"]
    answers = [{**t[0], "answer": "accept"},
               {**t[1], "answer": "maybe"},
               "not a task",
               {**t[2], "answer": "accept", "meta": {"note": "\ud800"}},  # JSON allows it; SQLite's UTF-8 does not
               {**t[3], "answer": "reject", "spans": [{"start": 0, "end": 99, "label": "ORG"}]},
               {**t[1], "answer": "ignore"}]
    code, data = post(app, answers)
    assert code == 200, data
    assert [r["status"] for r in data["results"]] == ["stored", "refused", "refused", "refused", "refused", "stored"]
    reasons = [r.get("reason", "") for r in data["results"]]
    assert "'answer' must be one of" in reasons[1] and "expected a task object" in reasons[2]
    assert "not valid Unicode" in reasons[3] and "outside the text" in reasons[4]
    assert (data["saved"], data["refused"], data["added"]) == (2, 4, 2) and data["progress"]["answered"] == 2
    assert [(e["text"], e["answer"]) for e in store.iter_examples("news")] == [
        ("Text 0 from Acme", "accept"), ("Text 1 from Acme", "ignore")]
    assert store.count("news-s1") == 2
    again = post(app, answers)[1]  # a resend changes nothing and is refused the same way
    assert again["unchanged"] == 2 and again["results"] == data["results"] and store.count("news") == 2


def test_the_body_limit_is_stated_and_an_answer_alone_over_it_is_refused(app, store):
    assert wsgi(app, "GET", "/api/project")[1]["max_body"] == 4000
    t = wsgi(app, "GET", "/api/questions?n=2")[1]["tasks"]
    big = [{**task, "answer": "accept", "meta": {"note": "x" * 4500}} for task in t]
    code, data = post(app, big, count=2)  # too large as a whole: nothing is said about each answer
    assert code == 413 and data["max_body"] == 4000 and "results" not in data
    code, data = post(app, big[:1], count=1)
    assert code == 413 and data["max_body"] == 4000
    [result] = data["results"]
    assert result["status"] == "refused" and "the server takes at most 4.0 kB per request" in result["reason"]
    code, data = post(app, big[1:], count=None)  # without the count, the server cannot tell: not final
    assert code == 413 and "results" not in data
    assert "news" not in store or store.count("news") == 0


@pytest.mark.slow
def test_refused_answers_stay_in_the_history_with_their_reason_until_dismissed(browser, cli, env, tmp_path):
    page = browser
    page.context.add_init_script(STATUS_LOG)
    page.context.add_init_script(POST_LOG)
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Text {i} from Acme"} for i in range(5)])
    port = free_port()
    args = ["ner.manual", "news", "blank:en", src, "--label", "ORG"]
    with served_app(page, args, env, first="Text 0", port=port) as served:
        served.stop(signal.SIGKILL)
    page.locator(".text-view .tok").filter(has_text="Acme").first.click()
    page.keyboard.press("a")
    wait_for_task(page, "Text 1")  # a view gone wrong: a span past the end of the text
    page.evaluate("window.vnerteach.current.spans = [{start: 0, end: 99, label: 'ORG'}]")
    page.keyboard.press("a")
    wait_for_task(page, "Text 2")
    page.keyboard.press("x")
    page.wait_for_function("() => window.vnerteach.outbox.size === 3 && document.body.dataset.conn === 'offline'")
    assert unsaved_claims(page) == []
    tab = page.context.new_page()
    page.close()

    page = tab
    with served_app(page, args, env, port=port):  # the new tab sends the three kept answers as one request
        page.wait_for_function("() => { const box = window.vnerteach.outbox; "
                               "return box && box.size === 0 && box.refused.size === 1; }")
        assert page.evaluate("window.__posts")[0] == {"n": 3, "status": 200}
        page.wait_for_function("() => document.body.dataset.conn === 'refused'")
        assert page.locator("#status-text").inner_text() == "1 answer(s) refused by the server and not saved: see History"
        refused = page.locator("#history .hist-refused")
        assert refused.count() == 1 and "Text 1 from Acme" in refused.inner_text()
        assert "Not saved: span 0" in refused.inner_text() and "outside the text" in refused.inner_text()
        page.screenshot(path=str(tmp_path / "refused.png"))
        side, item = page.locator("#sidebar").bounding_box(), refused.bounding_box()
        reason, dismiss = refused.locator(".hist-reason").bounding_box(), refused.locator(".hist-dismiss").bounding_box()
        assert side["x"] <= item["x"] and item["x"] + item["width"] <= side["x"] + side["width"]
        assert reason["height"] >= 10 and reason["x"] + reason["width"] <= dismiss["x"]
        assert dismiss["x"] + dismiss["width"] <= side["x"] + side["width"] and dismiss["height"] >= 14

        # Answered here too, refused here too: shown once, as refused, not as an answer given.
        wait_for_task(page, "Text 3")  # never a question this browser has answered, stored or refused
        page.evaluate("window.vnerteach.current.spans = [{start: 0, end: 99, label: 'ORG'}]")
        page.keyboard.press("a")
        page.wait_for_function("() => window.vnerteach.outbox.refused.size === 2")
        assert page.locator("#history .hist-refused").count() == 2 and page.locator("#history .hist").count() == 2
        assert unsaved_claims(page) == []

        page.reload()  # kept until dismissed, also across a reload
        page.wait_for_selector("#history .hist-refused >> nth=1")
        page.wait_for_function("() => document.body.dataset.conn === 'refused'")
        assert page.locator("#status-text").inner_text() == "2 answer(s) refused by the server and not saved: see History"
        page.locator("#history .hist-refused .hist-dismiss").first.click()
        assert page.locator("#status-text").inner_text() == "1 answer(s) refused by the server and not saved: see History"
        page.locator("#history .hist-refused .hist-dismiss").first.click()
        assert page.locator("#history .hist-refused").count() == 0
        assert page.locator("#status-text").inner_text() == "All answers saved"
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('vnerteach:')).length") == 0
        assert unsaved_claims(page) == []
    assert [(e["text"], e["answer"]) for e in db_out(cli, "news", tmp_path)] == [
        ("Text 0 from Acme", "accept"), ("Text 2 from Acme", "reject")]


@pytest.mark.slow
def test_the_status_never_says_all_saved_while_an_answer_is_unsaved_or_refused(browser, cli, env, tmp_path):
    page = browser
    page.add_init_script(STATUS_LOG)
    tasks = [{"text": f"Scan {i}", "image": noise_png(i, 100_000), "width": 316, "height": 316} for i in range(3)]
    src = write_jsonl(tmp_path / "scans.jsonl", tasks)
    with served_app(page, ["mark", "scans", src, "--view-id", "image"], env):
        for i in range(3):
            wait_for_task(page, f"Scan {i}")
            if i == 1:  # tasks over 4 MB are refused at the source; only a client can make an answer this large
                page.evaluate("window.vnerteach.current.task.meta = {note: 'x'.repeat(18_000_000)}")
            page.keyboard.press("a")
        page.wait_for_function("() => window.vnerteach.outbox.size === 0 && document.body.dataset.conn !== 'sending'",
                               timeout=30_000)
        assert page.locator("#status-text").inner_text() == "1 answer(s) refused by the server and not saved: see History"
        reason = page.locator("#history .hist-refused .hist-reason").inner_text()
        assert re.fullmatch(r"Not saved: the answer is 18\.\d MB; the server takes at most 16\.8 MB per request", reason)
        page.screenshot(path=str(tmp_path / "too_large.png"))
        assert unsaved_claims(page) == []
        page.locator("#history .hist-dismiss").click()
        assert page.locator("#status-text").inner_text() == "All answers saved"
    assert [e["text"] for e in db_out(cli, "scans", tmp_path)] == ["Scan 0", "Scan 2"]
