"""Authentication as cheap as it can safely be: Django's database sessions and model backend, each lookup one plain
statement rather than an ORM query compiled again on every request, and a user's permissions in one statement rather
than two.

Measured in process (docs/benchmarks.md, load): of the 1.7 ms Django spent on a login-required page that does
nothing, finding the session and its user took about 1.4 ms, mostly compiling the same two ORM queries. Nothing is
cached: the session and the user are read from Seamline's database on every request, exactly as Django's own classes
read them, so a logout, a password change (the session's hash no longer matches), a deactivated user or a lockout
take effect on the next request, a deleted session can never come back, and Redis plays no part. tests/test_auth.py
holds these classes to Django's own.
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
# every permission (a superuser's), or those granted to the user directly or through a group
PERMISSIONS_SQL = (
    "SELECT ct.app_label, p.codename FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"
)
GRANTED_SQL = (
    " WHERE p.id IN (SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %(user)s"
    " UNION SELECT gp.permission_id FROM auth_group_permissions gp"
    " JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = %(user)s)"
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
            sql = PERMISSIONS_SQL if user_obj.is_superuser else PERMISSIONS_SQL + GRANTED_SQL
            with connections[router.db_for_read(Permission)].cursor() as cursor:
                cursor.execute(sql, {"user": user_obj.pk})
                user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
        return user_obj._perm_cache
