"""gunicorn settings shared by every way the web app runs (Procfile, Dockerfile, compose).

Worker model: ``gthread``, a few processes with a thread pool each. Under ``sync`` workers each
connection owns a whole process until it is done: two idle browser connections (a browser
opens spare sockets and sends nothing on them) held both demo workers until the 30 s worker
timeout, and ``/healthz`` waited 31.7 s behind them. A ``gthread`` worker accepts in an event
loop: a new connection gets a thread only once its first bytes arrive (after a short wait it
goes back to the poller) and a kept-alive idle connection waits in the poller, never in a
thread. A slow-drip client does occupy one thread while it trickles its request, but it is one
of ``WEB_WORKERS * WEB_THREADS`` (16 by default), not one of two. The app is ordinary blocking
Django (psycopg, requests to nodes), so threads keep its code as it is, which an ASGI server
would not; a TLS proxy in front (production) buffers slow clients further.

Bind address stays on the command line (loopback for the Procfile, 0.0.0.0 in the image).
"""

from __future__ import annotations

from hemiscope import env

worker_class = "gthread"
workers = env.env_int("WEB_WORKERS", 2, minimum=1)
threads = env.env_int("WEB_THREADS", 8, minimum=1)
# Idle keep-alive sockets live in the poller, so a generous keep-alive costs no thread.
keepalive = 5
timeout = 30
graceful_timeout = 5
accesslog = "-"
# No control socket: we do not use gunicornc, and every gunicorn on a machine would share its
# default path (the demo, the tests and a second worktree would clobber one another).
control_socket_disable = True
