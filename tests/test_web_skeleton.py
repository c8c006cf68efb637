"""Login everywhere but /healthz, the navigation on every page, logging in and out, static assets served locally."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

# every page of the main navigation, with its label, in the navigation's order
NAV = [
    ("overview", "Overview"),
    ("services", "Services"),
    ("schemas", "Schemas"),
    ("paths", "Paths"),
    ("map", "Ownership map"),
    ("pools", "Pools"),
    ("workload_index", "Workload"),
    ("replication", "Replication"),
    ("transactions", "Transactions"),
    ("audits", "Audits"),
]
PAGES = [name for name, _ in NAV]


def test_it_answers_healthz_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*PAGES, "admin:index"])
def test_it_sends_anonymous_users_to_the_login_page(client, name):
    response = client.get(reverse(name), follow=True)
    assert response.redirect_chain[0][1] == 302
    assert response.request["PATH_INFO"] == reverse("login")


@pytest.mark.parametrize("name", PAGES)
def test_it_shows_every_page_with_the_navigation(viewer_client, name):
    response = viewer_client.get(reverse(name))
    assert response.status_code == 200
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', response.content.decode(), re.S).group(1)
    links = re.findall(r'<a href="([^"]+)"\s*(aria-current="page")?\s*>([^<]+)</a>', nav)
    assert [(href, label) for href, _, label in links] == [(reverse(n), label) for n, label in NAV]
    assert [href for href, current, _ in links if current] == [reverse(name)]  # this page, and only it, is current
    for href, _, _ in links:
        assert viewer_client.get(href).status_code == 200


def test_it_logs_in_and_out(client, viewer):
    from .conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "vera", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("overview")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("overview")).status_code == 302


def test_it_rejects_a_wrong_password(client, viewer):
    response = client.post(reverse("login"), {"username": "vera", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_refuses_logout_by_get(viewer_client):
    assert viewer_client.get(reverse("logout")).status_code == 405


def test_it_lets_only_staff_into_the_django_admin(viewer_client, admin_user, client):
    assert viewer_client.get(reverse("admin:index")).status_code == 302
    client.force_login(admin_user)
    response = client.get(reverse("admin:catalog_service_changelist"))
    assert response.status_code == 200


def test_it_serves_htmx_and_plotly_from_static_files(viewer_client):
    from django.contrib.staticfiles import finders

    body = viewer_client.get(reverse("overview")).content.decode()
    assert "/static/django_htmx/htmx" in body
    # every script, stylesheet and image comes from this site: no absolute or protocol-relative URL in src/href
    # (a plain "cdn" search once failed on a random CSRF token that happened to contain those letters)

    assert re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', body) == []
    assert finders.find("vendor/plotly/plotly.min.js")
    assert finders.find("django_htmx/htmx-2.min.js")
