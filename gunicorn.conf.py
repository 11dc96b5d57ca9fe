"""gunicorn settings for ``make run`` (``gunicorn -c gunicorn.conf.py 'app:create_app()'``).

Each value can be overridden by the environment variable named beside it. Why these
values (measured by ``bench/http_nearest.py`` and ``bench/slowloris.py``, README "Serving"):

* ``worker_class``: :class:`webmap.gworker.EventWorker`: connections are greenlets on an
  event loop; the drivers' read-only API answers on the loop, every other request on a
  pool of ``threads`` real threads; connections are served round robin, and one that has
  not sent a complete request head within ``YIZHAN_HEADER_TIMEOUT_S`` (5 s) is closed.
* ``workers``: one process per core (the loop of each runs Python on one core).
* ``threads``: 4 per worker for pages, planner runs and staff writes (a long siting run
  holds one of them, not the drivers' loop).
* ``worker_connections``: connections a worker holds at once (kept-alive ones included).
* ``timeout`` 30 s (a stuck worker is restarted), ``keepalive`` 5 s (an idle kept-alive
  connection is closed after 5 s).
* ``limit_request_line`` / ``limit_request_fields`` / ``limit_request_field_size``: the
  API's longest URL (along-route with coordinates) is far below 4 kB.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WORKERS", min(2, multiprocessing.cpu_count())))
worker_class = "webmap.gworker.EventWorker"
threads = int(os.environ.get("THREADS", "4"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "200"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# at least 1: the head deadline of webmap/gworker.py is applied within the keep-alive loop
keepalive = max(1, int(os.environ.get("KEEPALIVE", "5")))
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Trust X-Forwarded-* only from a proxy on this machine (see YIZHAN_PROXY_FIX for the app).
forwarded_allow_ips = "127.0.0.1"
accesslog = os.environ.get("ACCESS_LOG") or None
