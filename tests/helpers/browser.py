"""Headless Chromium for the browser tests: the playwright and page fixtures and what the tests do on a page.

Uses Debian's chromium (``make test`` installs it) through Python playwright. Without chromium the
tests skip, except under CI=true, where they must run. conftest.py loads this module as a plugin,
so every test file gets the fixtures; helpers are imported from here.
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from . import write_jsonl
from .needs import need
from .web import ServedRecipe, free_port

SCREEN = {"width": 1366, "height": 800}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (make test installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def playwright():
    need(_unavailable(), "browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@contextmanager
def open_page(playwright, profile: Path, viewport: dict, timeout_ms: int = 10_000, **options) -> Iterator:
    """A page in a fresh Chromium profile at ``viewport`` (``options``: playwright's, e.g. color_scheme="dark");
    console errors fail the test."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS, viewport=viewport, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text and errors.append(m.text))
    page.set_default_timeout(timeout_ms)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def browser(playwright, tmp_path):
    """A page in a fresh Chromium profile at 1400x900."""
    with open_page(playwright, tmp_path / "profile", {"width": 1400, "height": 900}) as page:
        yield page


@pytest.fixture
def screen(playwright, tmp_path):
    """A page in a fresh Chromium profile at 1366x800, the screen issue 12 was tried on."""
    with open_page(playwright, tmp_path / "profile", SCREEN, timeout_ms=15_000) as page:
        yield page


@contextmanager
def served_app(page, args: list, env: dict, *, first: str | None = None, port: int | None = None,
               headers: dict | None = None) -> Iterator[ServedRecipe]:
    """`vnerteach ARGS` served (on ``port``, else a free one) with its app open in ``page`` (open_app); the recipe is
    stopped after, its ``result`` kept."""
    with ServedRecipe(args, env, port or free_port(), headers) as served:
        open_app(page, served, first)
        yield served


@contextmanager
def served_in_new_page(playwright, profile: Path, viewport: dict, args: list, env: dict, *, first: str | None = None,
                       **options) -> Iterator[tuple[ServedRecipe, Any]]:
    """As served_app, in a page of its own (open_page with ``options``) that is closed before the recipe stops:
    (the served recipe, the page)."""
    with ServedRecipe(args, env, free_port()) as served, open_page(playwright, profile, viewport, **options) as page:
        open_app(page, served, first)
        yield served, page


def open_app(page, served: ServedRecipe, first: str | None = None) -> None:
    """Open the served recipe's app in ``page``; with ``first``, wait until a question starting so is shown."""
    page.goto(served.url + "/")
    if first is not None:
        wait_for_task(page, first)


def current_text(page) -> str:
    return page.evaluate("window.vnerteach.current ? window.vnerteach.current.task.text : null")


def wait_for_task(page, start: str) -> None:
    page.wait_for_function("s => window.vnerteach.current && window.vnerteach.current.task.text.startsWith(s)", arg=start)


def wait_image(page, decoded: bool = False) -> None:
    """Until the page image is loaded; with ``decoded``, decoded too (that is asynchronous), so a screenshot shows it."""
    page.wait_for_function("() => { const i = document.querySelector('.page-img'); return i && i.complete && i.naturalWidth > 0; }")
    if decoded:
        page.evaluate("document.querySelector('.page-img').decode()")


def wait_saved(page) -> None:
    page.wait_for_function("() => window.vnerteach.outbox && window.vnerteach.outbox.size === 0 "
                           "&& document.body.dataset.conn === 'saved'", timeout=15_000)


def token(page, text: str):
    return page.locator(".text-view .tok").filter(has_text=re.compile(f"^{re.escape(text)}$")).first


def word_box(page, task: dict, text: str):
    """The box drawn over the page task's word ``text``."""
    i = next(t["id"] for t in task["tokens"] if t["text"] == text)
    return page.locator(f'.box[data-i="{i}"]')


def drag(page, source, target, steps: int = 6) -> None:
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=steps)
    page.mouse.up()


def spans_of(example: dict) -> list[tuple[str, str]]:
    return [(example["text"][s["start"]:s["end"]], s["label"]) for s in example.get("spans", [])]


