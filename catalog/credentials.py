"""Credentials of monitored clusters, resolved without ever storing or showing a password, and the DSN rules that
keep secrets out of the catalog.

Passwords come from nowhere (trust, peer, a libpq service file or passfile), from an environment variable named in
the catalog (``password_env``), or from a Fernet token stored in the catalog and decrypted with a key from
``SEAMLINE_FERNET_KEYS``. A missing or wrong key fails closed with a clear error.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from psycopg.conninfo import conninfo_to_dict

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
