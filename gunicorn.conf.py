"""How gunicorn serves QIRO: read by gunicorn from the directory it starts in.

``manage.py serve`` starts gunicorn here, and so do the benchmarks.

Worker class ``gthread`` with one thread: a worker answers one request at a
time, with one database connection, as the ``sync`` class does, but it keeps
an idle client's connection open (``keepalive``) in its poller instead of
closing it after every answer. An API client or a proxy that reuses its
connection saves the TCP handshake and gunicorn's accept on each request:
0.5 ms of the 2.2 ms a ``/health/`` answer took on a kept-alive client
(``bench/api.py``, README). A connection idle longer than ``keepalive``
seconds is closed; ``worker_connections`` bounds how many one worker holds.
"""

worker_class = "gthread"
threads = 1
keepalive = 30
worker_connections = 1000
