"""Issue 12, point 7 in headless Chromium at 1366x800: undo retracts, the history and the undone task survive a
reload, an undo waits in the browser while the server is away, and the undo toast stays off the answer buttons."""

from __future__ import annotations

import json
import signal

import pytest

from vnerteach.store import connect

from helpers import write_jsonl
from helpers.browser import SCREEN, db_out, evaluate_in_app, meets, served_app, token, wait_for_task, wait_saved
from helpers.web import free_port, installed, page_task

pytestmark = pytest.mark.slow

BUTTONS = ["btn-accept", "btn-reject", "btn-ignore", "btn-undo"]
GEOMETRY = """ids => {
  const rect = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const toast = document.querySelector(".toast");
  return {
    toast: toast ? rect(toast) : null,
    buttons: ids.map((id) => {
      const r = document.getElementById(id).getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return {id, rect: rect(document.getElementById(id)), hit: hit && hit.closest("button") ? hit.closest("button").id : null};
    }),
  };
}"""


def history_texts(page) -> list[str]:
    return page.locator("#history .hist .hist-text").all_inner_texts()


def outbox_keys(page) -> list[str]:
    return page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('vnerteach:outbox:'))")


def test_undo_retracts_and_the_history_and_the_undone_task_survive_a_reload(browser, cli, env, tmp_path, db_path):
    page = browser
    page.set_viewport_size(SCREEN)
    img = tmp_path / "img"
    pages = [page_task([f"Invoice {i} from Acme GmbH", "Hauptstrasse 5 Berlin"], img, name=f"inv{i}.png")
             for i in range(5)]
    src = write_jsonl(tmp_path / "tasks.jsonl", installed(pages, img, tmp_path / "home"))
    with served_app(page, ["ner.manual", "undo", "blank:en", src, "--label", "ORG"], env) as served:
        for i, key in enumerate("axa"):
            wait_for_task(page, f"Invoice {i}")
            page.keyboard.press(key)
        wait_for_task(page, "Invoice 3")
        wait_saved(page)
        assert "3 this session · 3 in dataset" in page.locator("#progress-text").inner_text()

        page.keyboard.press("Backspace")
        wait_for_task(page, "Invoice 2")
        shown = page.evaluate(GEOMETRY, BUTTONS)
        page.screenshot(path=str(tmp_path / "undo_toast.png"))
        assert shown["toast"] is not None, "the undo toast is shown"
        for button in shown["buttons"]:
            assert not meets(shown["toast"], button["rect"], slack=0), (shown["toast"], button)
            assert button["hit"] == button["id"], button  # a click at the button's centre reaches the button

        wait_saved(page)  # the undo is acknowledged: the answer is out of the database
        page.wait_for_function("() => document.getElementById('progress-text').textContent.includes('2 this session · 2 in dataset')")
        with connect(str(db_path)) as store:
            assert [e["text"].split("\n")[0] for e in store.iter_examples("undo")] == [pages[0]["text"], pages[1]["text"]]

        page.reload()
        wait_for_task(page, "Invoice 2")  # the undone task comes back first
        page.wait_for_function("() => document.querySelectorAll('#history .hist').length === 2")
        assert [t.split(" from")[0] for t in history_texts(page)] == ["Invoice 1", "Invoice 0"]
        assert page.locator("#history .hist-reject").count() == 1 and page.locator("#history .hist-accept").count() == 1
        assert "2 this session · 2 in dataset" in page.locator("#progress-text").inner_text()
        page.screenshot(path=str(tmp_path / "after_reload.png"))

        page.keyboard.press("Backspace")  # the history from the server can be undone too
        wait_for_task(page, "Invoice 1")
        wait_saved(page)
        reject = page.locator("#btn-reject").bounding_box()
        page.mouse.click(reject["x"] + reject["width"] / 2, reject["y"] + reject["height"] / 2)  # the toast is up
        wait_for_task(page, "Invoice 2")
        page.keyboard.press("x")
        wait_for_task(page, "Invoice 3")
        wait_saved(page)
    code, _, err = served.result
    assert code == 0 and "Saved 3 answers" in err

    examples = db_out(cli, "undo", tmp_path)
    assert [(e["text"].split(" from")[0], e["answer"]) for e in examples] == [
        ("Invoice 0", "accept"), ("Invoice 1", "reject"), ("Invoice 2", "reject")]
    result = cli("db-out", "undo", "--history")
    assert result.exit_code == 0, result.stderr
    hashes = {e["_task_hash"]: e["text"].split(" from")[0] for e in examples}
    events = [(e["event"], hashes[e["_task_hash"]], e["answer"]) for e in map(json.loads, result.stdout.splitlines())]
    assert events == [("stored", "Invoice 0", "accept"), ("stored", "Invoice 1", "reject"),
                      ("stored", "Invoice 2", "accept"), ("retracted", "Invoice 2", "accept"),
                      ("retracted", "Invoice 1", "reject"), ("stored", "Invoice 1", "reject"),
                      ("stored", "Invoice 2", "reject")]


