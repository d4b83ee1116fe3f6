"""The web app's server: a bottle app (the annotation app's files, its JSON API, page images) and serve() to run it."""

from __future__ import annotations

import hmac
import secrets
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from bottle import Bottle, HTTPResponse, Route, request, response, static_file

from ..errors import AnswerError, InputError, PageImageNotFound, StoreBusy, UsageError, VnerteachError
from ..loop.components import Components
from ..loop.controller import Controller
from ..loop.feed import IDLE_S
from ..store import Store, connect
from .gate import Gate
from .http_io import error_response, json_body, json_response, query, raw_header
from .images import ImageLookup, NoImages, RegionReader, english_region_reader
from .wsgi_server import DEFAULT_HOST, bind, is_loopback, stop_on_signals, url_for

MAX_BODY = 16 * 1024 * 1024  # bytes of a request of answers
MAX_REGION_BODY = 4096
TOKEN_HEADER = "X-Access-Token"
APP_HEADER = "X-Vnerteach-App"
APP_META = '<meta name="vnerteach-app" content="">'  # in index.html; filled with the server's app key
SAME_ORIGIN_FETCHES = {"same-origin", "none"}  # Sec-Fetch-Site of the app's own requests and of typed addresses
MAX_UNDO_BODY = 4096
COUNT_HEADER = "X-Answer-Count"  # how many answers a request carries: one alone over the limit is refused
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

def static_dir() -> Path:
    """The web app's folder: ``vnerteach/static`` when installed, ``static/`` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "static", package.parent / "static"):
        if (candidate / "index.html").is_file():
            return candidate
    raise VnerteachError(f"The web app's files are missing (looked in {package / 'static'}); reinstall vnerteach")


def _host_name(header: str) -> str:
    """The host of a Host header, without port or IPv6 brackets."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _cross_origin() -> bool:
    """Whether the browser says the request comes from a page of another origin (Sec-Fetch-Site, Origin)."""
    site = raw_header("Sec-Fetch-Site")
    if site and site.lower() not in SAME_ORIGIN_FETCHES:
        return True
    origin = raw_header("Origin")
    if not origin:
        return False
    try:
        return urlsplit(origin).netloc.lower() != raw_header("Host").lower()
    except ValueError:  # not a URL (an unclosed IPv6 bracket)
        return True


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
            if hosts is not None and _host_name(raw_header("Host")) not in hosts:
                return error_response(403, "unexpected Host header")
            if _cross_origin():
                return error_response(403, "requests from pages of other sites or origins are refused")
            if self.access_token is not None:
                given = raw_header(TOKEN_HEADER) or request.query.get("token") or ""
                if not hmac.compare_digest(given.encode("latin1", "replace"), self.access_token.encode()):
                    return error_response(401, "missing or wrong access token")
            if needs_app and not hmac.compare_digest(raw_header(APP_HEADER).encode("latin1", "replace"),
                                                     self.app_key.encode()):
                return error_response(403, f"only the annotation app may call this ({APP_HEADER} missing or out of date: "
                                   "reload the page)")
            if needs_session and self.controller is None:
                return error_response(503, "no annotation session is running")
            try:
                return callback(*args, **kwargs)
            except AnswerError as err:
                return error_response(400, str(err))
            except StoreBusy as err:  # the app keeps the answers and sends them again
                return error_response(503, str(err))
            except VnerteachError as err:
                return error_response(500, str(err))

        return guarded


