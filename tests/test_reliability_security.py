"""Issue 11, points 10 and 11: pages of other origins, links planted in the page cache, database passwords."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import ROOT, write_jsonl
from helpers.browser import evaluate_in_app, served_app, wait_for_task, wait_saved
from helpers.web import APP_HEADER, ServedRecipe, app_key, free_port, http, install_in_cache, page_task

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


FOREIGN_PAGE = """<!doctype html><title>elsewhere</title><script>
(async () => {
  const target = "%s", log = [];
  for (let i = 0; i < 3; i++) {
    try { log.push((await fetch(target + "/api/questions?n=100", { mode: "no-cors" })).type); }
    catch (e) { log.push("failed"); }
  }
  try { await fetch(target + "/api/questions?n=100", { headers: { "X-Vnerteach-App": "a guess" } }); log.push("read"); }
  catch (e) { log.push("blocked"); }
  window.done = log;
})();
</script>"""


def serve_page(html: str) -> ThreadingHTTPServer:
    """A page of another origin: another port on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def remaining_questions(page) -> list[str]:
    """Every question the app can still get, asked through its own API object."""
    return page.evaluate("""async () => {
      const app = window.vnerteach, texts = [];
      for (let i = 0; i < 20; i++) {
        const res = await app.api.questions(app.project.session, 100, false);
        texts.push(...res.tasks.map(t => t.text));
        if (!res.tasks.length && res.progress.done) break;
      }
      return texts;
    }""")


def test_a_page_of_another_origin_cannot_take_the_sessions_questions(browser, env, tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(40)])
    args = ["ner.manual", "news", "blank:en", src, "--label", "ORG"]
    with served_app(browser, args, env, first="Sentence 0") as served:  # the app holds its first batch of 10
        foreign = serve_page(FOREIGN_PAGE % served.url)
        try:
            other = browser.context.new_page()
            other.goto(f"http://127.0.0.1:{foreign.server_address[1]}/")
            other.wait_for_function("window.done", timeout=30_000)
            assert other.evaluate("window.done") == ["opaque", "opaque", "opaque", "blocked"]
            other.close()
            assert remaining_questions(browser) == [f"Sentence {i} from Acme" for i in range(10, 40)]
        finally:
            foreign.shutdown()


def test_api_calls_without_the_app_key_or_from_another_origin_are_refused(env, tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(5)])
    served = ServedRecipe(["ner.manual", "news", "blank:en", src, "--label", "ORG"], env, free_port())
    try:
        url = served.url
        key = app_key(url)
        assert key and len(key) >= 20
        assert http("GET", url + "/api/questions?n=5", as_app=False)[0] == 403
        assert http("GET", url + "/api/project", as_app=False)[0] == 403
        code, body = http("POST", url + "/api/answers", {"session": "s", "answers": []}, as_app=False)
        assert code == 403 and APP_HEADER in body["error"]
        assert http("GET", url + "/api/questions?n=5", headers={APP_HEADER: key[:-1] + "x"})[0] == 403
        for foreign in ({"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Origin": "http://127.0.0.1:1"}, {"Origin": "null"}):
            assert http("GET", url + "/api/questions?n=5", headers=foreign)[0] == 403, foreign
        own = {"Sec-Fetch-Site": "same-origin", "Origin": url}
        code, body = http("GET", url + "/api/questions?n=5", headers=own)
        assert code == 200 and [t["text"] for t in body["tasks"]][0] == "Sentence 0 from Acme"  # none handed out before
    finally:
        served.stop()


def test_an_open_tab_reads_the_new_app_key_after_the_server_restarts(browser, cli, env, tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": f"Sentence {i} from Acme"} for i in range(4)])
    port = free_port()
    args = ["ner.manual", "restart", "blank:en", src, "--label", "ORG"]
    with served_app(browser, args, env, first="Sentence 0", port=port):
        browser.keyboard.press("a")
        wait_saved(browser)
    wait_for_task(browser, "Sentence 1")
    browser.keyboard.press("x")
    browser.wait_for_function("() => document.body.dataset.conn === 'offline'")
    with ServedRecipe(args, env, port):  # a new key; the tab holds the old one
        wait_saved(browser)
    result = cli("db-out", "restart")
    assert result.exit_code == 0 and result.stdout.count('"answer"') == 2


RACE_403 = """async () => {
  const api = window.vnerteach.api, send = window.fetch, log = [];
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  window.fetch = async (url, init) => {
    const res = await send(url, init);
    if (String(url).includes("probe=late")) {
      log.push(res.status);
      if (log.length === 1) await gate;  // its 403 is read after the other request renewed the key
    }
    return res;
  };
  api.appKey = "the key of a server that has restarted";
  const outcome = (p) => p.then(() => "ok", (err) => String(err.status || err));
  const late = outcome(api.request("GET", "/api/project?probe=late"));
  const first = await outcome(api.request("GET", "/api/project?probe=first"));
  release();
  const result = {first, late: await late, statuses: log};
  window.fetch = send;
  return result;
}"""


def test_a_request_refused_with_the_old_key_after_another_renewed_it_is_sent_again(browser, env, tmp_path):
    """Two requests sent with a restarted server's old key: the one read second is not a failure (it was, and the
    outbox then halved its batches)."""
    result = evaluate_in_app(browser, env, tmp_path, RACE_403)
    assert result == {"first": "ok", "late": "ok", "statuses": [403, 200]}


def test_a_link_planted_in_the_page_cache_is_not_served(env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"\x89PNG secret outside the cache")
    images = tmp_path / "home" / "cache" / "images"
    file_key, folder_key = "ab" + "0" * 62, "cd" + "0" * 62
    (images / "ab").mkdir(parents=True)
    (images / "ab" / f"{file_key}.png").symlink_to(outside / "secret.png")
    (outside / f"{folder_key}.png").write_bytes(b"\x89PNG secret outside the cache")
    (images / "cd").symlink_to(outside, target_is_directory=True)
    page = page_task(["Total 9.00"], tmp_path / "img")
    install_in_cache(page, tmp_path / "img", tmp_path / "home")
    src = write_jsonl(tmp_path / "tasks.jsonl", [page])
    served = ServedRecipe(["mark", "check", src, "--view-id", "image"], env, free_port())
    try:
        for key in (file_key, folder_key):
            try:
                with urllib.request.urlopen(f"{served.url}/api/image/{key}") as r:
                    code, body = r.status, r.read()
            except urllib.error.HTTPError as err:
                code, body = err.code, err.read()
            assert code == 404 and b"secret" not in body, (key, code, body)
        with urllib.request.urlopen(f"{served.url}/api/image/{page['meta']['image_key']}") as r:
            assert r.read().startswith(b"\x89PNG")  # the cache's own images are served
    finally:
        served.stop()


def test_a_database_password_is_never_shown(env):
    url = "postgresql://annotator:hunter2@127.0.0.1:9/vnerteach"
    result = subprocess.run([sys.executable, "-m", "vnerteach", "stats", "--db", url], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, **env})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "postgresql://annotator:***@127.0.0.1:9/vnerteach" in result.stderr
    from vnerteach.store.backend import masked

    assert masked(f"connect {url} failed; {url}") == ("connect postgresql://annotator:***@127.0.0.1:9/vnerteach failed; "
                                                      "postgresql://annotator:***@127.0.0.1:9/vnerteach")
    assert masked("/data/vnerteach.db and sqlite:///data/x.db") == "/data/vnerteach.db and sqlite:///data/x.db"
