"""What the annotator sees around the task, in Chromium at 1366x800: the server-gone banner, progress, the
teach card, label colours (issue 12, points 8-11)."""

from __future__ import annotations

import json
import re
import signal

import pytest
from PIL import Image

from vnerteach.datasets.export import label_colour, label_colours

from helpers import write_jsonl
from helpers.documents import image_only_pdf, scanned_page, text_image
from helpers.browser import (SCREEN, db_out, inside, meets, rect_of, served_app, token, wait_for_task, wait_image,
                              wait_saved, window)
from helpers.web import ServedRecipe, free_port, install_in_cache, page_task

pytestmark = pytest.mark.slow


@pytest.fixture
def page(browser):
    """The browser fixture's page at the 1366x800 screen (SCREEN)."""
    browser.set_viewport_size(SCREEN)
    return browser


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def css_rgb(text: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in re.findall(r"\d+", text)[:3])


def banner(page) -> str:
    return page.locator("#banner").inner_text()


def test_the_banner_says_when_the_server_is_gone_and_when_the_kept_answers_are_saved(page, cli, env, tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(30)])
    port = free_port()
    args = ["ner.manual", "gone", "blank:en", src, "--label", "ORG"]
    with served_app(page, args, env, first="Sentence 0", port=port) as served:
        page.wait_for_function("() => window.vnerteach.queue.length >= 5 && !window.vnerteach.fetching")
        assert page.locator("#banner").is_hidden()
        served.stop(signal.SIGKILL)  # the app is idle: no request of its own would notice
    page.wait_for_function("() => !document.getElementById('banner').hidden", timeout=20_000)  # a beat is 2-4 s
    assert banner(page).startswith("Server unreachable — your answers so far are saved")

    token(page, "Acme").click()
    page.keyboard.press("a")
    wait_for_task(page, "Sentence 1")
    page.keyboard.press("x")
    wait_for_task(page, "Sentence 2")
    page.wait_for_function("() => document.getElementById('banner').textContent.includes('2 answers kept')")
    assert banner(page) == "Server unreachable — 2 answers kept in this browser, sent when it is back"
    page.screenshot(path=str(tmp_path / "banner_offline.png"))
    shown = rect_of(page, "#banner")
    assert inside(shown, window(page), slack=0) and shown[3] - shown[1] > 20
    for button in ("#btn-accept", "#btn-reject", "#btn-ignore", "#btn-undo"):
        assert inside(rect_of(page, button), window(page), slack=0), button
        assert not meets(shown, rect_of(page, button), slack=0), button
    assert not meets(shown, rect_of(page, "#card"), slack=0)

    with ServedRecipe(args, env, port):  # the open app finds it back on its own
        page.wait_for_function("() => document.getElementById('banner').textContent === 'All 2 answers saved'",
                               timeout=10_000)
        assert page.evaluate("window.vnerteach.outbox.size") == 0
        page.screenshot(path=str(tmp_path / "banner_saved.png"))
        page.wait_for_function("() => document.getElementById('banner').hidden", timeout=8_000)
    examples = db_out(cli, "gone", tmp_path)
    assert [(e["text"], e["answer"]) for e in examples] == [("Sentence 0 from Acme", "accept"),
                                                            ("Sentence 1 from Acme", "reject")]


def test_a_folder_of_documents_shows_its_progress_as_a_share_of_its_pages(page, env, tmp_path):
    import pymupdf

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, texts in (("a.pdf", ["Invoice from Acme", "Second page of a"]), ("b.pdf", ["Receipt from Bolt"])):
        doc = pymupdf.open()
        for text in texts:
            doc.new_page().insert_text((72, 100), text, fontsize=18)
        doc.save(docs / name)
        doc.close()
    text_image(["Scanned note from Cyan Ltd"], size=(900, 200), fontsize=16).save(docs / "c.png")
    with served_app(page, ["ner.manual", "pages", "blank:en", docs, "--label", "ORG"], env, first="Invoice"):
        assert page.locator("#progress-text").inner_text().startswith("0% (0 of 4)")
        for n, start in enumerate(["Invoice", "Second", "Receipt", "Scanned"], start=1):
            wait_for_task(page, start)
            page.keyboard.press("a")
            pct = round(100 * n / 4)
            page.wait_for_function("t => document.getElementById('progress-text').textContent.startsWith(t)",
                                   arg=f"{pct}% ({n} of 4)")
            if n == 1:
                wait_image(page, decoded=True)
                page.screenshot(path=str(tmp_path / "progress_pages.png"))
            page.wait_for_timeout(300)  # the bar's width is animated
            bar, fill = page.locator("#progress").bounding_box(), page.locator("#progress-fill").bounding_box()
            assert abs(fill["width"] / bar["width"] - n / 4) < 0.02
        wait_saved(page)


