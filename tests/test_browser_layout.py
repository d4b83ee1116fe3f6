"""Issue 23 points 11 and 18 in Chromium: a long text scrolls inside its card with the buttons reachable and the
span in view; the app on small screens. Screenshots are left in each test's tmp_path."""

from __future__ import annotations

import random
import urllib.request

import pytest

from helpers.browser import centre, inside, open_app, open_page, rect, rect_of, served_in_new_page, window
from helpers import write_jsonl
from helpers.web import ServedRecipe, free_port, installed, page_task

pytestmark = pytest.mark.slow

WORDS = "the annual report of the board covers revenue growth in several regions and markets".split()


def long_text(words: int, name: str, at: float, seed: int = 0) -> str:
    """A paragraph of ``words`` words with ``name`` at the fraction ``at`` of it."""
    rng = random.Random(seed)
    body = [rng.choice(WORDS) for _ in range(words)]
    body.insert(int(at * words), name)
    return " ".join(body) + " ."


def button_at_centre(page, selector: str) -> str | None:
    """The id of the button a click at the centre of ``selector`` reaches."""
    return page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('button')?.id",
                         list(centre(rect_of(page, selector))))


def check_reachable(page) -> None:
    """The buttons are on screen, the card ends above them, and a click on Accept lands on Accept."""
    view = window(page)
    actions, card = rect_of(page, "#actions"), rect_of(page, "#card")
    assert inside(actions, view, slack=1), (actions, view)
    assert card[3] <= actions[1] + 1, (card, actions)  # nothing of the card over the buttons
    assert button_at_centre(page, "#btn-accept") == "btn-accept"


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 900}, {"width": 1024, "height": 600}])
def test_a_long_text_scrolls_in_its_card_with_the_span_in_view_and_the_buttons_reachable(playwright, env, tmp_path,
                                                                                         viewport):
    """Point 11: a text of 14,000 characters spilled over the buttons, and its span sat 9,500 px down."""
    text = long_text(2400, "Acme", at=0.7)
    assert len(text) > 14_000
    src = write_jsonl(tmp_path / "long.jsonl", [{"text": text}])
    patterns = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "ORG", "pattern": "Acme"}])
    args = ["ner.teach", "long", "blank:en", src, "--label", "ORG", "--patterns", patterns]
    with served_in_new_page(playwright, tmp_path / "profile", viewport, args, env) as (served, page):
        page.wait_for_function("() => document.querySelector('#card mark.ent')")
        page.wait_for_timeout(300)  # the scroll to the span
        check_reachable(page)
        mark, card = rect_of(page, "#card mark.ent"), rect_of(page, "#card")
        assert inside(mark, card, slack=1), (mark, card)  # the span is in the visible part of the card
        page.screenshot(path=str(tmp_path / f"long-{viewport['width']}.png"))
        page.locator("#btn-accept").click()
        page.wait_for_function("() => window.vnerteach.history.length === 1")
    code, _out, err = served.result
    assert code == 0, err


def test_the_buttons_and_the_card_say_what_is_asked_in_each_view(playwright, env, tmp_path):
    """Issue 23 point 16: in a manual view Reject leaves the input out of training, and it did not say so."""
    src = write_jsonl(tmp_path / "t.jsonl", [{"text": "Acme hired Anna in Berlin ."}] * 1)
    patterns = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "ORG", "pattern": "Acme"}])
    for args, asked, reject in [
        (["ner.manual", "m", "blank:en", src, "--label", "ORG,PERSON"], "Mark every entity (ORG, PERSON), then accept",
         "leave out"),
        (["ner.teach", "t", "blank:en", src, "--label", "ORG", "--patterns", patterns],
         "Is the highlighted span exactly an entity of this label? Accept or reject", "reject"),
    ]:
        with served_in_new_page(playwright, tmp_path / f"profile-{args[1]}", {"width": 1200, "height": 800}, args,
                                env) as (_, page):
            page.wait_for_function("() => window.vnerteach.current")
            assert page.locator("#card .asked").inner_text() == asked
            button = page.locator("#btn-reject")
            assert button.inner_text().split("\n")[-1].lower().startswith(reject)
            if reject == "leave out":
                assert "leave this input out of training" in button.get_attribute("title")
            check_reachable(page)
            page.screenshot(path=str(tmp_path / f"asked-{args[1]}.png"))


