"""dashboard/auth.py: Django's database sessions and model backend with cheaper lookups (the session, its user and,
for a view that checks them, the user's permissions in one statement), held to Django's own: the same user, the same
permissions, the same session; and nothing cached, so a logout, a password change or a
deactivation take effect on the very next request, and a logged-out session never comes back."""

from __future__ import annotations

import pytest
from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.backends import db
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Cluster
from dashboard.auth import ModelBackend, SessionStore
from dashboard.models import Session

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


class DjangosStore(db.SessionStore):
    """Django's own database store, on Seamline's session table (named as ours: the name salts the signature)."""

    @classmethod
    def get_model_class(cls) -> type:
        return Session


def test_it_reads_the_same_session_as_djangos_store(viewer, client):
    client.force_login(viewer)
    key = client.session.session_key
    djangos = type("SessionStore", (DjangosStore,), {"__qualname__": "SessionStore"})
    assert SessionStore(key).load() == djangos(key).load() != {}
    assert Session.objects.get(pk=key).user_id == viewer.pk  # the user's id, written beside the data
    gone = SessionStore("no-such-session-key-at-all-0123")
    assert gone.load() == {} and gone.session_key is None


def test_a_view_that_checks_permissions_reads_them_with_the_session(operator, viewer, client):
    """The cluster's Pools section shows more to an Operator: its request reads the session, the user and the
    grants in one statement, and the grants are the user's, exactly as Django's backend finds them."""
    cluster = Cluster.objects.create(name="grants", dsn="host=127.0.0.1 port=9 dbname=x")
    url = reverse("pools_cluster", args=[cluster.pk])
    for user in (operator, viewer):
        client.force_login(user)
        client.get(url, HTTP_HX_REQUEST="true")  # rendered (and kept) once
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert len(queries) == 1 and "ARRAY(SELECT permission_id" in queries[0]["sql"]
        assert response.wsgi_request.user.get_all_permissions() == backends.ModelBackend().get_all_permissions(
            type(user).objects.get(pk=user.pk)
        )
    assert response.wsgi_request.user.has_perm("dashboard.signal_session") is False  # the viewer's
    client.force_login(operator)
    assert client.get(url, HTTP_HX_REQUEST="true").wsgi_request.user.has_perm("dashboard.signal_session")


def test_the_sessions_data_decides_which_user_it_is(viewer, operator, client):
    """A user's id column that disagrees with the session's signed data (written by hand) is not trusted: the
    request is the data's user, read the slow way."""
    client.force_login(viewer)
    Session.objects.filter(pk=client.session.session_key).update(user=operator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(FLOOR)
    assert response.status_code == 200 and response.wsgi_request.user == viewer
    assert [q["sql"].split(" FROM ", 1)[1].split()[0] for q in queries[:2]] == ["seamline_session", "auth_user"]


def test_deleting_a_user_deletes_their_sessions(django_user_model, client):
    user = django_user_model.objects.create_user("leaving", password=PASSWORD)
    client.force_login(user)
    key = client.session.session_key
    user.delete()
    assert not Session.objects.filter(pk=key).exists()
    assert client.get(FLOOR).status_code == 302


def test_a_request_costs_one_statement_for_the_session_and_its_user(viewer_client):
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(reverse("healthz")).status_code == 200
    assert len(queries) == 0  # no session, no user: nothing
    viewer_client.get("/api/v1/health")  # rendered once
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get("/api/v1/health").status_code == 200  # served
    assert len(queries) == 1 and queries[0]["sql"].split(" FROM ", 1)[1].startswith("seamline_session")


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