def test_loading_the_next_task_says_which_page_ocr_is_running_on(page, env, tmp_path):
    scan, _ = scanned_page(dpi=300, lines=28)
    image_only_pdf(tmp_path / "scan.pdf", [scan, scan])
    args = ["ner.manual", "scans", "blank:en", tmp_path / "scan.pdf", "--label", "ORG", "--workers", "1", "--dpi", "300"]
    with served_app(page, args, env):
        page.wait_for_selector(".card .waiting >> text=OCR is running on scan.pdf page 1")
        assert page.locator(".card").inner_text().startswith("Loading the next task")
        page.screenshot(path=str(tmp_path / "waiting_ocr.png"))
        page.wait_for_function("() => window.vnerteach.current && window.vnerteach.current.task.meta.page === 1",
                               timeout=30_000)
        assert page.locator(".card .waiting").count() == 0


def test_the_teach_card_shows_a_pattern_or_a_score_once_and_the_history_where_a_span_is(page, env, tmp_path):
    import pymupdf

    pdf = tmp_path / "inv.pdf"
    doc = pymupdf.open()
    for i in range(3):
        pdf_page = doc.new_page()
        for j, line in enumerate(["Invoice from Acme GmbH in Berlin", f"Customer Bolt Ltd number {i}",
                                  "Total due 9.00 EUR to Cyan AG"]):
            pdf_page.insert_text((72, 100 + 30 * j), line, fontsize=16)
    doc.save(pdf)
    doc.close()
    patterns = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "ORG", "pattern": "Acme"}])
    args = ["ner.teach", "teach", "blank:en", pdf, "--label", "ORG,PERSON", "--patterns", patterns]
    with served_app(page, args, env):
        page.wait_for_selector(".card .pattern", timeout=30_000)
        card = page.locator(".card")
        assert page.locator(".card-head").inner_text() == "ORG\nAcme\npattern patterns.jsonl:1"  # label, span text, its pattern
        assert page.locator(".tag").inner_text() == "ORG"
        assert "0.00" not in card.inner_text() and page.locator(".card .score").count() == 0
        wait_image(page, decoded=True)
        page.screenshot(path=str(tmp_path / "teach_pattern.png"))
        page.keyboard.press("a")

        entry = page.locator("#history .hist").first
        assert entry.locator(".hist-span").inner_text() == "Acme" and entry.locator(".hist-label").inner_text() == "ORG"
        assert entry.locator(".hist-where").inner_text() == "inv.pdf · page 1"

        for _ in range(3):  # the other pages' pattern matches may come first
            page.wait_for_function("() => window.vnerteach.current", timeout=30_000)
            if not page.evaluate("window.vnerteach.current.task.spans[0].pattern"):
                break
            page.keyboard.press("a")
            page.wait_for_timeout(100)
        # the blank model's own question: no score until it has learnt enough (never "score 1.00" from noise)
        assert page.evaluate("window.vnerteach.current.task.spans[0].score") is None
        assert page.locator(".card .score").inner_text() == "no score yet"
        assert "1.00" not in card.inner_text() and "0.00" not in card.inner_text()
        assert page.locator(".card .pattern").count() == 0
        page.screenshot(path=str(tmp_path / "teach_model.png"))
        progress = page.locator("#progress-text").inner_text()
        assert re.match(r"~\d+% · \d+ questions from \d+ candidates · \d+ this session", progress), progress
        span_text = page.evaluate("(() => { const t = window.vnerteach.current.task, s = t.spans[0];"
                                  " return t.text.slice(s.start, s.end); })()")
        page.keyboard.press("x")
        wait_saved(page)
        entry = page.locator("#history .hist").first
        assert entry.locator(".hist-span").inner_text() == span_text
        assert re.fullmatch(r"inv\.pdf · page [123]", entry.locator(".hist-where").inner_text())
        page.screenshot(path=str(tmp_path / "teach_history.png"))


