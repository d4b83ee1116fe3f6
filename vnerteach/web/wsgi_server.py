"""The threaded WSGI server the app runs on: bound to a free port, stopped between requests by Ctrl+C or SIGTERM."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import sys
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
PORT_TRIES = 20
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


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
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ThreadingServer6(ThreadingServer):
    """The threaded server on IPv6."""

    address_family = socket.AF_INET6


def is_loopback(host: str) -> bool:
    """Whether a host name or address only accepts connections from this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_for(host: str, port: int, access_token: str | None = None) -> str:
    """The address to open in a browser."""
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={access_token}" if access_token else "")


def bind(app: Callable, host: str = DEFAULT_HOST, port: int | None = None) -> tuple[ThreadingServer, list[str]]:
    """A threaded server for the WSGI ``app``, bound (not yet serving); ``port=None`` takes 8080 or the next free one.

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


def stop_on_signals(server: ThreadingServer) -> dict[int, Any]:
    """Make Ctrl+C and SIGTERM stop the server between requests (main thread only); return the old handlers.

    The handler asks the serving loop to finish from another thread instead of raising in the
    main thread, so no exception lands in the middle of accepting a request.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, name="vnerteach-stop", daemon=True).start()

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