def evaluate_in_app(page, env: dict, tmp_path: Path, script: str):
    """Open the app of a ner.manual server on two sentences, run ``script`` in it, and return its result."""
    src = write_jsonl(tmp_path / "app.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(2)])
    with served_app(page, ["ner.manual", "app", "blank:en", src, "--label", "ORG"], env, first="Sentence 0"):
        return page.evaluate(script)


def db_out(cli, dataset: str, tmp_path: Path) -> list[dict]:
    out = tmp_path / f"{dataset}.jsonl"
    result = cli("db-out", dataset, out)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


# Geometry: a rect is [left, top, right, bottom] in CSS pixels of the window.


def rect(box: dict) -> list[float]:
    """A bounding box as playwright gives it (x, y, width, height) as a rect."""
    return [box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]]


def rect_of(page, selector: str) -> list[float]:
    """The rect of the first element ``selector`` finds."""
    return rect(page.locator(selector).first.bounding_box())


def window(page) -> list[float]:
    """The rect of the page's viewport."""
    return [0, 0, page.viewport_size["width"], page.viewport_size["height"]]


def centre(r: list[float]) -> tuple[float, float]:
    return (r[0] + r[2]) / 2, (r[1] + r[3]) / 2


def inside(inner: list[float], outer: list[float], slack: float = 0.5) -> bool:
    """``inner`` lies within ``outer``, give or take ``slack`` px on each side."""
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def meets(a: list[float], b: list[float], slack: float = 0.5) -> bool:
    """The two rects overlap by more than ``slack`` px both across and down (touching edges do not meet)."""
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


# The page view: what the annotator sees of the current page, in CSS pixels of the window.
VIEW_GEOMETRY = """() => {
  const v = window.vnerteach.current.view, vp = v.viewport.getBoundingClientRect();
  const visible = [Math.max(0, vp.left), Math.max(0, vp.top), Math.min(innerWidth, vp.left + v.viewport.clientWidth),
                   Math.min(innerHeight, vp.top + v.viewport.clientHeight)];
  const rect = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {visible, stage: rect(v.stage), zoom: v.zoom,
          spans: [...document.querySelectorAll('.box.ent')].map(rect),
          words: [...document.querySelectorAll('.box')].map((b) => [Number(b.dataset.i), rect(b)]),
          tags: [...document.querySelectorAll('.tag')].map((t) => ({rect: rect(t), span: Number(t.dataset.span),
                  shown: getComputedStyle(t).visibility === 'visible'}))};
}"""


def view_geometry(page) -> dict:
    """The page view's visible part, stage, zoom, spans, words and tags (VIEW_GEOMETRY)."""
    return page.evaluate(VIEW_GEOMETRY)


def wait_shown(page, answered: int) -> dict:
    """The geometry of the task shown after ``answered`` answers, once its image has loaded."""
    page.wait_for_function("n => window.vnerteach.history.length === n && window.vnerteach.current", arg=answered)
    wait_image(page)
    return view_geometry(page)


def page_point(page, x: float, y: float) -> tuple[float, float]:
    """Where a point of the page (page pixels) is in the window."""
    return tuple(page.evaluate("([x, y]) => { const v = window.vnerteach.current.view, r = v.stage.getBoundingClientRect();"
                               " return [r.left + x * v.zoom, r.top + y * v.zoom]; }", [x, y]))


def draw(page, box: list[float]) -> None:
    """Scroll a page rectangle into the middle of the view and drag the mouse across it."""
    page.evaluate("([x, y]) => { const v = window.vnerteach.current.view, vp = v.viewport, r = v.stage.getBoundingClientRect(),"
                  " w = vp.getBoundingClientRect(); vp.scrollLeft += r.left + x * v.zoom - (w.left + vp.clientWidth / 2);"
                  " vp.scrollTop += r.top + y * v.zoom - (w.top + vp.clientHeight / 2); }",
                  [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    a, b = page_point(page, box[0], box[1]), page_point(page, box[2], box[3])
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=8)
    page.mouse.up()
