"""Issue 23 point 14 in Chromium: the pages of a document can be read without answering (previous, next, page n of
N), a task can be flagged and commented (Prodigy's f), and --instructions are shown in the app. Screenshots are left
in the test's tmp_path."""

from __future__ import annotations

import pytest

from helpers.browser import db_out, served_in_new_page, wait_image, wait_saved
from helpers.documents import digital_pdf

pytestmark = pytest.mark.slow


def shown(page) -> dict:
    return page.evaluate("""() => ({src: document.querySelector('.page-img').getAttribute('src'),
      reading: document.querySelector('.page-view').classList.contains('reading-other'),
      jump: document.querySelector('.page-jump') && document.querySelector('.page-jump').value,
      boxes: getComputedStyle(document.querySelector('.boxes')).display})""")


def test_read_other_pages_flag_comment_and_instructions(playwright, env, cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    digital_pdf(docs / "contract.pdf", pages=3)
    guide = tmp_path / "guide.txt"
    guide.write_text("Mark every PARTY.\n<b>Not HTML</b>: shown as text.\n", encoding="utf-8")
    args = ["ner.manual", "contracts", "blank:en", docs, "--label", "PARTY", "--instructions", guide]
    with served_in_new_page(playwright, tmp_path / "profile", {"width": 1300, "height": 850}, args, env) as (_, page):
        page.wait_for_function("() => window.vnerteach.current && document.querySelector('.page-jump')")
        first = shown(page)
        assert first["jump"] == "1" and not first["reading"] and first["boxes"] != "none"
        page.keyboard.press("]")  # read page 2 without answering
        page.wait_for_function("() => document.querySelector('.page-view').classList.contains('reading-other')")
        second = shown(page)
        assert second["jump"] == "2" and second["src"] != first["src"] and second["boxes"] == "none"
        assert "page 1 is the one to annotate" in page.locator(".page-reading").inner_text()
        wait_image(page)  # the image was made
        page.screenshot(path=str(tmp_path / "reading-page-2.png"))
        page.fill(".page-jump", "3")
        page.press(".page-jump", "Enter")
        page.wait_for_function("src => document.querySelector('.page-img').getAttribute('src') !== src",
                               arg=second["src"])
        assert shown(page)["jump"] == "3" and shown(page)["src"] not in (first["src"], second["src"])
        page.keyboard.press("[")
        page.keyboard.press("[")
        page.wait_for_function("() => !document.querySelector('.page-view').classList.contains('reading-other')")
        assert shown(page)["src"] == first["src"] and page.evaluate("window.vnerteach.history.length") == 0
        page.keyboard.press("i")
        dialog = page.locator("#instructions")
        assert dialog.is_visible() and "<b>Not HTML</b>: shown as text." in dialog.inner_text()
        page.screenshot(path=str(tmp_path / "instructions.png"))
        page.keyboard.press("Escape")
        page.keyboard.press("f")
        page.keyboard.press("c")
        page.keyboard.type("signature page missing")
        page.keyboard.press("Enter")
        assert page.locator("#btn-flag").get_attribute("aria-pressed") == "true"
        page.keyboard.press("a")
        wait_saved(page)
        assert page.locator("#btn-flag").get_attribute("aria-pressed") == "false"  # the next task starts clean
        assert page.locator("#comment").input_value() == ""
    stored = db_out(cli, "contracts", tmp_path)
    assert stored[0]["flagged"] is True and stored[0]["comment"] == "signature page missing"
    assert stored[0]["meta"]["page"] == 1
