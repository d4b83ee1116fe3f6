"""The web API in-process through WSGI: routes, answers, limits, tokens, images and path safety."""

from __future__ import annotations

import json
import socket

import pytest
from helpers import doc_options

from vnerteach.web import wsgi_server
from vnerteach.loop.controller import Controller
from vnerteach.errors import UsageError, VnerteachError
from vnerteach.web.images import folder_images
from vnerteach.web.server import make_app, serve
from vnerteach.web.wsgi_server import bind, is_loopback

from helpers.web import page_task, wsgi


def controller(store, tasks, view_id="ner_manual", **extra):
    return Controller(store, {"dataset": "news", "stream": iter(tasks), "view_id": view_id,
                              "config": {"labels": ["ORG", "PERSON"]}, "total": len(tasks), **extra}, wait_s=5, fill_s=5)


TEXTS = [{"text": "Apple buys <script>alert(1)</script>"}, {"text": "Tim Cook smiles"}, {"text": "Nothing"}]


@pytest.fixture
def app(store):
    c = controller(store, [dict(t) for t in TEXTS])
    yield make_app(c)
    c.close()


def test_project_questions_answers_round_trip(app, store):
    code, project = wsgi(app, "GET", "/api/project")
    assert code == 200
    assert project["dataset"] == "news" and project["view_id"] == "ner_manual"
    assert project["labels"] == ["ORG", "PERSON"] and project["progress"]["total"] == 3
    session = project["session"]
    code, body = wsgi(app, "GET", f"/api/questions?session={session}&n=2")
    assert code == 200 and [t["text"] for t in body["tasks"]] == [TEXTS[0]["text"], TEXTS[1]["text"]]
    task = body["tasks"][0]
    answer = {**task, "answer": "accept", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}
    code, body = wsgi(app, "POST", "/api/answers", {"session": session, "answers": [answer]})
    assert code == 200 and body["saved"] == 1 and body["added"] == 1
    assert body["progress"]["answered"] == 1 and body["progress"]["dataset"] == 1
    [stored] = store.iter_examples("news")
    assert stored["spans"][0]["label"] == "ORG" and stored["_session_id"] == session
    assert stored["text"] == TEXTS[0]["text"]  # the characters, unchanged; the browser renders them as text


def test_answers_are_idempotent_and_replaced(app, store):
    session = wsgi(app, "GET", "/api/project")[1]["session"]
    task = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
    payload = {"session": session, "answers": [{**task, "answer": "accept", "_timestamp": 1}]}
    assert wsgi(app, "POST", "/api/answers", payload)[1]["added"] == 1
    assert wsgi(app, "POST", "/api/answers", payload)[1]["unchanged"] == 1
    payload["answers"][0]["answer"] = "reject"
    assert wsgi(app, "POST", "/api/answers", payload)[1]["replaced"] == 1
    assert [e["answer"] for e in store.iter_examples("news")] == ["reject"]


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "expected an object"),
    (json.dumps({"session": "news-s", "answers": {"text": "x"}}).encode(), "'answers' must be a list"),
    (json.dumps({"session": "", "answers": []}).encode(), "'session' must be"),
    (json.dumps({"session": "news", "answers": []}).encode(), "is not a session of dataset 'news'"),
    (json.dumps({"session": "s", "answers": []}).encode(), "is not a session of dataset 'news'"),
])
def test_malformed_payloads_get_400_with_a_reason(app, store, body, reason):
    code, data = wsgi(app, "POST", "/api/answers", body, headers={"Content-Type": "application/json"})
    assert code == 400 and reason in data["error"]
    assert "news" not in store or store.count("news") == 0  # nothing stored


def test_an_invalid_answer_is_refused_with_its_reason_and_the_rest_stored(app, store):
    session = wsgi(app, "GET", "/api/project")[1]["session"]
    task = wsgi(app, "GET", "/api/questions?n=1")[1]["tasks"][0]
    payload = {"session": session, "answers": [{"text": "x", "answer": "accept"}, {**task, "answer": "accept"}]}
    code, data = wsgi(app, "POST", "/api/answers", payload)
    assert code == 200 and (data["saved"], data["refused"]) == (1, 1)
    assert data["results"][0]["status"] == "refused" and "'_input_hash' must be" in data["results"][0]["reason"]
    assert data["results"][1] == {"status": "stored"} and store.count("news") == 1


def test_body_limit_content_type_and_length(store):
    c = controller(store, [])
    app = make_app(c, max_body=1000)
    big = {"session": "news-s", "answers": [{"text": "x" * 2000}]}
    code, data = wsgi(app, "POST", "/api/answers", big)
    assert code == 413 and "limit" in data["error"] and data["max_body"] == 1000
    code, data = wsgi(app, "POST", "/api/answers", b'{"answers": []}', headers={"Content-Type": "text/plain"})
    assert code == 415  # a cross-site form or no-cors fetch cannot post answers
    assert "news" not in store or store.count("news") == 0


def test_access_token_is_required_on_every_api_call(store, tmp_path):
    task = page_task(["Acme GmbH"], tmp_path / "img")
    c = controller(store, [task])
    app = make_app(c, access_token="s3cret", images=folder_images(tmp_path / "img"))
    key = task["meta"]["image_key"]
    for method, path in (("GET", "/api/project"), ("GET", "/api/questions?n=1"), ("GET", f"/api/image/{key}")):
        assert wsgi(app, method, path)[0] == 401
        assert wsgi(app, method, path, headers={"X-Access-Token": "wrong"})[0] == 401
    assert wsgi(app, "POST", "/api/answers", {"answers": []})[0] == 401
    assert wsgi(app, "GET", "/api/project", headers={"X-Access-Token": "s3cret"})[0] == 200
    code, png = wsgi(app, "GET", f"/api/image/{key}?token=s3cret")
    assert code == 200 and png.startswith(b"\x89PNG")
    assert wsgi(app, "GET", "/")[0] == 200  # the app itself is public; its data is not


