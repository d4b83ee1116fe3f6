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
from typing import Iterator

import pytest
from conftest import write_jsonl
from needs import need
from web_fixtures import ServedRecipe, free_port

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


def current_text(page) -> str:
    return page.evaluate("window.vnerteach.current ? window.vnerteach.current.task.text : null")


def wait_for_task(page, start: str) -> None:
    page.wait_for_function("s => window.vnerteach.current && window.vnerteach.current.task.text.startsWith(s)", arg=start)


def wait_saved(page) -> None:
    page.wait_for_function("() => window.vnerteach.outbox && window.vnerteach.outbox.size === 0 "
                           "&& document.body.dataset.conn === 'saved'", timeout=15_000)


def token(page, text: str):
    return page.locator(".text-view .tok").filter(has_text=re.compile(f"^{re.escape(text)}$")).first


def box(page, task: dict, text: str):
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
    served = ServedRecipe(["ner.manual", "app", "blank:en", src, "--label", "ORG"], env, free_port())
    try:
        page.goto(served.url + "/")
        wait_for_task(page, "Sentence 0")
        return page.evaluate(script)
    finally:
        served.stop()


def db_out(cli, dataset: str, tmp_path: Path) -> list[dict]:
    out = tmp_path / f"{dataset}.jsonl"
    result = cli("db-out", dataset, out)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]
