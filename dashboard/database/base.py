"""Django's PostgreSQL backend, its connection health check (CONN_HEALTH_CHECKS, done before the first query of each
request and task) answered without a round trip when it can be.

Django checks a persistent connection by sending ``SELECT 1``: on a request that sends one statement (a live page:
the session with its user) that is half of the request's time in PostgreSQL. An idle connection has nothing to read;
a server that ended it (a restart, ``pg_terminate_backend``, an idle timeout) said so on the socket before it closed,
or closed it, and either leaves the socket readable. So: nothing to read means usable, with no statement sent;
anything to read (the server's goodbye, the end of the stream, or something unexpected) lets Django's own check
decide with its ``SELECT 1``. A connection psycopg knows to be closed or broken is not usable. What the check cannot
see (a host gone without a word) Django's cannot either: its ``SELECT 1`` would wait for the network as the request's
own statement does.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()  # inside a transaction: a statement is its own check
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