def test_label_colors_chosen_on_the_command_line_are_the_apps(playwright, env, tmp_path):
    """Issue 23 point 12: colours can be set (--label-colors); the others stay distinct from them."""
    src = write_jsonl(tmp_path / "t.jsonl", [{"text": "Name: Anna"}])
    args = ["ner.manual", "forms", "blank:en", src, "--label", "QUESTION,ANSWER,HEADER", "--label-colors",
            "QUESTION=#123456"]
    with served_in_new_page(playwright, tmp_path / "profile", {"width": 1200, "height": 800}, args, env) as (_, page):
        page.wait_for_function("() => window.vnerteach.current")
        swatches = {b.locator(".label-name").inner_text(): b.evaluate("e => getComputedStyle(e, '::before')"
                                                                      ".backgroundColor")
                    for b in page.locator(".label-btn").all()}
        assert [b.locator(".label-name").inner_text() for b in page.locator(".label-btn").all()] == \
            ["QUESTION", "ANSWER", "HEADER"]  # the --label order: keys 1, 2, 3
    assert swatches["QUESTION"] == "rgb(18, 52, 86)" and len(set(swatches.values())) == 3


@pytest.mark.parametrize("viewport, options", [
    ({"width": 1024, "height": 600}, {}),
    ({"width": 390, "height": 844}, {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}),
    ({"width": 1280, "height": 800}, {"color_scheme": "dark"}),
], ids=["1024x600", "phone", "dark"])
def test_a_page_on_small_screens_and_in_the_dark_keeps_its_toolbar_and_buttons(playwright, env, tmp_path, viewport,
                                                                               options):
    """Issue 23 point 18: usable at 1024x600 and on a phone (toolbar not clipped, buttons reachable), a dark theme by
    prefers-color-scheme, buttons disabled while loading, Caps Lock does not disable the keys."""
    img = tmp_path / "img"
    tasks = installed([page_task([f"Receipt {i} from Acme Store", "Total 12.50 paid"], img, name=f"r{i}.png")
                       for i in range(2)], img, tmp_path / "home")
    src = write_jsonl(tmp_path / "pages.jsonl", tasks)
    with ServedRecipe(["ner.manual", "small", "blank:en", src, "--label", "TOTAL,COMPANY"], env, free_port()) as served:
        with urllib.request.urlopen(served.url + "/") as response:  # the page as first painted: nothing to answer
            first = response.read().decode()
        assert all(f'id="btn-{b}" disabled' in first for b in ("accept", "reject", "ignore", "undo"))
        with open_page(playwright, tmp_path / "profile", viewport, **options) as page:
            open_app(page, served)
            page.wait_for_function("() => window.vnerteach.current && document.querySelector('.page-toolbar')")
            assert not page.locator("#btn-accept").is_disabled()
            toolbar = page.evaluate("""() => { const t = document.querySelector('.page-toolbar');
              const r = t.getBoundingClientRect(); return {right: r.right, scroll: t.scrollWidth, client: t.clientWidth}; }""")
            assert toolbar["right"] <= viewport["width"] + 1 and toolbar["scroll"] <= toolbar["client"] + 1, toolbar
            page.locator("#actions").scroll_into_view_if_needed()
            assert inside(rect_of(page, "#actions"), window(page), slack=1), rect_of(page, "#actions")
            assert button_at_centre(page, "#btn-accept") == "btn-accept"
            if options.get("color_scheme") == "dark":
                bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert sum(int(v) for v in bg[4:-1].split(",")) < 150, bg  # dark
            page.screenshot(path=str(tmp_path / f"small-{viewport['width']}.png"), full_page=True)
            page.keyboard.press("CapsLock")
            page.keyboard.press("A")  # "A" with Caps Lock on: still accept
            page.wait_for_function("() => window.vnerteach.history.length === 1")


