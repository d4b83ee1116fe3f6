"""End to end in headless Chromium: annotate text and page images with keyboard and mouse, undo, check db-out.

Uses Debian's chromium (``make test`` installs it) through Python playwright. Without chromium the
tests skip, except under CI=true, where they must run.
"""

from __future__ import annotations

import signal

import pytest

from vnerteach.tasks import set_hashes

from helpers.browser import (db_out, drag, served_app, spans_of, token, wait_for_task, wait_image, wait_saved,
                              word_box)
from helpers import write_jsonl
from helpers.web import free_port, install_in_cache, installed, page_task

pytestmark = pytest.mark.slow

TEXTS = [
    {"text": "Apple hires Tim Cook in California"},
    {"text": "Nothing here <script>window.pwned = 1</script> at all"},
    {"text": "Pay $ 5 to Bob now"},
]


def test_ner_manual_on_text_and_page_images_with_undo(browser, cli, env, tmp_path):
    page = browser
    img = tmp_path / "img"
    pages = [page_task(["Invoice from Acme GmbH", "Hauptstrasse 5 Berlin"], img, page=1, pages=2, name="inv.pdf"),
             page_task(["Total due 9.00 EUR", "Thank you"], img, page=2, pages=2, name="inv.pdf")]
    src = write_jsonl(tmp_path / "tasks.jsonl", TEXTS + installed(pages, img, tmp_path / "home"))
    args = ["ner.manual", "e2e", "blank:en", src, "--label", "ORG,PERSON,MONEY"]
    with served_app(page, args, env, first="Apple") as served:
        assert page.locator(".label-btn").all_inner_texts() == ["ORG\n1", "PERSON\n2", "MONEY\n3"]

        # Text 1: click a token (label 1 is active), then label 2 and drag over two tokens; accept.
        token(page, "Apple").click()
        page.keyboard.press("2")
        drag(page, token(page, "Tim"), token(page, "Cook"))
        assert page.locator(".text-view mark.ent").count() == 2
        page.screenshot(path=str(tmp_path / "ner_manual_text.png"))
        page.keyboard.press("a")

        # Text 2: the markup in the task is shown as characters, never run; reject.
        wait_for_task(page, "Nothing")
        assert "<script>window.pwned = 1</script>" in page.locator(".text-view").inner_text()
        assert page.locator(".card script").count() == 0 and page.evaluate("window.pwned") is None
        page.keyboard.press("x")

        # Text 3: label 3 by its button, click then shift+click; accept.
        wait_for_task(page, "Pay")
        page.locator(".label-btn").nth(2).click()
        token(page, "$").click()
        token(page, "5").click(modifiers=["Shift"])
        page.keyboard.press("a")

        # Page 1 of 2: the image loads, boxes are drawn; drag over two token boxes; accept.
        wait_for_task(page, "Invoice")
        assert page.locator(".page-where").inner_text().split() == ["page", "of", "2"]  # page [1] of 2: a jump
        assert page.locator(".page-jump").input_value() == "1"
        wait_image(page)
        assert page.locator(".box").count() == len(pages[0]["tokens"])
        page.keyboard.press("1")
        drag(page, word_box(page, pages[0], "Acme"), word_box(page, pages[0], "GmbH"))
        assert page.locator(".tag").all_inner_texts() == ["ORG"]
        page.screenshot(path=str(tmp_path / "ner_manual_page.png"))
        page.keyboard.press("a")

        # Page 2 of 2: click one box, accept; undo; remove it by its label, draw a box around two tokens; accept.
        wait_for_task(page, "Total")
        page.keyboard.press("3")
        word_box(page, pages[1], "9.00").click()
        page.keyboard.press("a")
        page.wait_for_function("() => window.vnerteach.history.length === 5")
        page.keyboard.press("Backspace")
        wait_for_task(page, "Total")
        assert page.locator(".tag").all_inner_texts() == ["MONEY"]
        page.locator(".tag").click()
        assert page.locator(".box.ent").count() == 0
        a, b = word_box(page, pages[1], "9.00").bounding_box(), word_box(page, pages[1], "EUR").bounding_box()
        page.mouse.move(a["x"] - 6, a["y"] - 6)
        page.mouse.down()
        page.mouse.move(b["x"] + b["width"] + 6, b["y"] + b["height"] + 6, steps=8)
        page.mouse.up()
        assert page.locator(".box.ent").count() == 2
        page.keyboard.press("a")

        page.wait_for_selector(".card.message >> text=No tasks left")
        wait_saved(page)
        assert page.locator("#history .hist").count() == 5
        page.keyboard.press("h")
        assert page.locator("#help").is_visible()
        page.screenshot(path=str(tmp_path / "help.png"))
        page.keyboard.press("Escape")
        assert "5 this session" in page.locator("#progress-text").inner_text()
    code, _, err = served.result
    assert code == 0 and "Saved 5 answers" in err

    examples = db_out(cli, "e2e", tmp_path)
    got = [(e["text"].split()[0], e["answer"], spans_of(e)) for e in examples]
    assert got == [
        ("Apple", "accept", [("Apple", "ORG"), ("Tim Cook", "PERSON")]),
        ("Nothing", "reject", []),
        ("Pay", "accept", [("$ 5", "MONEY")]),
        ("Invoice", "accept", [("Acme GmbH", "ORG")]),
        ("Total", "accept", [("9.00 EUR", "MONEY")]),
    ]
    assert examples[4]["tokens"][2]["bbox"] == pages[1]["tokens"][2]["bbox"]
    # The hashes come back exactly (a JSON number in the browser would have rounded them).
    originals = [set_hashes(dict(t)) for t in TEXTS + pages]
    assert [(e["_input_hash"], e["_task_hash"]) for e in examples] == [(t["_input_hash"], t["_task_hash"]) for t in originals]
    assert {e["_session_id"] for e in examples} == {examples[0]["_session_id"]}
    assert all(e["_view_id"] == "ner_manual" for e in examples)