class Api:
    """The app's routes: its page and files, the JSON API of ``controller`` (None: no session), page images, region OCR
    and turning a page (both through one Gate: they run OCR)."""

    def __init__(self, controller: Controller | None, root: Path, app_key: str, images: ImageLookup,
                 read_region: RegionReader, max_body: int) -> None:
        self._controller, self.root, self.app_key = controller, root, app_key
        self.images, self.read_region, self.max_body = images, read_region, max_body
        self.ocr_gate = Gate()  # region OCR and pages read again turned

    def register(self, app: Bottle) -> None:
        """Add the routes to ``app``; the route options tell ApiGuard what each needs (see ApiGuard.apply)."""
        app.get("/", callback=self.index, public=True)
        app.get("/static/<filename:path>", callback=self.static, public=True)
        app.get("/api/project", callback=self.project)
        app.get("/api/questions", callback=self.questions)
        app.post("/api/answers", callback=self.answers)
        app.post("/api/undo", callback=self.undo)
        app.post("/api/refresh", callback=self.refresh)
        app.get("/api/history", callback=self.history)
        app.get("/api/image/<key>", callback=self.image, session=False, from_app=False)
        app.post("/api/ocr-region", callback=self.ocr_region)
        app.post("/api/turn-page", callback=self.turn_page)
        app.get("/api/document-page", callback=self.document_page, session=False)

    @property
    def controller(self) -> Controller:
        """The session's controller (ApiGuard refuses a route that needs one when there is none)."""
        assert self._controller is not None
        return self._controller

    def index(self) -> HTTPResponse:
        """The app's page, holding this server's app key."""
        page = (self.root / "index.html").read_text(encoding="utf-8")
        return HTTPResponse(page.replace(APP_META, APP_META.replace('content=""', f'content="{self.app_key}"')),
                            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})

    def static(self, filename: str) -> HTTPResponse:
        """The app's scripts and styles."""
        return static_file(filename, root=str(self.root))

    def project(self) -> HTTPResponse:
        """What the app needs to set itself up, for ``?session=NAME`` or the run's own session."""
        return json_response({**self.controller.project(query("session") or None), "max_body": self.max_body})

    def questions(self) -> HTTPResponse:
        """The next ``?n=`` questions, the progress, and what the source is waiting on when there are none yet."""
        try:
            n = int(request.query.get("n") or 10)
        except ValueError:
            return error_response(400, "'n' must be a number")
        controller, session = self.controller, query("session") or None
        tasks = controller.questions(n, restart=request.query.get("restart") in ("1", "true"), session=session)
        return json_response({"tasks": tasks, "progress": controller.progress(session or controller.session).as_dict(),
                      "error": controller.error, "waiting": controller.waiting})

    def answers(self) -> HTTPResponse:
        """Store a batch of answers: {"session", "answers"}; each is stored or refused with its reason."""
        payload = json_body("answers", self.max_body, alone=raw_header(COUNT_HEADER) == "1",
                             surrogates=True)  # refused per answer
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or "answers" not in payload:
            return error_response(400, "expected an object {\"session\": ..., \"answers\": [...]}")
        return json_response(self.controller.answer(payload["answers"], payload.get("session")))

    def undo(self) -> HTTPResponse:
        """Retract the answer to a question."""
        return self._about_a_question("an undo", self.controller.undo)

    def refresh(self) -> HTTPResponse:
        """A question as the model in the loop sees it now."""
        return self._about_a_question("a refresh", self.controller.refresh)

    @staticmethod
    def _about_a_question(what: str, call: Callable[[Any, Any], dict]) -> HTTPResponse:
        """A request whose body names one question, ``{"session", "task_hash"}``: undo, refresh."""
        payload = json_body(what, MAX_UNDO_BODY)
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or "task_hash" not in payload:
            return error_response(400, "expected an object {\"session\": ..., \"task_hash\": ...}")
        return json_response(call(payload["task_hash"], payload.get("session")))

    def history(self) -> HTTPResponse:
        """A session's latest ``?n=`` stored answers."""
        try:
            n = int(request.query.get("n") or 100)
        except ValueError:
            return error_response(400, "'n' must be a number")
        return json_response({"answers": self.controller.history(query("session"), n)})

    def image(self, key: str) -> HTTPResponse:
        """A page image by its key (an <img> URL: no app key, no session needed)."""
        try:
            path = self.images(key)
        except VnerteachError as err:
            return error_response(404, str(err))
        image = static_file(path.name, root=str(path.parent), mimetype="image/png")
        image.set_header("Cache-Control", "private, max-age=86400")
        return image

    def document_page(self) -> HTTPResponse:
        """Another page of the document of the page on screen, to look at: {image_key, page, pages, width, height}."""
        try:
            page = int(request.query.get("page") or "")
            return json_response(self.images.other_page(request.query.get("image_key") or "", page))
        except ValueError:
            return error_response(400, "page must be a page number")
        except PageImageNotFound as err:
            return error_response(404, str(err))
        except InputError as err:  # no such page, or the file is gone or changed
            return error_response(400, str(err))

    def ocr_region(self) -> HTTPResponse:
        """The words OCR reads in a box of a page image: {"image_key", "box"}."""
        payload = json_body("a region", MAX_REGION_BODY)
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or not isinstance(payload.get("image_key"), str):
            return error_response(400, 'expected {"image_key": "...", "box": [x0, y0, x1, y1]}')
        try:
            path = self.images(payload["image_key"])
        except VnerteachError as err:
            return error_response(404, str(err))
        with self.ocr_gate.enter() as inside:
            if not inside:
                return error_response(429, f"region OCR is busy ({self.ocr_gate.at_once} at a time): try again in a moment")
            try:
                words = self.read_region(path, payload.get("box"))
            except InputError as err:
                return error_response(400, err.reason)
        return json_response({"words": [{"text": w.text, "bbox": list(w.bbox), "conf": w.conf} for w in words]})

    def turn_page(self) -> HTTPResponse:
        """The question on screen, a page, read again turned a further 90 degrees: {"task"} (its spans dropped)."""
        controller = self.controller
        payload = json_body("a page to turn", MAX_UNDO_BODY)
        if isinstance(payload, HTTPResponse):
            return payload
        if not isinstance(payload, dict) or "task_hash" not in payload:
            return error_response(400, "expected an object {\"session\": ..., \"task_hash\": ...}")
        with self.ocr_gate.enter() as inside:
            if not inside:
                return error_response(429, f"OCR is busy ({self.ocr_gate.at_once} at a time): try again in a moment")
            try:
                return json_response(controller.turn_page(payload["task_hash"], payload.get("session")))
            except PageImageNotFound as err:
                return error_response(404, str(err))
            except InputError as err:
                return error_response(400, str(err))