def test_forced_colours_keep_labels_apart(playwright, env, tmp_path):
    """Issue 23 point 18: in forced-colours mode (high contrast) every label was painted the system's one colour."""
    src = write_jsonl(tmp_path / "t.jsonl", [{"text": "Acme hired Anna .", "spans": [
        {"start": 0, "end": 4, "label": "ORG"}, {"start": 11, "end": 15, "label": "PERSON"}]}])
    args = ["ner.manual", "hc", "blank:en", src, "--label", "ORG,PERSON"]
    with served_in_new_page(playwright, tmp_path / "profile", {"width": 1200, "height": 800}, args, env,
                            forced_colors="active") as (_, page):
        page.wait_for_function("() => document.querySelectorAll('#card mark.ent').length === 2")
        marks = page.evaluate("[...document.querySelectorAll('#card mark.ent')].map((m) => "
                              "getComputedStyle(m).backgroundColor)")
        swatches = page.evaluate("[...document.querySelectorAll('.label-btn')].map((b) => "
                                 "getComputedStyle(b, '::before').backgroundColor)")
        page.screenshot(path=str(tmp_path / "forced.png"))
    assert len(set(marks)) == 2 and len(set(swatches)) == 2, (marks, swatches)


def _word_heights(page) -> list[float]:
    return page.evaluate("[...document.querySelectorAll('.page-stage .box')].map((b) => b.getBoundingClientRect().height)")


def test_a_page_opens_legible_and_marks_the_spans_out_of_view_at_the_edge(playwright, env, tmp_path):
    """Issue 23 point 13: a page opened at 23% to fit seven pre-fills, a narrow receipt at 223%."""
    img = tmp_path / "img"
    narrow = page_task(["ACME", "Total 9.45"], img, name="narrow.png", width=420)
    lines = [f"Line {i} Item {i}" for i in range(60)]
    tall = page_task(lines, img, name="tall.png", width=1000, line_height=60, size=22)
    # pre-filled: an item near the top and one near the bottom of the tall page
    tokens = tall["tokens"]
    item = [t for t in tokens if t["text"] == "Item"]
    tall["spans"] = [{"start": t["start"], "end": t["end"], "token_start": t["id"], "token_end": t["id"], "label": "X"}
                     for t in (item[1], item[58])]
    src = write_jsonl(tmp_path / "pages.jsonl", installed([narrow, tall], img, tmp_path / "home"))
    args = ["ner.manual", "zoom", "blank:en", src, "--label", "X"]
    with served_in_new_page(playwright, tmp_path / "profile", {"width": 1400, "height": 900}, args, env) as (_, page):
        page.wait_for_function("() => window.vnerteach.current && document.querySelector('.page-stage .box')")
        heights = _word_heights(page)
        assert max(heights) <= 40, heights  # fit width would make these words 90 px tall
        page.screenshot(path=str(tmp_path / "narrow.png"))
        page.keyboard.press("a")
        page.wait_for_function("() => window.vnerteach.current && window.vnerteach.current.task.text.startsWith('Line')")
        page.wait_for_timeout(300)
        heights = _word_heights(page)
        assert sorted(heights)[len(heights) // 2] >= 13, heights  # words a person can read
        marks = page.locator(".edge-mark")
        assert marks.count() == 1 and "Item" in marks.first.get_attribute("title")  # the span out of view
        viewport = rect_of(page, ".page-viewport")
        mark = rect(marks.first.bounding_box())
        assert inside(mark, viewport, slack=1) and mark[3] > viewport[3] - 30
        page.screenshot(path=str(tmp_path / "tall.png"))
        marks.first.click()  # scrolls to it: now the other span is out of view, above
        page.wait_for_function("() => document.querySelector('.edge-mark.edge-top')")
        assert page.locator(".edge-mark").count() == 1
