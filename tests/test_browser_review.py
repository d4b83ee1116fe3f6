"""The review view in headless Chromium: versions side by side with who gave them, one chosen with its key,
edited and accepted, on a text input and on a page input. Screenshots are left in each test's tmp_path.
"""

from __future__ import annotations

import re

import pytest

from vnerteach.tasks import set_hashes

from helpers.browser import db_out, inside, meets, rect, served_app, spans_of, wait_image, wait_saved
from helpers.review import TEXTS, manual
from helpers.web import install_in_cache, page_task

pytestmark = pytest.mark.slow

# Where the versions and the editor are on screen, in CSS pixels of the window.
GEOMETRY = """() => {
  const rect = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const editor = document.querySelector('.card-body .text-view, .card-body .page-viewport');
  return {window: [0, 0, innerWidth, innerHeight], versions: [...document.querySelectorAll('.version')].map(rect),
          caption: rect(document.querySelector('.review-caption')), editor: rect(editor),
          buttons: rect(document.getElementById('actions'))};
}"""


def check_layout(g: dict) -> None:
    """Every version is in the window, and no two of versions, caption, editor and buttons overlap."""
    assert g["versions"], "no version shown"
    assert all(inside(v, g["window"]) for v in g["versions"]), g
    parts = [*g["versions"], g["caption"], g["editor"], g["buttons"]]
    assert not [(a, b) for i, a in enumerate(parts) for b in parts[i + 1:] if meets(a, b)], g


def editor_token(page, text: str):
    return page.locator(".card-body .text-view .tok").filter(has_text=re.compile(f"^{re.escape(text)}$")).first


def current_spans(page) -> list[tuple[str, str]]:
    return page.evaluate("() => { const c = window.vnerteach.current; "
                         "return c.spans.map((s) => [c.task.text.slice(s.start, s.end), s.label]); }")


def test_review_a_text_input_choose_a_version_by_key_edit_and_accept(browser, cli, store, env, tmp_path):
    text = TEXTS[0]
    store.add_examples([manual(text, [("Tim Cook", "PERSON"), ("Apple", "ORG")], "news-alice"),
                        manual(text, [("Apple", "ORG"), ("Cupertino", "GPE")], "news-bob"),
                        manual(text, [("Apple", "ORG"), ("Cupertino", "GPE")], "news-carol")], ["news"])
    with served_app(browser, ["review", "final", "news"], env):
        browser.wait_for_function("() => window.vnerteach.current && document.querySelectorAll('.version').length === 2")
        who = browser.locator(".version .version-who").all_inner_texts()
        assert who == ["bob, carol", "alice"]  # the version most annotators gave first, by annotator name
        # They disagree: the editor starts from the version most annotators gave (issue 23 point 4: it was empty).
        assert current_spans(browser) == [["Apple", "ORG"], ["Cupertino", "GPE"]]
        assert browser.locator(".version.chosen .version-who").inner_text() == "bob, carol"
        check_layout(browser.evaluate(GEOMETRY))
        browser.screenshot(path=str(tmp_path / "review-text.png"))
        browser.keyboard.press("2")
        assert current_spans(browser) == [["Tim Cook", "PERSON"], ["Apple", "ORG"]]
        assert browser.locator(".version.chosen .version-who").inner_text() == "alice"
        browser.locator(".label-btn", has_text="GPE").click()
        editor_token(browser, "Cupertino").click()
        assert sorted(current_spans(browser)) == [["Apple", "ORG"], ["Cupertino", "GPE"], ["Tim Cook", "PERSON"]]
        browser.screenshot(path=str(tmp_path / "review-text-edited.png"))
        browser.keyboard.press("a")
        wait_saved(browser)
    stored, = db_out(cli, "final", tmp_path)
    assert sorted(spans_of(stored)) == [("Apple", "ORG"), ("Cupertino", "GPE"), ("Tim Cook", "PERSON")]
    assert stored["answer"] == "accept" and stored["_view_id"] == "review" and stored["chosen_version"] == 1
    assert [v["annotators"] for v in stored["versions"]] == [["news-bob", "news-carol"], ["news-alice"]]


def test_an_empty_accept_where_annotators_marked_entities_needs_a_second_press(browser, cli, store, env, tmp_path):
    """Issue 23 point 4: an empty editor and `a` stored "no entities here", which ner.batch-train learns."""
    text = TEXTS[0]
    store.add_examples([manual(text, [("Tim Cook", "PERSON")], "news-alice"),
                        manual(text, [("Apple", "ORG")], "news-bob")], ["news"])
    with served_app(browser, ["review", "final", "news"], env):
        browser.wait_for_function("() => window.vnerteach.current && document.querySelectorAll('.version').length === 2")
        assert len(current_spans(browser)) == 1
        editor_token(browser, current_spans(browser)[0][0].split()[0]).click()  # the reviewer removes it
        assert current_spans(browser) == []
        browser.keyboard.press("a")
        toast = browser.locator(".toast")
        toast.wait_for()
        assert "press a again to store no entities" in toast.inner_text()
        assert not meets(rect(toast.bounding_box()), rect(browser.locator("#actions").bounding_box()))  # buttons free
        browser.screenshot(path=str(tmp_path / "review-empty-confirm.png"))
        assert browser.evaluate("window.vnerteach.history.length") == 0  # not answered yet
        browser.keyboard.press("a")
        wait_saved(browser)
    stored, = db_out(cli, "final", tmp_path)
    assert stored["answer"] == "accept" and stored["spans"] == [] and stored["confirmed_empty"] is True


def test_review_a_page_input_versions_over_the_page(browser, cli, store, env, tmp_path):
    task = page_task(["ACME STORE", "12 High Street", "TOTAL 9.45"], tmp_path / "img")
    install_in_cache(task, tmp_path / "img", tmp_path / "home")

    def version(words: list[tuple[str, str]], who: str) -> dict:
        spans = [{"start": task["text"].index(w), "end": task["text"].index(w) + len(w), "label": label}
                 for w, label in words]
        return set_hashes({**task, "spans": spans, "answer": "accept", "_view_id": "ner_manual", "_session_id": who})

    store.add_examples([version([("ACME STORE", "COMPANY"), ("9.45", "TOTAL")], "forms-alice"),
                        version([("ACME", "COMPANY")], "forms-bob")], ["forms"])
    with served_app(browser, ["review", "final", "forms"], env):
        browser.wait_for_function("() => window.vnerteach.current && document.querySelectorAll('.version').length === 2")
        wait_image(browser)
        assert browser.locator(".version .version-span").all_inner_texts() == ["ACME STORECOMPANY", "9.45TOTAL",
                                                                               "ACMECOMPANY"]
        check_layout(browser.evaluate(GEOMETRY))
        browser.keyboard.press("1")
        assert browser.locator(".card-body .box.ent").count() == 2 + 1  # ACME STORE: two boxes; 9.45: one
        browser.screenshot(path=str(tmp_path / "review-page.png"))
        browser.locator(".version").nth(1).hover()  # the page shows forms-bob's version while it is hovered
        assert browser.locator(".card-body .box.ent").count() == 1
        browser.mouse.move(5, 5)
        assert browser.locator(".card-body .box.ent").count() == 3
        browser.keyboard.press("2")
        assert current_spans(browser) == [["ACME", "COMPANY"]]
        browser.keyboard.press("1")
        browser.keyboard.press("a")
        wait_saved(browser)
    stored, = db_out(cli, "final", tmp_path)
    assert sorted(spans_of(stored)) == [("9.45", "TOTAL"), ("ACME STORE", "COMPANY")]
    assert stored["image"] == task["image"] and stored["chosen_version"] == 0
