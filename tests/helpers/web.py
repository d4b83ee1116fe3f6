"""Helpers for the server and browser tests: page tasks with real PNGs, WSGI calls, a served recipe."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from http import client as http_client
from io import BytesIO
from pathlib import Path
from wsgiref.util import setup_testing_defaults

from PIL import Image, ImageDraw, ImageFont

from . import ROOT
APP_HEADER = "X-Vnerteach-App"
APP_META = re.compile(r'<meta name="vnerteach-app" content="([^"]*)"')
_app_keys: dict[str, str | None] = {}  # by server address: the key its app page carries
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def page_task(lines: list[str], folder: Path, page: int = 1, pages: int = 1, name: str = "scan.png",
              width: int = 1000, line_height: int = 56, size: int = 30) -> dict:
    """A page task like the documents engine makes: a PNG (saved as ``folder/<image_key>.png``) and boxed tokens."""
    height = 80 + line_height * max(1, len(lines)) + 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(size)
    tokens, offset = [], 0
    words = [(li, w) for li, line in enumerate(lines) for w in line.split()]
    x = 60
    for n, (li, word) in enumerate(words):
        if n and words[n - 1][0] != li:
            x = 60
        y = 60 + li * line_height
        draw.text((x, y), word, fill="black", font=font)
        x0, y0, x1, y1 = draw.textbbox((x, y), word, font=font)
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": n, "ws": n != len(words) - 1,
                       "bbox": [x0 - 2, y0 - 3, x1 + 2, y1 + 3]})
        offset += len(word) + 1
        x = x1 + size // 2
    png = BytesIO()
    image.save(png, format="PNG")
    sha = hashlib.sha256(png.getvalue() + name.encode()).hexdigest()
    key = hashlib.sha256(f"{sha}:{page}".encode()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.png").write_bytes(png.getvalue())
    return {"text": " ".join(w for _, w in words), "tokens": tokens, "width": width, "height": height,
            "image": f"sha256:{sha}#page={page}",
            "meta": {"path": str(folder / name), "page": page, "pages": pages, "dpi": 300, "ocr": False,
                     "image_key": key}}


def install_in_cache(task: dict, folder: Path, home: Path) -> None:
    """Put a page task's PNG where a recipe run with ``$VNERTEACH_HOME`` at ``home`` finds it (its page cache)."""
    from vnerteach.documents import PageCache

    path = PageCache(Path(home) / "cache").image_path(task["meta"]["image_key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((folder / f"{task['meta']['image_key']}.png").read_bytes())


def installed(tasks: list[dict], folder: Path, home: Path) -> list[dict]:
    """The page tasks, their PNGs put in the page cache under ``home`` (install_in_cache)."""
    for task in tasks:
        install_in_cache(task, folder, home)
    return tasks


def app_key_in(page: bytes | str) -> str | None:
    """The per-server key that the app's page carries (the browser sends it in X-Vnerteach-App)."""
    found = APP_META.search(page.decode() if isinstance(page, bytes) else page)
    return found.group(1) if found else None


def call_wsgi(app, environ: dict) -> tuple[str, bytes]:
    """Run a WSGI app on ``environ`` as a server does, closing its body (a served file) after: (status, body)."""
    status: list[str] = []
    body = app(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        return status[0] if status else "", b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def wsgi_get(app, path: str) -> tuple[str, bytes]:
    """GET a path from a WSGI app in-process: (status line, body)."""
    environ: dict = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    return call_wsgi(app, environ)


def wsgi(app, method: str, path: str, body: bytes | dict | list | None = None,
         headers: dict | None = None, as_app: bool = True) -> tuple[int, dict | bytes]:
    """Call a WSGI app in-process: (status code, decoded JSON or raw bytes); ``as_app`` sends the app's key."""
    if as_app and path.startswith("/api/"):
        page = wsgi(app, "GET", "/", as_app=False)[1]
        key = app_key_in(page) if isinstance(page, bytes) else None
        if key:
            headers = {APP_HEADER: key, **(headers or {})}
    path, _, query = path.partition("?")
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
    environ: dict = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method,
                     "CONTENT_LENGTH": str(len(data)), "wsgi.input": BytesIO(data)}
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    for key, value in (headers or {}).items():
        name = key.upper().replace("-", "_")
        environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"] = value
    setup_testing_defaults(environ)
    status, raw = call_wsgi(app, environ)
    code = int(status.split()[0])
    try:
        return code, json.loads(raw)
    except ValueError:
        return code, raw


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
    """`vnerteach RECIPE ...` in a child process, as a user starts it; waits until it answers. As a context manager
    it stops the recipe on leaving; ``result`` then holds (exit code, stdout, stderr) for the test to check."""

    def __init__(self, args: list[str], env: dict, port: int, headers: dict | None = None):
        self.result: tuple[int, str, str] | None = None
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

    def __enter__(self) -> ServedRecipe:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Stop with a signal, once (a second call returns the first's result): (exit code, stdout, stderr)."""
        if self.result is None:
            self.proc.send_signal(sig)
            out, err = self.proc.communicate(timeout=30)
            self.result = (self.proc.returncode, out, err)
        return self.result


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
