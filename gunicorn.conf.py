"""gunicorn settings for ``make run`` (``gunicorn -c gunicorn.conf.py 'app:create_app()'``).

Each value can be overridden by the environment variable named beside it. Why these
values (measured by ``bench/slowloris.py``, see README "Serving"):

* ``worker_class``: :class:`webmap.gworker.HeaderDeadlineWorker`, gunicorn's ``gthread``
  worker plus a deadline on reading request heads, so slow ("slowloris") clients are cut
  off after ``YIZHAN_HEADER_TIMEOUT_S`` (5 s) instead of holding a thread forever.
* ``threads``: 16 per worker. The app releases the GIL in numpy/scipy and SQLite, and a
  thread waiting on a slow client costs only memory; four slow connections then use 4 of
  32 threads instead of all 4 of the old 2 × 2.
* ``timeout`` 30 s (a stuck worker is restarted), ``keepalive`` 5 s (an idle kept-alive
  connection waits in the poller, not in a thread, and is closed after 5 s).
* ``limit_request_line`` / ``limit_request_fields`` / ``limit_request_field_size``: the
  API's longest URL (along-route with coordinates) is far below 4 kB.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WORKERS", min(2, multiprocessing.cpu_count())))
worker_class = "webmap.gworker.HeaderDeadlineWorker"
threads = int(os.environ.get("THREADS", "16"))
# Connections a worker holds at once (threads busy + kept-alive idle ones in the poller).
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "200"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = int(os.environ.get("KEEPALIVE", "5"))
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Trust X-Forwarded-* only from a proxy on this machine (see YIZHAN_PROXY_FIX for the app).
forwarded_allow_ips = "127.0.0.1"
accesslog = os.environ.get("ACCESS_LOG") or None
