"""OCR text the annotator sees and fixes, in headless Chromium at 1366x800: a word's text on hover and in the span
list, a misread word corrected with e (stored with what OCR read beside it), a region's OCR shown to confirm or
edit before it is added, and words added by hand drawn with their text. Screenshots are left in tmp_path.
"""

from __future__ import annotations

import copy
from io import BytesIO

import pytest
from PIL import Image

from helpers import write_jsonl
from helpers.browser import db_out, draw, inside, meets, rect, rect_of, served_app, spans_of, wait_saved, wait_shown
from helpers.web import installed, page_task

pytestmark = pytest.mark.slow

LABELS = "TOTAL,DATE,NOTE"
TIP = "() => { const t = document.querySelector('.tip'); return t.hidden ? null : t.textContent; }"


@pytest.fixture
def missed(tmp_path):
    """A receipt whose last line ("PAID 12.50") OCR missed, and where that line is on the page."""
    full = page_task(["TOTAL “193.00 GBP", "Thank you", "PAID 12.50"], tmp_path / "img", size=34)
    task = copy.deepcopy(full)
    task["tokens"] = task["tokens"][:5]
    task["tokens"][-1]["ws"] = False
    task["text"] = "TOTAL “193.00 GBP Thank you"
    installed([task], tmp_path / "img", tmp_path / "home")
    return task, full["tokens"][5:]


def serve(page, tmp_path, env, task, dataset):
    """ner.manual on the one task, served with its app open in ``page`` at the task (served_app)."""
    src = write_jsonl(tmp_path / f"{dataset}.jsonl", [task])
    return served_app(page, ["ner.manual", dataset, "blank:en", src, "--label", LABELS], env)


def hover(page, i: int):
    word = page.locator(f'.box[data-i="{i}"]')
    page.mouse.move(0, 0)
    word.hover()
    return word


def span_list(page) -> list[list[str]]:
    """The span list under the page: each item's label, text as read and (if corrected) what OCR read."""
    return page.evaluate("() => [...document.querySelectorAll('.span-list .span-item')]"
                         ".map((li) => [...li.children].map((c) => c.textContent))")


def drawn_text_pixels(page, box: list[float]) -> int:
    """Pixels of the word text the app draws (dark green or purple, not the page image's grey or black) in a window rect."""
    png = page.screenshot(clip={"x": box[0], "y": box[1], "width": box[2] - box[0], "height": box[3] - box[1]})
    pixels = Image.open(BytesIO(png)).convert("RGB").get_flattened_data()
    return sum(1 for r, g, b in pixels if max(r, g, b) < 140 and max(r, g, b) - min(r, g, b) > 25)


def test_a_misread_word_is_seen_on_hover_and_in_the_span_list_and_corrected_with_e(screen, cli, env, tmp_path, missed):
    page, (task, _) = screen, missed
    with serve(page, tmp_path, env, task, "fix"):
        wait_shown(page, 0)
        word = hover(page, 1)
        assert page.evaluate(TIP) == "“193.00"  # every word says what was read, not only doubtful ones
        tip = rect_of(page, ".tip")
        assert not meets(tip, rect(word.bounding_box()))  # beside the word, not over it
        assert tip[3] - tip[1] >= 14  # readable
        page.screenshot(path=str(tmp_path / "hover.png"))

        word.click()  # marked TOTAL: the span list shows its text as read
        page.wait_for_function("() => window.vnerteach.current.spans.length === 1")
        assert span_list(page) == [["TOTAL", "“193.00"]]

        hover(page, 1)
        page.keyboard.press("e")
        editor = page.locator(".correct-text input")
        assert editor.input_value() == "“193.00" and editor.evaluate("i => i === document.activeElement")
        assert not meets(rect_of(page, ".correct-text"), rect(word.bounding_box()))  # the word stays in sight
        page.screenshot(path=str(tmp_path / "edit.png"))
        editor.fill("193.00")
        page.keyboard.press("Enter")
        assert page.locator(".correct-text").count() == 0
        assert page.locator('.box.corrected[data-i="1"] .word-text').inner_text() == "193.00"
        assert span_list(page) == [["TOTAL", "193.00", "OCR read “193.00"]]
        label, box = rect_of(page, '.box[data-i="1"] .word-text'), rect(word.bounding_box())
        assert inside(label, box, slack=1)
        assert drawn_text_pixels(page, box) > 30  # the new text is drawn in the box, not an empty box
        hover(page, 1)
        assert page.evaluate(TIP) == "193.00 · OCR read “193.00"
        page.screenshot(path=str(tmp_path / "corrected.png"))

        # Esc cancels; a correction with a space in one box is refused in the app, and nothing changes.
        hover(page, 3)
        page.keyboard.press("e")
        page.locator(".correct-text input").fill("Thanks")
        page.keyboard.press("Escape")
        hover(page, 2)
        page.keyboard.press("e")
        page.locator(".correct-text input").fill("G BP")
        page.keyboard.press("Enter")
        page.wait_for_selector(".toast")
        assert "a box holds one word" in page.locator(".toast").last.inner_text()
        assert page.evaluate("window.vnerteach.current.task.tokens.map((t) => t.text)") == [
            "TOTAL", "193.00", "GBP", "Thank", "you"]
        assert page.locator(".box.corrected").count() == 1
        page.keyboard.press("a")
        wait_saved(page)
    [example] = db_out(cli, "fix", tmp_path)
    assert example["text"] == "TOTAL 193.00 GBP Thank you" and spans_of(example) == [("193.00", "TOTAL")]
    assert example["tokens"][1]["ocr_text"] == "“193.00" and example["tokens"][1]["bbox"] == task["tokens"][1]["bbox"]
    assert [t.get("ocr_text") for t in example["tokens"]] == [None, "“193.00", None, None, None]
    result = cli("stats", "fix")
    assert result.exit_code == 0 and "Corrected" in result.stdout


