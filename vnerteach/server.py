"""The web server: a bottle app factory (JSON API, static app, page images) and a threaded server to run it."""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import re
import secrets
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bottle import Bottle, HTTPResponse, Route, request, static_file

from .controller import AnswerError, Components, Controller
from .feed import IDLE_S
from .errors import InputError, PageImageNotFound, StoreBusy, TaskError, UsageError, VnerteachError
from .gate import Gate
from .tasks import parse_json
from .store import Store, connect

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
PORT_TRIES = 20
MAX_BODY = 16 * 1024 * 1024
MAX_REGION_BODY = 4096
TOKEN_HEADER = "X-Access-Token"
APP_HEADER = "X-Vnerteach-App"
APP_META = '<meta name="vnerteach-app" content="">'  # in index.html; filled with the server's app key
SAME_ORIGIN_FETCHES = {"same-origin", "none"}  # Sec-Fetch-Site of the app's own requests and of typed addresses
MAX_UNDO_BODY = 4096
COUNT_HEADER = "X-Answer-Count"  # how many answers a request carries: one alone over the limit is refused
IMAGE_KEY_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

ImageLookup = Callable[[str], Path]
RegionReader = Callable[[Path, object], list]  # (page image, [x0, y0, x1, y1]) -> documents.Word list


def static_dir() -> Path:
    """The web app's folder: ``vnerteach/static`` when installed, ``static/`` in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "static", package.parent / "static"):
        if (candidate / "index.html").is_file():
            return candidate
    raise VnerteachError(f"The web app's files are missing (looked in {package / 'static'}); reinstall vnerteach")


def cached_page_image(key: str) -> Path:
    """A page image from the documents cache (rendered on demand), by its image key."""
    from .documents import page_image

    return page_image(key)


def english_region_reader(image: Path, box: object) -> list:
    """A region of a page image read by Tesseract in English (recipes pass one with their --lang)."""
    from .documents import ocr_region

    return ocr_region(image, box)


def folder_images(root: str | Path) -> ImageLookup:
    """Page images as ``ROOT/<key>.png``: for tests and for images made elsewhere."""
    folder = Path(root).resolve()

    def lookup(key: str) -> Path:
        if not IMAGE_KEY_RE.match(key):
            raise VnerteachError(f"not an image key: {key[:80]!r}")
        path = (folder / f"{key}.png").resolve()
        if path.parent != folder or not path.is_file():
            raise VnerteachError(f"no page image {key}")
        return path

    return lookup


def is_loopback(host: str) -> bool:
    """Whether a host name or address only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _json(data: Any, status: int = 200) -> HTTPResponse:
    """A JSON response; never NaN or Infinity, which are not JSON and would fail the app's parser."""
    try:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as err:
        status, body = 500, json.dumps({"error": f"a response the server cannot write as JSON ({err})"})
    return HTTPResponse(body, status=status, headers={"Content-Type": "application/json; charset=utf-8",
                                                      "Cache-Control": "no-store"})


def _error(status: int, message: str) -> HTTPResponse:
    return _json({"error": message}, status)


def _json_body(what: str, max_body: int, alone: bool = False, surrogates: bool = False) -> Any:
    """The request's JSON body, or the error response that refuses it (not JSON, no length, too large, invalid)."""
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        return _error(415, f"send {what} as application/json")
    length = request.content_length
    if length < 0:
        return _error(411, "a Content-Length is required")
    if length > max_body:
        return _too_large(length, max_body, alone)
    try:
        return parse_json(request.body.read(length) or b"null", surrogates=surrogates)
    except TaskError as err:
        return _error(400, str(err))


def _too_large(length: int, max_body: int, alone: bool) -> HTTPResponse:
    """A 413 that states the limit; for a request of one answer, that answer's refusal."""
    body: dict[str, Any] = {"error": f"request body of {length} bytes is over the limit of {max_body} bytes",
                            "max_body": max_body}
    if alone:
        body["results"] = [{"status": "refused", "reason": f"the answer is {_size(length)}; the server takes "
                                                           f"at most {_size(max_body)} per request"}]
    return _json(body, 413)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} bytes"