def test_host_header_is_checked_on_loopback(app, store):
    c = controller(store, [])
    guarded = make_app(c, allowed_hosts={"127.0.0.1", "localhost"})
    assert wsgi(guarded, "GET", "/api/project", headers={"Host": "127.0.0.1:8080"})[0] == 200
    assert wsgi(guarded, "GET", "/api/project", headers={"Host": "[::1]:8080"})[0] == 403
    assert wsgi(guarded, "GET", "/api/project", headers={"Host": "evil.example:8080"})[0] == 403


def test_security_headers(app):
    from wsgiref.util import setup_testing_defaults

    environ = {"PATH_INFO": "/", "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    headers = {}
    b"".join(app(environ, lambda s, h, e=None: headers.update(h)))
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_images_from_a_folder_and_paths_that_escape(store, tmp_path):
    task = page_task(["Acme GmbH"], tmp_path / "img")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG secret")
    app = make_app(controller(store, []), images=folder_images(tmp_path / "img"))
    code, png = wsgi(app, "GET", f"/api/image/{task['meta']['image_key']}")
    assert code == 200 and png.startswith(b"\x89PNG")
    for sneaky in ("../secret", "..%2fsecret", "%2e%2e%2fsecret", ".hidden", "nope"):
        code, body = wsgi(app, "GET", f"/api/image/{sneaky}")
        assert code == 404 and not (isinstance(body, bytes) and body.startswith(b"\x89PNG secret"))


def test_images_from_the_documents_cache_refuse_bad_keys(store):
    app = make_app(controller(store, []), images=doc_options().page_images())
    for key in ("../../etc/passwd", "a" * 63, "A" * 64, "0" * 64):
        code, body = wsgi(app, "GET", f"/api/image/{key}")
        assert code == 404 and (b"root:" not in body if isinstance(body, bytes) else "error" in body)


def test_a_session_serves_the_pages_of_its_own_cache_and_none_without_one(store, tmp_path):
    """Issue 24: page images and other pages of a document come from the session's cache, never from a default."""
    from helpers.documents import digital_pdf

    from vnerteach.documents import iter_pages

    digital_pdf(tmp_path / "d.pdf", pages=2, lines=1, per_line=3)
    options = doc_options(dpi=50, cache_dir=str(tmp_path / "mine"))
    key = next(iter_pages(tmp_path / "d.pdf", options)).image_key
    app = make_app(controller(store, []), images=options.page_images())
    code, other = wsgi(app, "GET", f"/api/document-page?image_key={key}&page=2")
    assert code == 200 and (other["page"], other["pages"]) == (2, 2)
    assert wsgi(app, "GET", f"/api/image/{other['image_key']}")[1].startswith(b"\x89PNG")
    assert (tmp_path / "mine" / "images" / other["image_key"][:2] / f"{other['image_key']}.png").is_file()
    elsewhere = make_app(controller(store, []), images=doc_options(cache_dir=str(tmp_path / "other")).page_images())
    assert wsgi(elsewhere, "GET", f"/api/document-page?image_key={key}&page=2")[0] == 404
    none = make_app(controller(store, []))
    for path in (f"/api/image/{key}", f"/api/document-page?image_key={key}&page=2"):
        code, body = wsgi(none, "GET", path)
        assert code == 404 and "serves no page images" in body["error"]


def test_static_files_stay_in_their_root(app):
    assert wsgi(app, "GET", "/static/app.js")[0] == 200
    for sneaky in ("/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml", "/static/..%2fpyproject.toml"):
        code, body = wsgi(app, "GET", sneaky)
        assert code in (403, 404) and b"[project]" not in body


def test_no_controller_means_503_but_the_app_loads():
    app = make_app()
    assert wsgi(app, "GET", "/")[0] == 200
    assert wsgi(app, "GET", "/api/project")[0] == 503


def test_a_failing_source_is_reported_in_questions(store):
    def broken():
        raise VnerteachError("data.jsonl:1: invalid JSON")
        yield {}

    c = controller(store, [], stream=broken())
    code, body = wsgi(make_app(c), "GET", "/api/questions?n=3")
    assert code == 200 and body["tasks"] == [] and body["error"] == "data.jsonl:1: invalid JSON"
    assert wsgi(make_app(c), "GET", "/api/questions?n=x")[0] == 400


def test_loopback_detection():
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.com", "::"))


def test_other_hosts_need_a_token(store):
    with pytest.raises(UsageError, match="--access-token"):
        serve({"dataset": "news", "stream": iter([]), "view_id": "ner_manual"}, store, host="0.0.0.0")


def test_busy_port_takes_the_next_one_or_fails_when_explicit(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(wsgi_server, "DEFAULT_PORT", port)
        srv, notes = bind(make_app(), "127.0.0.1", None)
        try:
            assert srv.server_address[1] > port and f"Port {port} is in use" in notes[0]
        finally:
            srv.server_close()
        with pytest.raises(UsageError, match=f"--port {port}: already in use"):
            bind(make_app(), "127.0.0.1", port)


def test_a_session_that_cannot_start_leaves_no_empty_dataset(store):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UsageError, match="already in use"):
            serve({"dataset": "news", "stream": iter([{"text": "a"}]), "view_id": "ner_manual"}, store,
                  port=taken.getsockname()[1])
    assert "news" not in store.datasets()
