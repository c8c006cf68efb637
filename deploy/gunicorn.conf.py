"""Gunicorn's configuration for Seamline's web processes (deploy/systemd/seamline-web.service, docs/deploy.md).

Under systemd the listening socket comes from seamline-web.socket (socket activation: requests wait in its backlog
while the service restarts instead of being refused), so no address is bound here; started by hand, pass --bind.
"""

from __future__ import annotations

import multiprocessing
import os

wsgi_app = "dashboard.wsgi:application"

# Sync workers: every page is a few short queries on Seamline's own database and one Redis read (no request ever
# waits on a monitored cluster), so a worker per core and one more keep the CPU busy without queueing.
workers = int(os.environ.get("SEAMLINE_WEB_WORKERS") or multiprocessing.cpu_count() + 1)
worker_class = "sync"
# A page taking longer than this is a bug or a stuck database; the worker is killed and replaced.
timeout = 30
# On TERM (a restart or an upgrade), requests under way get this long to finish.
graceful_timeout = 30
# Recycle workers now and then, so that a slow leak in any library never grows for weeks.
max_requests = 5000
max_requests_jitter = 500
# The application is loaded once, by the master, and the workers are forked from it: a worker recycled or replaced
# is ready in milliseconds instead of importing Django again (1.7 s of CPU each on the load benchmark's machine,
# where at the benchmark's rates each worker was recycled every half-minute). Nothing connects at import: Django
# opens its database connection at a worker's first query, and redis-py's pools open theirs in the process using them.
preload_app = True

# The reverse proxy is the only client: trust its X-Forwarded-* headers from the loopback only. (Django reads
# X-Forwarded-Proto itself, through SECURE_PROXY_SSL_HEADER.)
forwarded_allow_ips = "127.0.0.1,::1"

# Logs go to stderr, that is to the journal under systemd. The access log has no query strings' secrets to leak:
# nothing secret travels in a URL (logins and triggers are POSTs, tokens are headers).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("SEAMLINE_WEB_LOGLEVEL", "info")
proc_name = "seamline-web"

# Gunicorn's control socket (gunicornc) is not used: systemd starts, reloads and stops the server.
control_socket_disable = True
