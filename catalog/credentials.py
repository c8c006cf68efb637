"""Credentials of monitored clusters, resolved without ever storing or showing a password, and the DSN rules that
keep secrets out of the catalog.

Passwords come from nowhere (trust, peer, a libpq service file or passfile), from an environment variable named in
the catalog (``password_env``), or from a Fernet token stored in the catalog and decrypted with a key from
``SEAMLINE_FERNET_KEYS``. A missing or wrong key fails closed with a clear error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import CredentialsError


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
        problem = password_env_problem(cluster.password_env)
        if problem:  # stored before the rule: refused at use too
            raise CredentialsError(f"cluster {cluster.name}: password_env {problem}")
        value = os.environ.get(cluster.password_env)
        if value is None:
            raise CredentialsError(
                f"the environment variable {cluster.password_env} named by cluster {cluster.name} is not set"
            )
        return value
    return None


# DSN rules, in one place: what a stored DSN may hold, and what of it may be shown.
# libpq marks the options it never displays: "*" (secrets) and "D" (debug: SCRAM keys, a TLS key log). Both are
# refused in a DSN and never shown; the first names are there even when the bundled libpq predates them.
_HIDDEN = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar in (b"*", b"D")}
SECRET_KEYWORDS = tuple(
    sorted({"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key", *_HIDDEN})
)
# options that would send the connection (and the password) somewhere other than what host and port say
REDIRECTING_KEYWORDS = ("hostaddr", "service", "passfile")
# password_env names only variables of its own: none of Seamline's settings (its secret key, its encryption keys,
# its database's password) can be named and sent to a server as a cluster's password
PASSWORD_ENV_PREFIX = "SEAMLINE_CLUSTER_PASSWORD_"
_ENV_NAME = re.compile(r"[A-Z0-9_]+")


# libpq's parse errors quote the DSN: each becomes a fixed phrase
_PARSE_ERRORS = (
    ("unterminated quoted string", "unterminated quoted string"),
    ("invalid connection option", "an unknown connection option"),
    ('missing "="', 'a keyword without "="'),
    ("invalid URI", "an invalid URI"),
    ("invalid percent-encoded", "an invalid percent-encoded character"),
)


def dsn_problem(dsn: str) -> str | None:
    """Why a DSN may not be stored in the catalog, or None. Fixed messages: never a word of the DSN, which may hold a
    password even where libpq cannot parse it."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        said = str(exc)
        why = next((fixed for start, fixed in _PARSE_ERRORS if start in said), "")
        return f"not a valid libpq connection string{f' ({why})' if why else ''}"
    secret = next((k for k in SECRET_KEYWORDS if k in params), None)
    if secret:
        return f"carries a {secret}; use password_env or an encrypted password instead"
    redirecting = next((k for k in REDIRECTING_KEYWORDS if k in params), None)
    if redirecting:
        return f"uses {redirecting}: name the server with host and port only"
    if any("," in str(params.get(k) or "") for k in ("host", "port")):
        return "names several hosts: give each node its own DSN with one host and port"
    return None


def shown_dsn(dsn: str) -> str:
    """What may be shown of a DSN (pages, the API, exports, logs, errors): without any keyword that can carry a
    secret; nothing when libpq cannot parse it (it cannot be vouched for)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return ""
    if not any(k in params for k in SECRET_KEYWORDS):
        return dsn
    return make_conninfo(**{k: v for k, v in params.items() if k not in SECRET_KEYWORDS})


def password_env_problem(name: str) -> str | None:
    """Why ``name`` may not be a cluster's password_env (empty: none), or None."""
    if name and (
        not name.startswith(PASSWORD_ENV_PREFIX) or not _ENV_NAME.fullmatch(name) or name == PASSWORD_ENV_PREFIX
    ):
        return f"must name an environment variable whose name starts with {PASSWORD_ENV_PREFIX} (capitals, digits, _)"
    return None


def destinations(dsns: Iterable[str]) -> frozenset[tuple[str, str, str, str]]:
    """Where a cluster's password goes: each node's host, port, user and database."""
    found = set()
    for dsn in dsns:
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            params = {"host": dsn}  # refused when stored; compared as it is
        found.add(tuple(str(params.get(k) or "") for k in ("host", "port", "user", "dbname")))
    return frozenset(found)