def _host_name(header: str) -> str:
    """The host of a Host header, without port or IPv6 brackets."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _cross_origin() -> bool:
    """Whether the browser says the request comes from a page of another origin (Sec-Fetch-Site, Origin)."""
    site = _raw_header("Sec-Fetch-Site")
    if site and site.lower() not in SAME_ORIGIN_FETCHES:
        return True
    origin = _raw_header("Origin")
    if not origin:
        return False
    try:
        return urlsplit(origin).netloc.lower() != _raw_header("Host").lower()
    except ValueError:  # not a URL (an unclosed IPv6 bracket)
        return True


def _query(name: str) -> str | None:
    """A query parameter as the UTF-8 the browser sent (bottle's ``get`` gives its bytes as latin-1: "Ã¥lice")."""
    return request.query.getunicode(name)


def _raw_header(name: str) -> str:
    """A request header as WSGI has it (its bytes as latin-1): bottle's own UTF-8 decoding raises on other bytes."""
    return request.environ.get("HTTP_" + name.upper().replace("-", "_"), "")


class ApiGuard:
    """A bottle plugin checking Host header, origin, access token, app key and session; errors become JSON responses.

    The app key is made per server start and written into the app's page; the app sends it in
    X-Vnerteach-App. A page of another origin can neither read it nor send a custom header without
    a CORS preflight (which is refused), so it cannot hand itself questions or post answers.
    """

    name = "api_guard"
    api = 2

    def __init__(self, controller: Controller | None = None, access_token: str | None = None,
                 allowed_hosts: set[str] | None = None) -> None:
        self.controller = controller
        self.access_token = access_token
        self.allowed_hosts = allowed_hosts
        self.app_key = secrets.token_urlsafe(24)

    def apply(self, callback: Callable, route: Route) -> Callable:
        """The route's callback behind the checks, or as it is for a public route."""
        if route.config.get("public", False):  # route option: the app's own files need no guard
            return callback
        needs_session = route.config.get("session", True)  # route option: False serves without a session
        needs_app = route.config.get("from_app", True)  # route option: False for <img> URLs, which carry no header

        def guarded(*args, **kwargs):
            hosts = self.allowed_hosts
            if hosts is not None and _host_name(_raw_header("Host")) not in hosts:
                return _error(403, "unexpected Host header")
            if _cross_origin():
                return _error(403, "requests from pages of other sites or origins are refused")
            if self.access_token is not None:
                given = _raw_header(TOKEN_HEADER) or request.query.get("token") or ""
                if not hmac.compare_digest(given.encode("latin1", "replace"), self.access_token.encode()):
                    return _error(401, "missing or wrong access token")
            if needs_app and not hmac.compare_digest(_raw_header(APP_HEADER).encode("latin1", "replace"),
                                                     self.app_key.encode()):
                return _error(403, f"only the annotation app may call this ({APP_HEADER} missing or out of date: "
                                   "reload the page)")
            if needs_session and self.controller is None:
                return _error(503, "no annotation session is running")
            try:
                return callback(*args, **kwargs)
            except AnswerError as err:
                return _error(400, str(err))
            except StoreBusy as err:  # the app keeps the answers and sends them again
                return _error(503, str(err))
            except VnerteachError as err:
                return _error(500, str(err))

        return guarded


def make_app(controller: Controller | None = None, static_root: Path | None = None,
             images: ImageLookup | None = None, access_token: str | None = None,
             max_body: int = MAX_BODY, allowed_hosts: set[str] | None = None,
             read_region: RegionReader | None = None) -> Bottle:
    """The bottle app: the annotation app's files, the JSON API of ``controller``, page images, region OCR and turning
    a page (both through one Gate: they run OCR).

    With ``access_token``, every ``/api`` call must carry it (header X-Access-Token, or
    ``?token=`` for images). With ``allowed_hosts``, other Host headers are refused (DNS rebinding).
    Every ``/api`` call but images must carry the app key that the served page holds (X-Vnerteach-App).
    """
    root = str(static_root or static_dir())
    image_path = images or cached_page_image
    region_reader = read_region or english_region_reader
    ocr_gate = Gate()  # region OCR and pages read again turned
    app = Bottle()
    guard = ApiGuard(controller, access_token, allowed_hosts)
    app.install(guard)

    @app.hook("after_request")
    def headers():
        from bottle import response

        response.set_header("X-Content-Type-Options", "nosniff")
        response.set_header("Referrer-Policy", "no-referrer")
        response.set_header("Content-Security-Policy", CSP)

    @app.get("/", public=True)
    def index():
        page = (Path(root) / "index.html").read_text(encoding="utf-8")
        return HTTPResponse(page.replace(APP_META, APP_META.replace('content=""', f'content="{guard.app_key}"')),
                            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})

    @app.get("/static/<filename:path>", public=True)
    def static(filename: str):
        return static_file(filename, root=root)

    def project():
        assert controller is not None
        return _json({**controller.project(_query("session") or None), "max_body": max_body})

    def questions():
        assert controller is not None
        try:
            n = int(request.query.get("n") or 10)
        except ValueError:
            return _error(400, "'n' must be a number")
        session = _query("session") or None
        tasks = controller.questions(n, restart=request.query.get("restart") in ("1", "true"), session=session)
        return _json({"tasks": tasks, "progress": controller.progress(session or controller.session).as_dict(),
                      "error": controller.error, "waiting": controller.waiting})

    def answers():
        assert controller is not None
        payload = _json_body("answers", max_body, alone=_raw_header(COUNT_HEADER) == "1",
                             surrogates=True)  # refused per answer
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or "answers" not in payload:
            return _error(400, "expected an object {\"session\": ..., \"answers\": [...]}")
        return _json(controller.answer(payload["answers"], payload.get("session")))

    def about_a_question(what: str, call: Callable[[Any, Any], dict]) -> Callable[[], HTTPResponse]:
        """A route whose body names one question, ``{"session", "task_hash"}``: undo, refresh."""
        def route() -> HTTPResponse:
            payload = _json_body(what, MAX_UNDO_BODY)
            if isinstance(payload, HTTPResponse):
                return payload
            if not isinstance(payload, dict) or "task_hash" not in payload:
                return _error(400, "expected an object {\"session\": ..., \"task_hash\": ...}")
            return _json(call(payload["task_hash"], payload.get("session")))
        return route

    def history():
        assert controller is not None
        try:
            n = int(request.query.get("n") or 100)
        except ValueError:
            return _error(400, "'n' must be a number")
        return _json({"answers": controller.history(_query("session"), n)})

    def image(key: str):
        try:
            path = image_path(key)
        except VnerteachError as err:
            return _error(404, str(err))
        response = static_file(path.name, root=str(path.parent), mimetype="image/png")
        response.set_header("Cache-Control", "private, max-age=86400")
        return response

    def document_page():
        """Another page of the document of the page on screen, to look at: {image_key, page, pages, width, height}."""
        from .documents import document_page as other_page

        try:
            return _json(other_page(request.query.get("image_key") or "", int(request.query.get("page") or "")))
        except ValueError:
            return _error(400, "page must be a page number")
        except PageImageNotFound as err:
            return _error(404, str(err))
        except InputError as err:  # no such page, or the file is gone or changed
            return _error(400, str(err))

    def ocr_region():
        payload = _json_body("a region", MAX_REGION_BODY)
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or not isinstance(payload.get("image_key"), str):
            return _error(400, 'expected {"image_key": "...", "box": [x0, y0, x1, y1]}')
        try:
            path = image_path(payload["image_key"])
        except VnerteachError as err:
            return _error(404, str(err))
        with ocr_gate.enter() as inside:
            if not inside:
                return _error(429, f"region OCR is busy ({ocr_gate.at_once} at a time): try again in a moment")
            try:
                words = region_reader(path, payload.get("box"))
            except InputError as err:
                return _error(400, err.reason)
        return _json({"words": [{"text": w.text, "bbox": list(w.bbox), "conf": w.conf} for w in words]})

    def turn_page():
        """The question on screen, a page, read again turned a further 90 degrees: {"task"} (its spans dropped)."""
        assert controller is not None
        payload = _json_body("a page to turn", MAX_UNDO_BODY)
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or "task_hash" not in payload:
            return _error(400, "expected an object {\"session\": ..., \"task_hash\": ...}")
        with ocr_gate.enter() as inside:
            if not inside:
                return _error(429, f"OCR is busy ({ocr_gate.at_once} at a time): try again in a moment")
            try:
                return _json(controller.turn_page(payload["task_hash"], payload.get("session")))
            except PageImageNotFound as err:
                return _error(404, str(err))
            except InputError as err:
                return _error(400, str(err))

    app.get("/api/project", callback=project)
    app.get("/api/questions", callback=questions)
    app.post("/api/answers", callback=answers)
    app.post("/api/undo", callback=about_a_question("an undo", lambda h, s: controller.undo(h, s)))
    app.post("/api/refresh", callback=about_a_question("a refresh", lambda h, s: controller.refresh(h, s)))
    app.get("/api/history", callback=history)
    app.get("/api/image/<key>", callback=image, session=False, from_app=False)
    app.post("/api/ocr-region", callback=ocr_region)
    app.post("/api/turn-page", callback=turn_page)
    app.get("/api/document-page", callback=document_page, session=False)
    return app


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's handler without its access log on stderr (the library never prints)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server with a thread per request; closing it waits for requests in flight."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop connections that the browser closed; leave other errors to the default."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ThreadingServer6(ThreadingServer):
    """The threaded server on IPv6."""

    address_family = socket.AF_INET6


