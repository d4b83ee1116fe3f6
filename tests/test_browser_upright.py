"""Issue 22 in headless Chromium at 1366x800: r turns a page shown on its side upright, its word boxes on its text (read
from the image the browser shows), the spans marked on a page are dropped when it is turned (said in a toast), the answer
records the annotator's rotation; a page OCR read badly carries a marker in its toolbar. Screenshots in tmp_path."""

from __future__ import annotations

import pytest
from helpers.documents import drawn_page
from PIL import Image

from helpers.browser import SCREEN, db_out, open_page, served_app, spans_of, wait_saved

pytestmark = pytest.mark.slow

# The page on screen: its stage and image in CSS pixels, and for each word box whether the image the browser shows
# has ink (a dark pixel) inside it, read from a canvas copy of that image.
SEEN = """() => {
  const v = window.vnerteach.current.view, img = v.img, t = window.vnerteach.current.task;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const ink = (b) => { const d = g.getImageData(b[0], b[1], Math.max(1, b[2] - b[0]), Math.max(1, b[3] - b[1])).data;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 100) return true; return false; };
  const r = v.stage.getBoundingClientRect();
  return {stage: [r.left, r.top, r.right, r.bottom], natural: [img.naturalWidth, img.naturalHeight],
          size: [t.width, t.height], meta: t.meta, spans: window.vnerteach.current.spans.length,
          words: t.tokens.map((k) => ({text: k.text, bbox: k.bbox, ink: ink(k.bbox)})),
          toasts: [...document.querySelectorAll('.toast')].map((e) => e.textContent)};
}"""


@pytest.fixture
def screen(playwright, tmp_path):
    """The 1366x800 screen of helpers.browser, with waits of 30 s: OCR runs on each turn of the page."""
    with open_page(playwright, tmp_path / "profile", SCREEN, timeout_ms=30_000) as page:
        yield page


def shown(page, rotation) -> dict:
    """What is on screen once the page read at ``rotation`` (None: as it is) is shown and its image loaded."""
    page.wait_for_function("r => { const c = window.vnerteach.current; return c && c.view && c.view.img &&"
                           " (c.task.meta.rotation ?? null) === r && c.view.img.complete && c.view.img.naturalWidth > 0"
                           " && !c.turning; }", arg=rotation)
    return page.evaluate(SEEN)


def turn(page, to: int) -> dict:
    page.keyboard.press("r")
    return shown(page, to)


def test_r_turns_a_sideways_page_upright_with_its_boxes_on_its_text(screen, cli, env, tmp_path):
    page, scans = screen, tmp_path / "scans"
    scans.mkdir()
    drawn_page(scans / "a_sideways.png", turned_ccw=90)  # shown on its side: detection is off, as if it had missed it
    sharp = Image.open(drawn_page(tmp_path / "sharp.png"))
    sharp.resize((sharp.width // 5, sharp.height // 5), Image.BILINEAR).resize(sharp.size, Image.NEAREST).save(
        scans / "b_coarse.png")
    args = ["ner.manual", "turned", "blank:en", scans, "--label", "TOTAL,DATE", "--no-turn", "--workers", "1",
            "--ocr-engine", "tesseract"]  # tesseract reads a coarse scan badly
    with served_app(page, args, env):
        before = shown(page, None)
        assert before["natural"] == before["size"] == [520, 900]  # tall: on its side
        assert page.locator(".ocr-poor").count() == 1  # read on its side, it reads badly: flagged
        page.screenshot(path=str(tmp_path / "1-sideways.png"))

        up = turn(page, 90)
        assert up["meta"]["rotation_source"] == "annotator"
        assert up["natural"] == up["size"] == [900, 520]  # the image shown is the upright page, landscape
        s = up["stage"]
        assert s[2] - s[0] > 1.5 * (s[3] - s[1])  # and so is what the annotator sees
        words = {w["text"]: w for w in up["words"]}
        assert {"INVOICE", "20417", "148.50", "TELEPHONE"} <= set(words)
        assert all(w["ink"] for w in up["words"])  # every word's box lies on text of the image shown
        assert words["INVOICE"]["bbox"][1] < words["148.50"]["bbox"][1] < words["TELEPHONE"]["bbox"][1]
        assert words["INVOICE"]["bbox"][0] < 60  # the first line starts at the left, as drawn
        assert any("turned to 90°" in t for t in up["toasts"])
        assert page.locator(".page-turned").inner_text() == "↻ 90°" and page.locator(".ocr-poor").count() == 0
        page.screenshot(path=str(tmp_path / "2-upright.png"))

        i = next(k for k, w in enumerate(up["words"]) if w["text"] == "148.50")
        page.locator(f'.box[data-i="{i}"]').click()
        page.wait_for_function("() => window.vnerteach.current.spans.length === 1")
        down = turn(page, 180)
        assert down["spans"] == 0 and any("the span marked on it was dropped" in t for t in down["toasts"])
        assert down["natural"] == [520, 900]  # a further quarter: on its other side
        page.screenshot(path=str(tmp_path / "3-other-side.png"))
        assert turn(page, 270)["natural"] == [900, 520]  # upside down
        page.screenshot(path=str(tmp_path / "4-upside-down.png"))
        turn(page, 0)
        again = turn(page, 90)  # round again: the annotator's 90 from the cache
        assert [w["text"] for w in again["words"]] == [w["text"] for w in up["words"]]
        i = next(k for k, w in enumerate(again["words"]) if w["text"] == "148.50")
        page.locator(f'.box[data-i="{i}"]').click()
        page.wait_for_function("() => window.vnerteach.current.spans.length === 1")
        page.keyboard.press("a")

        coarse = page.wait_for_function("() => { const c = window.vnerteach.current;"
                                        " return c && c.task.meta.path.endsWith('b_coarse.png') && c.view.img.complete; }")
        assert coarse
        mark = page.locator(".ocr-poor")
        assert mark.count() == 1 and "OCR read badly" in mark.inner_text()
        box, bar = mark.bounding_box(), page.locator(".page-toolbar").bounding_box()
        assert box["width"] > 40 and bar["y"] <= box["y"] and box["y"] + box["height"] <= bar["y"] + bar["height"]
        assert 0 <= box["x"] and box["x"] + box["width"] <= SCREEN["width"]
        assert "mean word confidence" in mark.get_attribute("title")
        page.screenshot(path=str(tmp_path / "5-poor-ocr.png"))
        wait_saved(page)
    [example] = db_out(cli, "turned", tmp_path)
    assert example["meta"]["rotation"] == 90 and example["meta"]["rotation_source"] == "annotator"
    assert spans_of(example) == [("148.50", "TOTAL")]
