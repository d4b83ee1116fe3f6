"""The web server: a bottle app factory serving the static app (the JSON API joins it in the web view)."""

from __future__ import annotations

from pathlib import Path

from bottle import Bottle, static_file

from .errors import VnerteachError


def static_dir() -> Path:
    """The web app's folder: ``vnerteach/static`` when installed, ``static/`` in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "static", package.parent / "static"):
        if (candidate / "index.html").is_file():
            return candidate
    raise VnerteachError(f"The web app's files are missing (looked in {package / 'static'}); reinstall vnerteach")


def make_app(static_root: Path | None = None) -> Bottle:
    """A bottle app serving the annotation app; bottle's static_file refuses paths outside the root."""
    root = str(static_root or static_dir())
    app = Bottle()

    @app.get("/")
    def index():
        return static_file("index.html", root=root)

    @app.get("/static/<filename:path>")
    def static(filename: str):
        return static_file(filename, root=root)

    return app
