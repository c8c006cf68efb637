"""Authentication as cheap as it can safely be: Django's database sessions and model backend, each lookup one plain
statement rather than an ORM query compiled again on every request, and a user's permissions in one statement rather
than two: the ids of those the user holds (three tables, not five: PostgreSQL plans it in about a quarter of the
time), named from a map each process keeps. What an id names is set by migrations (which add permissions, and rename
them with their model); an id new to the process makes it read the map again, and a deploy that migrates restarts the
web processes.

Measured in process (docs/benchmarks.md, load): of the 1.7 ms Django spent on a login-required page that does nothing,
finding the session and its user took about 1.4 ms, mostly compiling the same two ORM queries. Nothing of a session or a
user is cached: the session, the user and the user's grants are read from Seamline's database on every request that
needs them, exactly as Django's own classes read them, so a logout, a password change (the session's hash no longer
matches), a deactivated user or a lockout take effect on the next request, a deleted session can never come back, and
Redis plays no part. tests/test_auth.py holds these classes to Django's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

# Seamline's users are django.contrib.auth's own (AUTH_USER_MODEL is not swapped), in its own tables.
SESSION_SQL = "SELECT session_data, expire_date FROM django_session WHERE session_key = %s AND expire_date > %s"
USER_SQL = "SELECT {columns} FROM auth_user WHERE id = %s"
# every permission, by id: what a permission's id stands for is fixed when migrations create it (ids are never
# reused), so a process reads it once and again only when a grant names an id it has not seen
NAMES_SQL = (
    "SELECT p.id, ct.app_label, p.codename"
    " FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"
)
# which permissions a user holds (their own and their groups'), read on every request that asks: a grant or a
# revocation takes effect at once
GRANTED_SQL = (
    "SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %(user)s"
    " UNION SELECT permission_id FROM auth_group_permissions"
    " WHERE group_id IN (SELECT group_id FROM auth_user_groups WHERE user_id = %(user)s)"
)


class SessionStore(db.SessionStore):
    """django.contrib.sessions.backends.db's store (SESSION_ENGINE = "dashboard.auth"), its session read with one
    plain statement. Everything else (creation, saving, deletion, expiry) is Django's own."""

    def _get_session_from_db(self) -> Any:
        with connections[router.db_for_read(self.model)].cursor() as cursor:
            cursor.execute(SESSION_SQL, [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])


class ModelBackend(backends.ModelBackend):
    """Django's model backend, its user read with one plain statement and all of a user's permissions (their own
    and their groups') with one more. Authentication itself is Django's own."""

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        fields = model._meta.concrete_fields
        alias = router.db_for_read(model)
        with connections[alias].cursor() as cursor:
            cursor.execute(
                USER_SQL.format(columns=", ".join(f.column for f in fields)), [model._meta.pk.to_python(user_id)]
            )
            row = cursor.fetchone()
        if row is None:
            return None
        user = model.from_db(alias, [f.attname for f in fields], row)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with connections[router.db_for_read(Permission)].cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(NAMES_SQL)
                    user_obj._perm_cache = {f"{app_label}.{codename}" for _, app_label, codename in cursor.fetchall()}
                else:
                    cursor.execute(GRANTED_SQL, {"user": user_obj.pk})
                    user_obj._perm_cache = permission_names({pk for (pk,) in cursor.fetchall()}, cursor)
        return user_obj._perm_cache


_names: dict[int, str] = {}  # this process' map of permission ids to "app_label.codename"


def permission_names(ids: set[int], cursor: Any) -> set[str]:
    """The names of these permissions; the map read again (with ``cursor``) when one is new to this process."""
    if not ids <= _names.keys():
        read_names(cursor)
    return {_names[pk] for pk in ids if pk in _names}


def read_names(cursor: Any) -> None:
    """(Re)read this process' map of permission names."""
    global _names
    cursor.execute(NAMES_SQL)
    _names = {pk: f"{app_label}.{codename}" for pk, app_label, codename in cursor.fetchall()}