def test_region_ocr_is_shown_to_confirm_or_edit_and_added_words_are_drawn_with_their_text(screen, cli, env, tmp_path,
                                                                                            missed):
    page, (task, line) = screen, missed
    n = len(task["tokens"])
    region = [line[0]["bbox"][0] - 10, line[0]["bbox"][1] - 6, line[1]["bbox"][2] + 10, line[1]["bbox"][3] + 6]
    with serve(page, tmp_path, env, task, "region"):
        wait_shown(page, 0)
        page.keyboard.press("p")
        draw(page, region)
        editor = page.locator(".region-read input")
        editor.wait_for()
        assert editor.input_value() == "PAID 12.50"  # what OCR read, before anything is added
        assert "OCR read this" in page.locator(".region-read .ask-note").inner_text()
        assert page.evaluate("window.vnerteach.current.task.tokens.length") == n
        page.screenshot(path=str(tmp_path / "region-read.png"))
        page.keyboard.press("Escape")  # cancelled: nothing added
        assert page.locator(".region-read").count() == 0 and page.locator(".box.added").count() == 0

        page.keyboard.press("2")  # DATE
        draw(page, region)
        editor.wait_for()
        editor.fill("PAID 12.60")  # the annotator corrects the read before it is added
        page.keyboard.press("Enter")
        page.wait_for_function("() => window.vnerteach.current.spans.length === 1")
        added = page.locator(".box.added")
        assert added.count() == 2
        assert page.locator(".box.added .word-text").all_inner_texts() == ["PAID", "12.60"]
        for k in range(2):
            box = rect(added.nth(k).bounding_box())
            assert box[3] - box[1] >= 12 and drawn_text_pixels(page, box) > 20
        assert span_list(page) == [["DATE", "PAID 12.60", "OCR read PAID 12.50"]]

        # Where OCR finds nothing, typed words are drawn as text in their boxes too.
        blank = [60, task["height"] - 40, 260, task["height"] - 6]
        page.keyboard.press("3")
        draw(page, blank)
        page.wait_for_selector(".ask-text input")
        page.locator(".ask-text input").fill("VOID")
        page.keyboard.press("Enter")
        page.wait_for_function("() => window.vnerteach.current.spans.length === 2")
        typed = page.locator(f'.box.added[data-i="{n + 2}"]')
        assert typed.locator(".word-text").inner_text() == "VOID"
        assert drawn_text_pixels(page, rect(typed.bounding_box())) > 20
        page.screenshot(path=str(tmp_path / "region-added.png"))
        page.keyboard.press("a")
        wait_saved(page)
    [example] = db_out(cli, "region", tmp_path)
    assert spans_of(example) == [("PAID 12.60", "DATE"), ("VOID", "NOTE")]
    assert [(t["text"], t.get("ocr_text")) for t in example["tokens"][n:]] == [
        ("PAID", None), ("12.60", "12.50"), ("VOID", None)]
    assert example["added_tokens"] == [n, n + 1, n + 2]
