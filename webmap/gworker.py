"""A gunicorn worker that slow clients cannot starve (used by ``gunicorn.conf.py``).

gunicorn's ``gthread`` worker gives each connection a thread from a small pool as soon as
its first bytes arrive, and that thread then blocks until the request line and headers are
complete. A client that sends its headers a byte at a time ("slowloris") keeps the thread
for as long as it likes, so a handful of them stall every other request.

:class:`HeaderDeadlineWorker` is ``gthread`` with one addition: a connection must deliver
its complete request head within :data:`HEADER_TIMEOUT_S` seconds of being handed to a
thread. The worker's main loop (which wakes at least once a second) shuts down sockets
past that deadline; the blocked read returns, the thread is free again. Together with a
thread pool well above the number of CPU cores (``gunicorn.conf.py``), a few slow clients
take a few threads for a few seconds, not the service.

This is a defence for a server exposed directly; behind nginx or another buffering proxy
the proxy absorbs slow clients (see docs/security.md).
"""

from __future__ import annotations

import os
import socket
import threading
import time

from gunicorn.workers.gthread import ThreadWorker

#: Seconds a connection has, once given a thread, to deliver its request line and headers
#: (``YIZHAN_HEADER_TIMEOUT_S``). A real browser sends them in one packet.
HEADER_TIMEOUT_S = float(os.environ.get("YIZHAN_HEADER_TIMEOUT_S", "5"))


class HeaderDeadlineWorker(ThreadWorker):
    """``gthread`` plus a deadline on reading each request head (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reading: dict[object, float] = {}  # conn -> monotonic deadline
        self._reading_lock = threading.Lock()

    def handle(self, conn):
        with self._reading_lock:
            self._reading[conn] = time.monotonic() + HEADER_TIMEOUT_S
        try:
            return super().handle(conn)
        finally:
            with self._reading_lock:
                self._reading.pop(conn, None)

    def handle_request(self, req, conn):
        with self._reading_lock:  # the head is complete: the application's time starts
            self._reading.pop(conn, None)
        return super().handle_request(req, conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        with self._reading_lock:
            late = [conn for conn, deadline in self._reading.items() if deadline < now]
            for conn in late:
                self._reading.pop(conn, None)
        for conn in late:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv()
            except OSError:
                pass  # already closed by its thread
            self.log.debug("closed a connection that sent no complete request head in %.0f s", HEADER_TIMEOUT_S)