def test_unsaved_answers_survive_a_dead_server_and_are_resent(browser, cli, env, tmp_path):
    page = browser
    src = write_jsonl(tmp_path / "tasks.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(4)])
    port = free_port()
    args = ["ner.manual", "resend", "blank:en", src, "--label", "ORG"]
    with served_app(page, args, env, first="Sentence 0", port=port) as served:
        token(page, "Acme").click()
        page.keyboard.press("a")
        wait_saved(page)
        served.stop(signal.SIGKILL)

    wait_for_task(page, "Sentence 1")
    page.keyboard.press("x")
    page.wait_for_function("() => document.body.dataset.conn === 'offline'")
    stored = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('vnerteach:outbox:'))")
    assert len(stored) == 1
    tab = page.context.new_page()
    page.close()  # the browser's copy outlives the tab as well as the server

    page = tab
    with served_app(page, args, env, port=port):
        wait_saved(page)
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('vnerteach:outbox:')).length") == 0
    examples = db_out(cli, "resend", tmp_path)
    assert [(e["text"], e["answer"]) for e in examples] == [("Sentence 0 from Acme", "accept"),
                                                            ("Sentence 1 from Acme", "reject")]
    assert examples[0]["_session_id"] == examples[1]["_session_id"]  # resent under the session it was given in


def test_binary_ner_and_generic_mark_views(browser, cli, env, tmp_path):
    page = browser
    img = tmp_path / "img"
    receipt = page_task(["Total 12.50 EUR"], img, page=1, pages=1, name="receipt.png")
    install_in_cache(receipt, img, tmp_path / "home")
    receipt["spans"] = [{"start": 6, "end": 15, "token_start": 1, "token_end": 2, "label": "TOTAL", "score": 0.42}]
    text = {"text": "Total 9.00 today", "spans": [{"start": 6, "end": 10, "label": "TOTAL", "score": 0.87}]}
    src = write_jsonl(tmp_path / "ner.jsonl", [text, receipt])
    with served_app(page, ["mark", "binary", src, "--view-id", "ner", "--label", "TOTAL"], env, first="Total 9.00"):
        assert page.locator(".chip").inner_text() == "TOTAL" and page.locator(".score").inner_text() == "score 0.87"
        assert page.locator("mark.ent").inner_text().startswith("9.00")
        assert page.locator("#labels").is_hidden()
        page.screenshot(path=str(tmp_path / "ner_text.png"))
        page.keyboard.press("a")
        wait_for_task(page, "Total 12.50")
        assert page.locator(".box.ent").count() == 2 and page.locator(".score").inner_text() == "score 0.42"
        page.screenshot(path=str(tmp_path / "ner_page.png"))
        page.keyboard.press("x")
        wait_saved(page)
    assert [(e["answer"], spans_of(e)) for e in db_out(cli, "binary", tmp_path)] == [
        ("accept", [("9.00", "TOTAL")]), ("reject", [("12.50 EUR", "TOTAL")])]

    src = write_jsonl(tmp_path / "mark.jsonl", [{"text": "Is this a receipt?", "meta": {"source": "mail 7"}}])
    args = ["mark", "generic", src, "--view-id", "classification", "--label", "RECEIPT"]
    with served_app(page, args, env, first="Is this"):
        assert page.locator(".chip").inner_text() == "RECEIPT"
        assert "source: mail 7" in page.locator(".meta").inner_text()
        page.screenshot(path=str(tmp_path / "mark_classification.png"))
        page.keyboard.press(" ")
        wait_saved(page)
    [example] = db_out(cli, "generic", tmp_path)
    assert (example["answer"], example["label"], example["_view_id"]) == ("ignore", "RECEIPT", "classification")
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["mark_classification.png", "ner_page.png", "ner_text.png"]