def make_app(controller: Controller | None = None, static_root: Path | None = None,
             images: ImageLookup | None = None, access_token: str | None = None,
             max_body: int = MAX_BODY, allowed_hosts: set[str] | None = None,
             read_region: RegionReader | None = None) -> Bottle:
    """The bottle app: the annotation app's files, the JSON API of ``controller``, page images, region OCR and turning
    a page (see :class:`Api`). Page images come from ``images`` (none given: a 404 for each).

    With ``access_token``, every ``/api`` call must carry it (header X-Access-Token, or
    ``?token=`` for images). With ``allowed_hosts``, other Host headers are refused (DNS rebinding).
    Every ``/api`` call but images must carry the app key that the served page holds (X-Vnerteach-App).
    """
    app = Bottle()
    guard = ApiGuard(controller, access_token, allowed_hosts)
    app.install(guard)
    app.add_hook("after_request", _security_headers)
    Api(controller, Path(static_root or static_dir()), guard.app_key, images or NoImages(),
        read_region or english_region_reader, max_body).register(app)
    return app


def _security_headers() -> None:
    """Every response: no MIME sniffing, no referrer, and the content security policy."""
    response.set_header("X-Content-Type-Options", "nosniff")
    response.set_header("Referrer-Policy", "no-referrer")
    response.set_header("Content-Security-Policy", CSP)


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


def serve(components: Components, db: Store | str, host: str = DEFAULT_HOST, port: int | None = None,
          access_token: str | None = None, *, overlap: bool = False, idle_s: float = IDLE_S,
          on_ready: Callable[[str, list[str]], None] | None = None,
          ready: threading.Event | None = None) -> ServeSummary:
    """Serve a recipe's components until Ctrl+C or SIGTERM; every answer is stored before it is acknowledged.

    ``db`` is an open store or a database path or URL. ``on_ready(url, notes)`` is called once
    the server listens. Another host than loopback requires an access token. ``overlap`` and
    ``idle_s`` say how tasks go to several named annotators (:class:`vnerteach.loop.feed.Feed`).
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
    previous = stop_on_signals(server)
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