def test_an_undo_waits_in_the_browser_while_the_server_is_away(browser, cli, env, tmp_path, db_path):
    page = browser
    page.set_viewport_size(SCREEN)
    src = write_jsonl(tmp_path / "tasks.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(4)])
    port = free_port()
    args = ["ner.manual", "away", "blank:en", src, "--label", "ORG"]
    with served_app(page, args, env, first="Sentence 0", port=port) as served:
        token(page, "Acme").click()
        page.keyboard.press("a")
        wait_for_task(page, "Sentence 1")
        wait_saved(page)
        served.stop(signal.SIGKILL)

    page.keyboard.press("x")  # waits in the outbox: the server is gone
    page.wait_for_function("() => document.body.dataset.conn === 'offline'")
    wait_for_task(page, "Sentence 2")
    page.keyboard.press("Backspace")  # its answer was sent once, in vain: it no longer waits, an undo follows it
    wait_for_task(page, "Sentence 1")
    page.keyboard.press("Backspace")  # stored: an undo is kept, to be sent when the server is back
    wait_for_task(page, "Sentence 0")
    keys = outbox_keys(page)
    assert len(keys) == 2 and all(k.startswith("vnerteach:outbox:undo:") for k in keys)  # no answer is left to send
    page.screenshot(path=str(tmp_path / "undo_offline.png"))
    tab = page.context.new_page()
    page.close()  # the undo outlives the tab as well as the server

    tab.set_viewport_size(SCREEN)
    with served_app(tab, args, env, port=port):
        wait_saved(tab)
        assert outbox_keys(tab) == []
        wait_for_task(tab, "Sentence 0")  # retracted: asked again
        assert tab.locator("#history .hist").count() == 0
    with connect(str(db_path)) as store:
        assert store.count("away") == 0
        assert [e["event"] for e in store.events("away")] == ["stored", "retracted"]


OUTBOX = """async () => {
  const { Outbox } = await import("/static/api.js");
  const calls = [], held = [];
  const api = {
    answers(session, answers) {
      calls.push("answers " + answers.map((a) => a._task_hash).join(","));
      return new Promise((resolve) => held.push(() => resolve({ results: answers.map(() => ({ status: "stored" })) })));
    },
    undo(session, hash) { calls.push("undo " + hash); return Promise.resolve({ retracted: 1 }); },
  };
  const box = new Outbox(api, "unit", { ack() {}, refused() {}, undoRefused() {}, state() {} }, 1e6);
  const answer = (h) => ({ _task_hash: h, _input_hash: h, text: "t" + h, answer: "accept" });
  box.put("s", answer("1"));          // sent at once, its reply held back
  box.put("s", answer("2"));          // waits behind it: never sent
  box.undo("s", "2");                 // dropped here: nothing to tell the server
  const afterDrop = [...box.memory.keys()];
  box.undo("s", "1");                 // on its way: an undo follows it
  const queued = [...box.memory.keys()];
  held.shift()();                     // the server stores answer 1 ...
  await new Promise((r) => setTimeout(r, 50));
  return { calls, afterDrop, queued, left: [...box.memory.keys()], stored: [...box.stored] };
}"""


def test_the_outbox_drops_an_unsent_answer_and_sends_an_undo_after_one_on_its_way(browser, env, tmp_path):
    got = evaluate_in_app(browser, env, tmp_path, OUTBOX)
    assert got["calls"] == ["answers 1", "undo 1"]  # answer 2 never left the browser; the undo came after answer 1
    assert got["afterDrop"] == ["s:1"] and got["queued"] == ["s:1", "undo:s:1"]
    assert got["left"] == [] and got["stored"] == []
