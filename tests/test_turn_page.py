"""Issue 22 point 3: the rotate key's endpoint, POST /api/turn-page: the question on screen read again turned a further
90 degrees, answered as the same question with the annotator's rotation; guarded and refused like the other calls."""

from __future__ import annotations

import pytest

from helpers import doc_options
from helpers.documents import drawn_page

from vnerteach.loop.controller import Controller
from vnerteach.documents import iter_pages, page_task
from vnerteach.web.server import make_app
from vnerteach.tasks import set_hashes
from helpers.web import wsgi


def served(store, tasks, turn=True):
    options = doc_options(workers=1)
    components = {"dataset": "pages", "stream": iter(tasks), "view_id": "ner_manual",
                  "config": {"labels": ["TOTAL"]}, **({"turn_page": options.page_turner()} if turn else {})}
    controller = Controller(store, components)
    return controller, make_app(controller, images=options.page_images())


@pytest.mark.slow
def test_a_page_is_turned_read_again_and_answered_with_its_rotation(store, tmp_path):
    sideways = drawn_page(tmp_path / "p.png", turned_ccw=90)
    task = set_hashes(page_task(next(iter_pages(sideways, doc_options(workers=1, turn=False)))))
    assert "INVOICE" not in task["text"]  # read as it is, on its side: not read
    controller, app = served(store, [task, set_hashes({"text": "a plain text"})])
    try:
        code, body = wsgi(app, "GET", "/api/questions?n=2")
        asked = body["tasks"][0]
        code, body = wsgi(app, "POST", "/api/turn-page", {"task_hash": asked["_task_hash"]})
        assert code == 200, body
        turned = body["task"]
        assert (turned["_task_hash"], turned["_input_hash"]) == (asked["_task_hash"], asked["_input_hash"])
        assert turned["meta"]["rotation"] == 90 and turned["meta"]["rotation_source"] == "annotator"
        assert "INVOICE NUMBER 20417" in turned["text"] and turned["spans"] == []
        assert (turned["width"], turned["height"]) == (900, 520)
        code, image = wsgi(app, "GET", f"/api/image/{turned['meta']['image_key']}")
        assert code == 200 and image[:8] == b"\x89PNG\r\n\x1a\n"
        total = next(t for t in turned["tokens"] if t["text"] == "148.50")
        answer = {**turned, "answer": "accept",
                  "spans": [{"start": total["start"], "end": total["end"], "token_start": total["id"],
                             "token_end": total["id"], "label": "TOTAL"}]}
        code, body = wsgi(app, "POST", "/api/answers", {"answers": [answer]})
        assert code == 200 and body["saved"] == 1, body
        # Refused, and said why: a text, an unknown question, a malformed body, a call not from the app.
        text = wsgi(app, "POST", "/api/turn-page", {"task_hash": body_of_text(app)})
        assert text[0] == 400 and "only a page" in text[1]["error"]
        code, body = wsgi(app, "POST", "/api/turn-page", {"task_hash": "12345"})
        assert code == 400 and "not waiting for an answer" in body["error"]
        assert wsgi(app, "POST", "/api/turn-page", {"hash": 1})[0] == 400
        assert wsgi(app, "POST", "/api/turn-page", {"task_hash": "x" * 5000})[0] == 413
        assert wsgi(app, "POST", "/api/turn-page", {"task_hash": asked["_task_hash"]}, as_app=False)[0] == 403
    finally:
        controller.close()
    [stored] = list(store.iter_examples("pages"))
    assert stored["meta"]["rotation"] == 90 and stored["meta"]["rotation_source"] == "annotator"
    assert [stored["text"][s["start"]:s["end"]] for s in stored["spans"]] == ["148.50"]


def body_of_text(app) -> str:
    """The task hash of the plain-text question handed out."""
    return next(t["_task_hash"] for t in wsgi(app, "GET", "/api/questions?n=5&restart=1")[1]["tasks"]
                if "tokens" not in t or not t.get("meta", {}).get("image_key"))


def test_a_recipe_that_turns_no_pages_says_so(store, tmp_path):
    task = set_hashes(page_task(next(iter_pages(drawn_page(tmp_path / "p.png"), doc_options(workers=1)))))
    controller, app = served(store, [task], turn=False)
    try:
        asked = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
        code, body = wsgi(app, "POST", "/api/turn-page", {"task_hash": asked["_task_hash"]})
        assert code == 400 and "cannot be turned" in body["error"]
    finally:
        controller.close()
