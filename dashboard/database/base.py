"""Django's PostgreSQL backend, its connection health check (CONN_HEALTH_CHECKS, done before the first query of each
request and task) answered without a round trip when it can be, and a cursor whose statements are prepared, for the
one statement nearly every request sends (dashboard.auth: the session with its user).

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
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations
from psycopg import pq


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """As Django's, and for a statement bound by the server (``prepared_cursor``), which has no client-bound
        text to read, the statement with its parameters in place, as Django logs its own."""
        if isinstance(cursor, psycopg.ClientCursor):
            return super().last_executed_query(cursor, sql, params)
        try:
            return self.compose_sql(sql, params)
        except psycopg.errors.DataError:
            return None


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

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

    def prepared_cursor(self) -> Any:
        """A cursor like ``cursor()`` (checked, logged and counted as Django's are), its parameters bound by the
        server, so that the statements it runs are prepared once per connection (from their second execution, with
        OPTIONS ``prepare_threshold``; none without it). Django's own cursors bind on the client and prepare nothing.

        Measured (docs/benchmarks.md, load): the session read with its user costs PostgreSQL more to plan than to
        run; prepared, its round trip fell from about 0.65 to 0.25 ms."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(base.ServerBindingCursor(self.connection))
