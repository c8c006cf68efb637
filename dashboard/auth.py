"""Authentication as cheap as it can safely be: Django's database sessions and model backend, read in one plain
statement per request rather than two ORM queries compiled again on every request. The session table
(dashboard.models.Session) keeps its user's id beside the signed data, so the session comes with its user's row;
a view that checks permissions (marked ``reads_grants``) has the ids of the user's grants come in the same
statement, named from a map each process keeps. What an id names is set by migrations (which add permissions, and
rename them with their model); an id new to the process makes it read the map again, and a deploy that migrates
restarts the web processes.

Measured (docs/benchmarks.md, load): of the 1.7 ms Django spent on a login-required page that does nothing, finding
the session and its user took about 1.4 ms, mostly compiling the same two ORM queries; as two plain statements, two
round trips to PostgreSQL were most of what was left. Nothing of a session or a user is cached: the session, the user
and the user's grants are read from Seamline's database on every request that needs them, and checked as Django's own
classes check them (the session's data names the user, the password's hash must match, the user must be active), so
a logout, a password change, a deactivated user or a lockout take effect on the next request, a deleted session can
never come back, and Redis plays no part. tests/test_auth.py holds these classes to Django's own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.contrib import auth
from django.contrib.auth import backends, get_user_model
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

# Seamline's users are django.contrib.auth's own (AUTH_USER_MODEL is not swapped), in its own tables.
# The session and its user's row (NULLs when the session names no user, or one that is gone); {grants}: with the
# ids of the user's permissions, own and groups', when the request's view checks them
SESSION_SQL = (
    "SELECT s.session_data, s.expire_date, s.user_id, {columns}{grants} FROM seamline_session s"
    " LEFT JOIN auth_user u ON u.id = s.user_id WHERE s.session_key = %s AND s.expire_date > %s"
)
# (an id twice, the user's and a group's, is one permission: no need for the server to remove it)
GRANTS_OF_SESSION = (
    ", ARRAY(SELECT permission_id FROM auth_user_user_permissions WHERE user_id = s.user_id"
    " UNION ALL SELECT gp.permission_id FROM auth_user_groups ug"
    " JOIN auth_group_permissions gp ON gp.group_id = ug.group_id WHERE ug.user_id = s.user_id)"
)
USER_SQL = "SELECT {columns} FROM auth_user WHERE id = %s"
# every permission, by id: what a permission's id stands for is fixed when migrations create it (ids are never
# reused), so a process reads it once and again only when a grant names an id it has not seen
NAMES_SQL = (
    "SELECT p.id, ct.app_label, p.codename"
    " FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"
)
# which permissions a user holds (their own and their groups'), when they did not come with the session
GRANTED_SQL = (
    "SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %(user)s"
    " UNION SELECT permission_id FROM auth_group_permissions"
    " WHERE group_id IN (SELECT group_id FROM auth_user_groups WHERE user_id = %(user)s)"
)


def reads_grants[V: Callable[..., HttpResponse]](view: V) -> V:
    """Mark a view that checks the user's permissions: its request reads them with the session and the user, in one
    statement, rather than in one more. (Unmarked, a permission check still works, with that one more.)"""
    view.reads_grants = True  # type: ignore[attr-defined]
    return view


class SessionStore(db.SessionStore):
    """django.contrib.sessions.backends.db's store (SESSION_ENGINE = "dashboard.auth") on dashboard.models.Session:
    saving writes the user's id beside the data; loading reads the session with its user's row (and their grants
    when ``reads_grants`` is set before it loads) in one plain statement. Everything else (creation, saving,
    deletion, expiry) is Django's own."""

    reads_grants = False
    user_row: tuple[Any, tuple[Any, ...]] | None = None  # (the user's id, their row's columns) as the statement read
    grants: list[int] | None = None

    @classmethod
    def get_model_class(cls) -> type:
        from .models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        session = super().create_model_instance(data)
        session.user_id = _pk(data.get(auth.SESSION_KEY))
        return session

    def _get_session_from_db(self) -> Any:
        fields = _user_fields()
        sql = SESSION_SQL.format(
            columns=", ".join(f"u.{f.column}" for f in fields), grants=GRANTS_OF_SESSION if self.reads_grants else ""
        )
        connection = connections[router.db_for_read(self.model)]
        prepared = getattr(connection, "prepared_cursor", connection.cursor)  # dashboard.database's, or Django's
        with prepared() as cursor:
            cursor.execute(sql, [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        data, expire_date, user_id, *user = row
        if user_id is not None and user[0] is not None:  # the user's row is there (its id is never NULL)
            self.user_row = (user_id, tuple(user[: len(fields)]))
            if self.reads_grants:
                self.grants = user[len(fields)]
        return self.model(session_key=self.session_key, session_data=data, expire_date=expire_date, user_id=user_id)


# The store of the request whose user is being found: what it read is its user's row, if the ids agree.
_loading: ContextVar[SessionStore | None] = ContextVar("seamline_session_loading", default=None)


def _user_fields() -> list[Any]:
    return get_user_model()._meta.concrete_fields


def _pk(value: Any) -> Any:
    """A user's id as the session's data holds it (a string), as the primary key's type; None if it is not one."""
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None


class ModelBackend(backends.ModelBackend):
    """Django's model backend, its user the row that came with the session (or one plain statement when it did
    not), all of a user's permissions (their own and their groups') with the session too when the view reads them,
    else in one more statement. Authentication itself is Django's own."""

    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        fields = _user_fields()
        alias = router.db_for_read(model)
        pk = _pk(user_id)
        store = _loading.get()
        with_session = store is not None and store.user_row is not None and store.user_row[0] == pk
        if with_session:
            row: Any = store.user_row[1]  # type: ignore[union-attr]
        else:
            with connections[alias].cursor() as cursor:
                cursor.execute(USER_SQL.format(columns=", ".join(f.column for f in fields)), [pk])
                row = cursor.fetchone()
            if row is None:
                return None
        user = model.from_db(alias, [f.attname for f in fields], row)
        if not self.user_can_authenticate(user):
            return None
        if with_session and store.grants is not None and not user.is_superuser:  # type: ignore[union-attr]
            user._perm_cache = permission_names(set(store.grants), alias)  # type: ignore[union-attr]
        return user

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            alias = router.db_for_read(Permission)
            if user_obj.is_superuser:
                read_names(alias)
                user_obj._perm_cache = set(_names.values())
            else:
                with connections[alias].cursor() as cursor:
                    cursor.execute(GRANTED_SQL, {"user": user_obj.pk})
                    granted = {pk for (pk,) in cursor.fetchall()}
                user_obj._perm_cache = permission_names(granted, alias)
        return user_obj._perm_cache


def get_user(request: HttpRequest) -> Any:
    """Django's ``auth.get_user`` (the session names the user and holds their password's hash, which must match),
    the user read with the session when it was."""
    if not hasattr(request, "_cached_user"):
        token = _loading.set(request.session)  # type: ignore[arg-type]
        try:
            request._cached_user = auth.get_user(request)  # type: ignore[attr-defined]
        finally:
            _loading.reset(token)
    return request._cached_user  # type: ignore[attr-defined]


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, ``request.user`` found by ``get_user`` above."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: get_user(request))


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's; and for a view marked ``reads_grants``, the session (not read yet: this is what reads it) is
    asked to bring the user's grants with it."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if getattr(view_func, "reads_grants", False):
            request.session.reads_grants = True  # type: ignore[attr-defined]
        return super().process_view(request, view_func, view_args, view_kwargs)


_names: dict[int, str] = {}  # this process' map of permission ids to "app_label.codename"


def permission_names(ids: set[int], alias: str) -> set[str]:
    """The names of these permissions; the map read again (from database ``alias``) when one is new to this
    process."""
    if not ids <= _names.keys():
        read_names(alias)
    return {_names[pk] for pk in ids if pk in _names}


def read_names(alias: str) -> None:
    """(Re)read this process' map of permission names."""
    global _names
    with connections[alias].cursor() as cursor:
        cursor.execute(NAMES_SQL)
        _names = {pk: f"{app_label}.{codename}" for pk, app_label, codename in cursor.fetchall()}
