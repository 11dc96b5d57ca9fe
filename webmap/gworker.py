"""The gunicorn worker of ``make run`` (``gunicorn.conf.py``): an event loop with a thread lane.

Drivers' phones ask ``/api/nearest`` many times a minute; planners' and staff's pages are
few but some are long (a siting run takes seconds). One worker process serves both:

* **Connections are greenlets** (gunicorn's ``gevent`` worker): a kept-alive or slow
  connection costs a little memory, not a thread. Only the network is cooperative
  (``monkey.patch_all(thread=False)``): the app's threads, locks and thread-locals stay
  real threads, so its background work (per-filter tables) runs beside the loop.
* **Fast lane**: the drivers' read-only API (:data:`INLINE_PATHS`, GET/HEAD) runs on the
  loop itself, with no hand-over between threads: each of these answers in well under a
  millisecond of CPU on the region's network.
* **Thread lane**: every other request (pages, planner runs, staff writes, exports) runs
  on a pool of ``threads`` real threads with its body read first and its response
  buffered, so a seconds-long siting run never stalls the drivers on the loop.
* **Round robin**: after each response the connection waits until the loop has polled
  the others (``gevent.idle``). Without it a client that sends its next request at once
  is served again and again while the others wait (measured: p99 1.2 s at 32 clients).
* **Head deadline**: a connection must deliver each request head within
  :data:`HEADER_TIMEOUT_S` seconds (``YIZHAN_HEADER_TIMEOUT_S``, and at most ``keepalive``
  when idle between requests), so clients sending their headers a byte at a time
  ("slowloris") are cut off; they never hold a thread. (gunicorn applies it while it keeps
  connections alive: leave ``keepalive`` above 0, as ``gunicorn.conf.py`` does.)

Measured with ``bench/http_nearest.py`` and ``bench/slowloris.py`` (README "Benchmarks").
Behind nginx or another buffering proxy the proxy absorbs slow clients as well
(docs/security.md).
"""

from __future__ import annotations

import io
import os

import gevent
from gevent import monkey
from gevent.threadpool import ThreadPool
from gunicorn.workers.ggevent import GeventWorker

#: Seconds a connection has to deliver a complete request head (``YIZHAN_HEADER_TIMEOUT_S``).
HEADER_TIMEOUT_S = float(os.environ.get("YIZHAN_HEADER_TIMEOUT_S", "5"))

#: Paths answered on the loop (GET/HEAD): the drivers' bounded, read-only questions.
INLINE_PATHS = frozenset({"/healthz", "/api/nearest", "/api/route", "/api/places"})

#: Request bodies read before a request goes to the thread lane, at most (bytes): the app's
#: ``MAX_CONTENT_LENGTH`` when it has one (a longer body then gets the app's 413).
DEFAULT_BODY_LIMIT = 16 * 2**20


def inline(environ: dict) -> bool:
    """Whether a request runs on the loop (the fast lane) rather than on a thread."""
    return environ.get("REQUEST_METHOD") in ("GET", "HEAD") and environ.get("PATH_INFO") in INLINE_PATHS


def _buffered_call(app, environ: dict, start_response) -> list[bytes]:
    """Run ``app`` to the end (on a pool thread): the whole body, the iterable closed."""
    body = app(environ, start_response)
    try:
        return [b"".join(body)]
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


class EventWorker(GeventWorker):
    """gunicorn's ``gevent`` worker with a thread lane, round robin and a head deadline
    (see the module docstring)."""

    def patch(self):
        monkey.patch_all(thread=False)  # the network only: the app's threads stay threads
        from gevent import socket

        self.sockets = [socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach()) for s in self.sockets]

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi
        config = getattr(app, "config", None) or {}
        limit = int(config.get("MAX_CONTENT_LENGTH") or DEFAULT_BODY_LIMIT)
        pool = ThreadPool(max(1, int(self.cfg.threads)))

        def wsgi(environ, start_response):
            if inline(environ):
                return app(environ, start_response)
            # The body is read here, on the loop: a pool thread must not wait on the socket.
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(limit + 1))
            return pool.apply(_buffered_call, (app, environ, start_response))

        self.wsgi = wsgi

    def timeout_ctx(self):
        return gevent.Timeout(min(self.cfg.keepalive or HEADER_TIMEOUT_S, HEADER_TIMEOUT_S), False)

    def handle_request(self, listener_name, req, sock, addr):
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.idle()  # the other connections first: round robin
