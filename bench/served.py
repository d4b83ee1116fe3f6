"""A recipe's web server driven from outside, as the benches do: started as a user starts it, called over HTTP.

A copy of the helpers of tests/web_fixtures.py and tests/conftest.py that the benches use (benches do not
import from tests/).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from http import client as http_client
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_HEADER = "X-Vnerteach-App"
APP_META = re.compile(r'<meta name="vnerteach-app" content="([^"]*)"')
_app_keys: dict[str, str | None] = {}  # by server address: the key its app page carries


def write_jsonl(path: Path, tasks: list[dict]) -> Path:
    """Write tasks as JSONL and return the path."""
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf8")
    return path


def install_in_cache(task: dict, folder: Path, home: Path) -> None:
    """Put a page task's PNG where ``vnerteach.documents.page_image`` finds it under ``$VNERTEACH_HOME``."""
    from vnerteach.documents import PageCache, default_cache_dir

    old = os.environ.get("VNERTEACH_HOME")
    os.environ["VNERTEACH_HOME"] = str(home)
    try:
        path = PageCache(default_cache_dir()).image_path(task["meta"]["image_key"])
    finally:
        if old is None:
            del os.environ["VNERTEACH_HOME"]
        else:
            os.environ["VNERTEACH_HOME"] = old
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((folder / f"{task['meta']['image_key']}.png").read_bytes())


def app_key_in(page: bytes | str) -> str | None:
    """The per-server key that the app's page carries (the browser sends it in X-Vnerteach-App)."""
    found = APP_META.search(page.decode() if isinstance(page, bytes) else page)
    return found.group(1) if found else None


def raw_http(port: int, request: bytes) -> tuple[int, bytes]:
    """Send a request's exact bytes to a server on loopback (headers no client library would send): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def free_port() -> int:
    """A TCP port that is free right now on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_key(base: str, refresh: bool = False) -> str | None:
    """The app key of the server at ``base`` (http://HOST:PORT), read from its page as a browser does."""
    if refresh or base not in _app_keys:
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            _app_keys[base] = app_key_in(response.read())
    return _app_keys[base]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 10, as_app: bool = True) -> tuple[int, dict]:
    """A real HTTP call: (status, JSON); ``as_app`` sends the app's key as the served page would, and reads
    the page again once if the server says the key is out of date (a new server on a port used before)."""
    base, _, path = url.partition("/api/")
    key = app_key(base) if as_app and path else None
    status, answer = _call(method, url, body, {**({APP_HEADER: key} if key else {}), **(headers or {})}, timeout)
    if key and status == 403 and isinstance(answer, dict) and APP_HEADER in str(answer.get("error")):
        key = app_key(base, refresh=True)
        status, answer = _call(method, url, body, {**({APP_HEADER: key} if key else {}), **(headers or {})}, timeout)
    return status, answer


def _call(method: str, url: str, body: dict | None, headers: dict, timeout: float) -> tuple[int, dict]:
    """One HTTP request: (status, decoded JSON, or the error page's text under "error")."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"null")
        except ValueError:  # an error page that is not JSON (e.g. bottle's 500)
            return err.code, {"error": raw.decode(errors="replace")}


class ServedRecipe:
    """`vnerteach RECIPE ...` in a child process, as a user starts it; waits until it answers."""

    def __init__(self, args: list[str], env: dict, port: int, headers: dict | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        _app_keys.pop(self.url, None)  # a new server on this port has a new key
        self.proc = subprocess.Popen([sys.executable, "-m", "vnerteach", *map(str, args), "--port", str(port)],
                                     cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read()}")
            try:
                if http("GET", self.url + "/api/project", headers=headers, timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("server did not start in 30 s")

    def stop(self, sig: int | None = None) -> tuple[int, str, str]:
        """Stop with a signal (default SIGTERM): (exit code, stdout, stderr)."""
        import signal

        self.proc.send_signal(signal.SIGTERM if sig is None else sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def annotate(url: str, quota: int, deadline: float, acked: list) -> Counter:
    """An annotator's app over HTTP: ask for questions, answer each in its own request, until ``quota``
    answers, the deadline, or the server is gone. Appends acknowledged task hashes to ``acked`` (shared by
    clients); returns the status of every request (``"gone"`` once the server stopped answering)."""
    statuses: Counter = Counter()
    sent = 0
    try:
        session = http("GET", url + "/api/project")[1]["session"]
        while sent < quota and time.monotonic() < deadline:
            code, body = http("GET", url + "/api/questions?n=10", timeout=30)
            statuses[code] += 1
            for task in body.get("tasks", []) if code == 200 else []:
                if sent >= quota:
                    break
                answer = {"session": session, "answers": [{**task, "answer": "accept"}]}
                code, _ = http("POST", url + "/api/answers", answer, timeout=30)
                sent += 1
                statuses[code] += 1
                if code == 200:
                    acked.append(int(task["_task_hash"]))
    except (OSError, http_client.HTTPException):
        statuses["gone"] += 1
    return statuses


def annotate_as(url: str, name: str, deadline: float, away_s: float = 0.0, batch: int = 10) -> list[int]:
    """A named annotator's app (``/?session=NAME``) answering until the server has nothing left for them.

    With ``away_s``, they take a first batch, leave it unanswered for that long (an idle browser tab)
    and come back as a reloaded app. Returns the task hashes whose answers the server acknowledged.
    """
    from urllib.parse import quote

    session = http("GET", f"{url}/api/project?session={quote(name)}")[1]["session"]
    ask = f"{url}/api/questions?session={quote(session)}&n={batch}"
    if away_s:
        http("GET", ask)
        time.sleep(away_s)
    acked, restart = [], bool(away_s)
    while time.monotonic() < deadline:
        code, body = http("GET", ask + "&restart=1" * restart, timeout=30)
        restart = False
        if code != 200:
            time.sleep(0.1)
            continue
        if not body["tasks"]:
            if body["progress"]["done"]:
                return acked
            time.sleep(0.1)  # others hold tasks still: one may go idle and leave them to us
            continue
        for task in body["tasks"]:
            code, _ = http("POST", url + "/api/answers", {"session": session, "answers": [{**task, "answer": "accept"}]},
                           timeout=30)
            if code == 200:
                acked.append(int(task["_task_hash"]))
    raise TimeoutError(f"annotator {name} was still answering at the deadline ({len(acked)} answers)")