def bind(app: Bottle, host: str = DEFAULT_HOST, port: int | None = None) -> tuple[ThreadingServer, list[str]]:
    """A threaded server for ``app``, bound (not yet serving); ``port=None`` takes 8080 or the next free one.

    Returns the server and notes for the user (e.g. that 8080 was taken).
    """
    server_class = ThreadingServer6 if ":" in host else ThreadingServer
    ports = range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES) if port is None else [port]
    last: OSError | None = None
    for candidate in ports:
        try:
            server = make_server(host.strip("[]"), candidate, app, server_class=server_class,
                                 handler_class=_QuietHandler)
        except OSError as err:
            last = err
            if err.errno == errno.EADDRINUSE:
                continue
            raise UsageError(f"--host {host} --port {candidate}: cannot listen there ({err.strerror})") from None
        notes = [] if candidate == ports[0] else [f"Port {ports[0]} is in use; using {candidate} instead."]
        return server, notes
    if port is None:
        raise UsageError(f"Ports {ports[0]}-{ports[-1]} are all in use; choose one with --port")
    raise UsageError(f"--port {port}: already in use ({last.strerror if last else 'unavailable'}); "
                     "choose another or leave --port out to take the next free one")


@dataclass(frozen=True)
class ServeSummary:
    """What a served session did, for the command layer to report."""

    url: str
    dataset: str
    session: str
    answered: int
    dataset_size: int
    error: str | None
    update_errors: list[str]
    failed: int = 0
    sessions: dict[str, int] = field(default_factory=dict)  # the sessions written this run: answers in each


