"""The API's HTTP plumbing: a request's JSON body, query and headers read safely, JSON responses written."""

from __future__ import annotations

import json
from typing import Any

from bottle import HTTPResponse, request

from ..errors import TaskError
from ..tasks import parse_json


def json_response(data: Any, status: int = 200) -> HTTPResponse:
    """A JSON response; never NaN or Infinity, which are not JSON and would fail the app's parser."""
    try:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as err:
        status, body = 500, json.dumps({"error": f"a response the server cannot write as JSON ({err})"})
    return HTTPResponse(body, status=status, headers={"Content-Type": "application/json; charset=utf-8",
                                                      "Cache-Control": "no-store"})


def error_response(status: int, message: str) -> HTTPResponse:
    """A JSON error response: {"error": message}."""
    return json_response({"error": message}, status)


def json_body(what: str, max_body: int, alone: bool = False, surrogates: bool = False) -> Any:
    """The request's JSON body, or the error response that refuses it (not JSON, no length, too large, invalid)."""
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        return error_response(415, f"send {what} as application/json")
    length = request.content_length
    if length < 0:
        return error_response(411, "a Content-Length is required")
    if length > max_body:
        return _too_large(length, max_body, alone)
    try:
        return parse_json(request.body.read(length) or b"null", surrogates=surrogates)
    except TaskError as err:
        return error_response(400, str(err))


def _too_large(length: int, max_body: int, alone: bool) -> HTTPResponse:
    """A 413 that states the limit; for a request of one answer, that answer's refusal."""
    body: dict[str, Any] = {"error": f"request body of {length} bytes is over the limit of {max_body} bytes",
                            "max_body": max_body}
    if alone:
        body["results"] = [{"status": "refused", "reason": f"the answer is {_size(length)}; the server takes "
                                                           f"at most {_size(max_body)} per request"}]
    return json_response(body, 413)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} bytes"


def query(name: str) -> str | None:
    """A query parameter as the UTF-8 the browser sent (bottle's ``get`` gives its bytes as latin-1: "Ã¥lice")."""
    return request.query.getunicode(name)


def raw_header(name: str) -> str:
    """A request header as WSGI has it (its bytes as latin-1): bottle's own UTF-8 decoding raises on other bytes."""
    return request.environ.get("HTTP_" + name.upper().replace("-", "_"), "")