def label_colours_in_app(page) -> dict[str, tuple[int, int, int]]:
    """The colour of each label button's swatch as Chromium paints it."""
    return {b.locator(".label-name").inner_text(): css_rgb(b.evaluate("e => getComputedStyle(e, '::before').backgroundColor"))
            for b in page.locator(".label-btn").all()}


def test_a_label_has_one_colour_whatever_the_order_of_labels_and_in_drawn_exports(page, cli, env, tmp_path):
    img = tmp_path / "img"
    task = page_task(["Invoice from Acme GmbH"], img, name="inv.png")
    install_in_cache(task, img, tmp_path / "home")
    src = write_jsonl(tmp_path / "pages.jsonl", [task])
    seen = []
    for order in ("ALPHA,BETA", "BETA,ALPHA"):
        args = ["ner.manual", f"colours-{len(seen)}", "blank:en", src, "--label", order]
        with served_app(page, args, env, first="Invoice"):
            seen.append(label_colours_in_app(page))
            if len(seen) == 2:  # mark Acme with ALPHA and keep the answer for the export
                page.locator(".label-btn", has_text="ALPHA").click()
                page.locator(f'.box[data-i="{next(t["id"] for t in task["tokens"] if t["text"] == "Acme")}"]').click()
                tag = css_rgb(page.locator(".tag").evaluate("e => getComputedStyle(e).backgroundColor"))
                page.screenshot(path=str(tmp_path / "colours_app.png"))
                page.keyboard.press("a")
                wait_saved(page)
    assert seen[0] == seen[1] == {label: rgb(c) for label, c in label_colours(["ALPHA", "BETA"]).items()}
    assert seen[0]["ALPHA"] != seen[0]["BETA"] and tag == seen[1]["ALPHA"]

    drawn = tmp_path / "drawn"
    boxes = tmp_path / "boxes.jsonl"
    result = cli("db-out", "colours-1", boxes, "--format", "boxes", "--draw", drawn)
    assert result.exit_code == 0, result.stderr
    (entity,) = json.loads(boxes.read_text())["entities"]
    x0, y0, x1, y1 = (round(v) for v in entity["boxes"][0])
    with Image.open(drawn / "inv-p1.png") as image:
        assert image.convert("RGB").getpixel((x0 - 1, (y0 + y1) // 2)) == seen[1]["ALPHA"]  # the box's outline


def test_the_app_and_the_exports_compute_the_same_colour_for_any_label(page, env, tmp_path):
    labels = ["ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY", "A", "B", "Ölfirma", "人名", "😀 EMOJI", "", "x" * 300]
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Apple"}])
    with served_app(page, ["mark", "vector", src, "--view-id", "text"], env, first="Apple"):
        in_app = page.evaluate("labels => import('/static/util.js').then((m) => labels.map(m.labelColor))", labels)
        sets = [["QUESTION", "ANSWER", "HEADER"], ["COMPANY", "ADDRESS", "DATE", "TOTAL"], labels[:-1],
                ["ORG", "PERSON", "GPE", "LOC", "DATE", "MONEY", "NORP", "FAC", "EVENT", "LAW", "WORK_OF_ART"]]
        of_sets = page.evaluate("""sets => import('/static/util.js').then((m) => sets.map((s) => {
          const colour = m.labelColors(s, {A: '#123456'}); return s.map(colour); }))""", sets)
    assert in_app == [label_colour(label) for label in labels]
    # the colours of a label set (issue 23 point 12): the app and the exports choose the same
    assert of_sets == [[label_colours(s, {"A": "#123456"})[label] for label in s] for s in sets]