def url_for(host: str, port: int, access_token: str | None = None) -> str:
    """The address to open in a browser."""
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={access_token}" if access_token else "")


def serve(components: Components, db: Store | str, host: str = DEFAULT_HOST, port: int | None = None,
          access_token: str | None = None, *, overlap: bool = False, idle_s: float = IDLE_S,
          on_ready: Callable[[str, list[str]], None] | None = None,
          ready: threading.Event | None = None) -> ServeSummary:
    """Serve a recipe's components until Ctrl+C or SIGTERM; every answer is stored before it is acknowledged.

    ``db`` is an open store or a database path or URL. ``on_ready(url, notes)`` is called once
    the server listens. Another host than loopback requires an access token. ``overlap`` and
    ``idle_s`` say how tasks go to several named annotators (:class:`vnerteach.feed.Feed`).
    """
    if not is_loopback(host) and not access_token:
        raise UsageError(f"--host {host} lets other machines connect: set --access-token too "
                         "(every API call must then carry it)")
    store = db if isinstance(db, Store) else connect(db)
    controller = Controller(store, components, overlap=overlap, idle_s=idle_s)
    allowed = None if not is_loopback(host) else {"localhost", "127.0.0.1", "::1", host.strip("[]")}
    app = make_app(controller, images=components.get("images"), access_token=access_token, allowed_hosts=allowed,
                   read_region=components.get("read_region"))
    server, notes = bind(app, host, port)
    try:
        controller.go_live(url_for(host, server.server_address[1]))  # refused if a live session serves the dataset
    except VnerteachError:
        server.server_close()
        store.close()
        raise
    controller.start()
    url = url_for(host, server.server_address[1], access_token)
    previous = _stop_on_signals(server)
    try:
        if on_ready is not None:
            on_ready(url, notes)
        if ready is not None:
            ready.set()
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:  # a Ctrl+C that came before the handlers were in place
        pass
    finally:
        server.server_close()  # waits for requests in flight: an answer being saved is saved
        controller.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    progress = controller.progress()
    sessions = {a["session"]: a["answered"] for a in controller.annotators() if a["answered"]}
    return ServeSummary(url, controller.dataset, controller.session, progress.answered, progress.dataset,
                        controller.error, controller.update_errors, progress.failed, sessions)


def _stop_on_signals(server: ThreadingServer) -> dict[int, Any]:
    """Make Ctrl+C and SIGTERM stop the server between requests (main thread only); return the old handlers.

    The handler asks the serving loop to finish from another thread instead of raising in the
    main thread, so no exception lands in the middle of accepting a request.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, name="vnerteach-stop", daemon=True).start()

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
