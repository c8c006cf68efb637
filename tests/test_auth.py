"""dashboard/auth.py: Django's database sessions and model backend with cheaper lookups, held to Django's own: the
same user, the same permissions, the same session; and nothing cached, so a logout, a password change or a
deactivation take effect on the very next request, and a logged-out session never comes back."""

from __future__ import annotations

import pytest
from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.auth import ModelBackend, SessionStore

from .conftest import PASSWORD

FLOOR = "/services/"  # any login-required page


def perm(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


@pytest.fixture
def users(django_user_model, viewer, operator, admin_user):
    own = django_user_model.objects.create_user("own-perms")
    own.user_permissions.add(perm("view_full_query"), perm("add_cluster"))
    both = django_user_model.objects.create_user("both")
    both.user_permissions.add(perm("add_service"))
    both.groups.add(Group.objects.get(name="Operator"))
    root = django_user_model.objects.create_superuser("root")
    gone = django_user_model.objects.create_user("gone", is_active=False)
    gone.groups.add(Group.objects.get(name="Operator"))
    return [viewer, operator, admin_user, own, both, root, gone]


def test_it_finds_the_same_user_as_djangos_backend(users):
    for user in users:
        ours, theirs = ModelBackend().get_user(user.pk), backends.ModelBackend().get_user(user.pk)
        if theirs is None:
            assert ours is None, user.username  # inactive: refused alike
            continue
        assert [getattr(ours, f.attname) for f in ours._meta.concrete_fields] == [
            getattr(theirs, f.attname) for f in theirs._meta.concrete_fields
        ]
        assert ours.get_session_auth_hash() == theirs.get_session_auth_hash()
    assert ModelBackend().get_user(999_999) is None


def test_it_finds_the_same_permissions_as_djangos_backend_in_one_statement(users):
    ModelBackend().get_all_permissions(type(users[1]).objects.get(pk=users[1].pk))  # the map of names read
    for user in users:
        fresh = type(user).objects.get(pk=user.pk)  # no permission cache
        with CaptureQueriesContext(connection) as queries:
            ours = ModelBackend().get_all_permissions(fresh)
            ModelBackend().get_all_permissions(fresh)  # cached on the user object for the request
        theirs = backends.ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
        assert ours == theirs, user.username
        assert len(queries) == (1 if user.is_active else 0), user.username
    assert "dashboard.view_full_query" in ModelBackend().get_all_permissions(users[3])  # granted directly
    assert "dashboard.signal_session" in ModelBackend().get_all_permissions(users[1])  # through the Operator group


def test_a_permission_new_to_the_process_is_named_at_once(users, monkeypatch):
    from django.contrib.contenttypes.models import ContentType

    from dashboard import auth

    monkeypatch.setattr(auth, "_names", {})
    user = users[3]
    assert "dashboard.view_full_query" in ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    new = Permission.objects.create(
        codename="a_new_one", name="A new one", content_type=ContentType.objects.get_for_model(Permission)
    )  # as a migration adds one while the process runs
    user.user_permissions.add(new)
    with CaptureQueriesContext(connection) as queries:
        granted = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    assert "auth.a_new_one" in granted and "dashboard.view_full_query" in granted
    assert len(queries) == 3  # the user, the grants, the map read again
    user.user_permissions.remove(new)
    assert "auth.a_new_one" not in ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))


def test_it_reads_the_same_session_as_djangos_store(viewer, client):
    client.force_login(viewer)
    key = client.session.session_key
    assert SessionStore(key).load() == DjangoStore(key).load() != {}
    gone = SessionStore("no-such-session-key-at-all-0123")
    assert gone.load() == {} and gone.session_key is None


def test_a_request_costs_the_session_and_the_user_and_nothing_more(viewer_client):
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(reverse("healthz")).status_code == 200
    assert len(queries) == 0  # no session, no user: nothing
    viewer_client.get("/api/v1/health")  # rendered once
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get("/api/v1/health").status_code == 200  # served
    assert [q["sql"].split(" FROM ", 1)[1].split()[0] for q in queries] == ["django_session", "auth_user"]


def test_a_logged_out_session_never_comes_back(client, viewer):
    assert client.post(reverse("login"), {"username": viewer.username, "password": PASSWORD}).status_code == 302
    cookie = client.cookies["sessionid"].value
    assert client.get(FLOOR).status_code == 200
    client.post(reverse("logout"))
    thief = Client()
    thief.cookies["sessionid"] = cookie  # the old session's cookie, kept somewhere
    assert thief.get(FLOOR).status_code == 302
    assert thief.get(FLOOR, HTTP_HX_REQUEST="true").status_code == 302


def test_a_password_change_and_a_deactivation_end_other_sessions_at_once(client, viewer):
    client.force_login(viewer)
    assert client.get(FLOOR).status_code == 200
    viewer.set_password("another-horse-battery")
    viewer.save()  # elsewhere: the admin, or the user's other session
    assert client.get(FLOOR).status_code == 302
    client.force_login(viewer)
    assert client.get(FLOOR).status_code == 200
    type(viewer).objects.filter(pk=viewer.pk).update(is_active=False)
    assert client.get(FLOOR).status_code == 302
