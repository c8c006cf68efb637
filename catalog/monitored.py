"""Connections to monitored clusters: credentials resolved without ever storing or showing a password, and every
session read-only with connect, statement and lock timeouts, so Seamline can never hurt the database it watches.

Passwords come from nowhere (trust, peer, a libpq service file or passfile), from an environment variable named in
the catalog (``password_env``), or from a Fernet token stored in the catalog and decrypted with a key from
``SEAMLINE_FERNET_KEYS``. A missing or wrong key fails closed with a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict


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


class CredentialsError(Exception):
    """The password for a cluster cannot be had: say why, never what."""


class UnreachableError(Exception):
    """A monitored server could not be reached or answered with an error. ``kind`` is the error class."""

    def __init__(self, target: str, kind: str, message: str):
        super().__init__(f"{target}: {kind}: {message}")
        self.target, self.kind, self.message = target, kind, message


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FERNET_KEYS if k.strip()]
    if not keys:
        raise CredentialsError("no encryption key: set SEAMLINE_FERNET_KEYS to decrypt stored passwords")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise CredentialsError(
            "SEAMLINE_FERNET_KEYS holds a malformed key (expected url-safe base64 of 32 bytes)"
        ) from None


def encrypt_password(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode()


def decrypt_password(token: str) -> str:
    return _open(token, "decrypt")


def rotate_password(token: str) -> str:
    """Re-encrypt a token with the first (newest) key of SEAMLINE_FERNET_KEYS."""
    return _open(token, "rotate")


def _open(token: str, operation: str) -> str:
    try:
        return getattr(_fernet(), operation)(token.encode()).decode()
    except InvalidToken:
        raise CredentialsError(
            "the stored password cannot be decrypted with the keys in SEAMLINE_FERNET_KEYS"
        ) from None


def password_for(cluster: Any) -> str | None:
    """The cluster's password, or None when libpq finds its own way in (trust, peer, service file, passfile)."""
    if cluster.encrypted_password:
        return decrypt_password(cluster.encrypted_password)
    if cluster.password_env:
        value = os.environ.get(cluster.password_env)
        if value is None:
            raise CredentialsError(
                f"the environment variable {cluster.password_env} named by cluster {cluster.name} is not set"
            )
        return value
    return None


SECRET_KEYWORDS = ("password", "sslpassword")  # libpq keywords that carry a secret


def dsn_problem(dsn: str) -> str | None:
    """Why a DSN may not be stored in the catalog (unparsable, or carrying a secret), or None. Never quotes it."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0].split(":")[0]
        return f"not a valid libpq connection string ({first})"
    secret = next((k for k in SECRET_KEYWORDS if k in params), None)
    if secret:
        return f"carries a {secret}; use password_env or an encrypted password instead"
    return None


def connection_params(
    dsn: str, password: str | None = None, dbname: str | None = None, statement_timeout_ms: int | None = None
) -> dict[str, Any]:
    """libpq keywords for a monitored server: the DSN's own, plus timeouts and a read-only session."""
    params: dict[str, Any] = conninfo_to_dict(dsn)
    for secret in SECRET_KEYWORDS:
        params.pop(secret, None)  # the catalog refuses such DSNs; never let one through
    if dbname:
        params["dbname"] = dbname
    if password is not None:
        params["password"] = password
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


@contextmanager
def connect(
    dsn: str,
    password: str | None = None,
    dbname: str | None = None,
    *,
    target: str = "",
    snapshot: str = "",
    statement_timeout_ms: int | None = None,
) -> Iterator[MonitoredConnection]:
    """A read-only connection inside one REPEATABLE READ READ ONLY transaction (one consistent snapshot).

    ``snapshot``, from ``export_snapshot`` on another connection still in its transaction, makes this transaction see
    exactly what that one sees, so that two connections can read one database's catalog side by side.
    """
    params = connection_params(dsn, password, dbname, statement_timeout_ms)
    where = target or f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
    try:
        conn = MonitoredConnection.connect(**params, cursor_factory=CountingCursor)
    except psycopg.Error as exc:
        raise UnreachableError(where, type(exc).__name__, _scrub(exc, password)) from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            if snapshot:
                # SET takes no bind parameters; the identifier comes from pg_export_snapshot(), quoted as a literal
                conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
            yield conn
    except psycopg.Error as exc:
        raise UnreachableError(where, type(exc).__name__, _scrub(exc, password)) from None
    finally:
        conn.close()


def export_snapshot(conn: MonitoredConnection) -> str:
    """The identifier of the connection's transaction snapshot, for ``connect(snapshot=...)``."""
    return conn.execute("SELECT pg_export_snapshot()").fetchone()[0]


def _scrub(exc: Exception, password: str | None) -> str:
    """libpq does not put passwords in its messages; make sure no message of ours ever carries one either."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if password:
        text = text.replace(password, "********")
    return text
