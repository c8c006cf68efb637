"""Connections to monitored clusters: every session read-only with connect, statement and lock timeouts, so Seamline
can never hurt the database it watches. The only module that opens one; what is sent over it lives in the readers
(catalog/readers/, dashboard/readers/), and only the modules that run those (the sync, the sampler, session actions)
import this one (an import contract, see pyproject.toml).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from psycopg.conninfo import conninfo_to_dict

from .credentials import dsn_problem
from .errors import CredentialsError, UnreachableError


class CountingCursor(psycopg.Cursor):
    """Counts the statements sent, so tests and benchmarks can pin what Seamline costs a monitored server."""

    def execute(self, query, params=None, **kwargs):
        self.connection.statements_sent += 1
        return super().execute(query, params, **kwargs)

    def copy(self, statement, params=None, **kwargs):
        self.connection.statements_sent += 1
        return super().copy(statement, params, **kwargs)


class MonitoredConnection(psycopg.Connection):
    statements_sent = 0


def connection_params(
    dsn: str,
    password: str | None = None,
    dbname: str | None = None,
    statement_timeout_ms: int | None = None,
    auth: str = "scram-sha-256",
) -> dict[str, Any]:
    """libpq keywords for a monitored server: the DSN's own, plus timeouts and a read-only session, and SCRAM
    required of a server not on this host unless the cluster's ``auth`` is "any" (no password, not even a passfile's,
    ever crosses a network in clear, or reaches a server that asks for one in clear)."""
    problem = dsn_problem(dsn)  # the catalog refuses such DSNs; one stored before a rule is refused here too
    if problem:
        raise CredentialsError(f"the DSN is refused: {problem}")
    params: dict[str, Any] = conninfo_to_dict(dsn)
    if dbname:
        params["dbname"] = dbname
    if password is not None:
        params["password"] = password
    if auth != "any" and not _on_this_host(params.get("host")):
        params["require_auth"] = "scram-sha-256"
    params.setdefault("connect_timeout", settings.MONITOR_CONNECT_TIMEOUT)
    # names come back as str whatever the database's encoding (SQL_ASCII would otherwise give bytes)
    params["client_encoding"] = "UTF8"
    params["application_name"] = settings.MONITOR_APPLICATION_NAME
    statement_timeout = statement_timeout_ms or settings.MONITOR_STATEMENT_TIMEOUT_MS
    guards = (
        f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout} "
        f"-c lock_timeout={settings.MONITOR_LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={statement_timeout * 2} "
        # catalog and statistics queries are short: compiling them would cost more than it saves
        "-c jit=off"
    )
    params["options"] = f"{params['options']} {guards}" if params.get("options") else guards
    return params


def _on_this_host(host: str | None) -> bool:
    """A Unix socket (no host, a directory, an abstract socket) or the loopback."""
    if not host or host.startswith(("/", "@")) or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def connect(
    dsn: str,
    password: str | None = None,
    dbname: str | None = None,
    *,
    target: str = "",
    statement_timeout_ms: int | None = None,
    auth: str = "scram-sha-256",
) -> Iterator[MonitoredConnection]:
    """A read-only connection inside one REPEATABLE READ READ ONLY transaction (one consistent snapshot)."""
    params = connection_params(dsn, password, dbname, statement_timeout_ms, auth)
    where = target or f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    try:
        conn = MonitoredConnection.connect(**params, cursor_factory=CountingCursor)
    except psycopg.Error as exc:
        raise UnreachableError(where, type(exc).__name__, _scrub(exc, password)) from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield conn
    except psycopg.Error as exc:
        raise UnreachableError(where, type(exc).__name__, _scrub(exc, password)) from None
    finally:
        conn.close()


def _scrub(exc: Exception, password: str | None) -> str:
    """libpq does not put passwords in its messages; make sure no message of ours ever carries one either."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if password:
        text = text.replace(password, "********")
    return text
