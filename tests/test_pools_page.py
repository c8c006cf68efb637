"""The Pools screens, the service Live panel, the history figures and the API: read from snapshots and history,
never from a monitored server; stale, unreachable and unsampled nodes shown as such, never as zero connections."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from catalog.models import Cluster, Service
from dashboard import snapshots
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

from .conftest import pg


@pytest.fixture
def sampled(held_sessions, pools_cluster):
    """The held sessions sampled once on the primary and the replica."""
    sample_node(pools_cluster, PRIMARY)
    sample_node(pools_cluster, "pt-replica")
    return held_sessions


@pytest.fixture
def no_monitored_server():
    """Any attempt to reach a monitored server during the test fails it."""
    with mock.patch("catalog.monitored.MonitoredConnection.connect", side_effect=AssertionError("reached a server")):
        yield


def page(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text(html: str) -> str:
    """What a reader sees of the page: its text, tags left out (ages are <time> elements inside sentences)."""
    return re.sub(r"<[^>]+>", "", html)


def test_the_cluster_page_shows_every_held_session_counted_and_listed(
    sampled, pools_cluster, viewer_client, no_monitored_server
):
    html = page(viewer_client, f"/pools/{pools_cluster.pk}/")
    p = sampled.pids
    assert "pt_orders" in html and "checkout" in html and "pt_reports" in html
    assert "3 / 6" in html  # pt_orders' connections against its budget: (2 + 1) x 2
    for pid in p.values():
        assert f'<td class="num">{pid}</td>' in html
    assert "UPDATE pt_items SET v = v + ? WHERE id = ?" in html  # masked
    assert "v + 2 WHERE id = 1" not in html  # the full text is not for viewers
    assert "sampled 0 s ago" in text(html) or "sampled 1 s ago" in text(html)


def test_full_query_text_needs_its_permission(sampled, pools_cluster, client, viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="view_full_query"))
    client.force_login(viewer)
    html = page(client, f"/pools/{pools_cluster.pk}/")
    assert "UPDATE pt_items SET v = v + 2 WHERE id = 1" in html


def test_one_view_serves_the_page_and_its_live_partial(sampled, pools_cluster, viewer_client):
    partial = page(viewer_client, f"/pools/{pools_cluster.pk}/", HTTP_HX_REQUEST="true")
    assert partial.lstrip().startswith('<section id="live"')
    assert "<html" not in partial and "pt_orders" in partial
    assert 'hx-trigger="every 5s"' in partial


def test_the_pages_query_count_does_not_grow_with_sessions_clusters_or_services(
    sampled, pools_cluster, viewer_client, no_monitored_server
):
    """Rendering a page's live section (its fragment not current) and serving it (current) cost a fixed number of
    queries each, however many clusters and services the catalog holds."""
    service = pools_cluster.ownerships.get().service_id
    pages = {
        "cluster page": (f"/pools/{pools_cluster.pk}/", {}),
        "cluster partial": (f"/pools/{pools_cluster.pk}/", {"HTTP_HX_REQUEST": "true"}),
        "index page": ("/pools/", {}),
        "index partial": ("/pools/", {"HTTP_HX_REQUEST": "true"}),
        "service panel": (f"/services/{service}/live/", {}),
    }

    def counts() -> dict[str, tuple[int, int]]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        found = {}
        for name, (url, headers) in pages.items():
            snapshots.catalog_changed()  # what was rendered is outdated: this request renders
            with CaptureQueriesContext(connection) as rendered:
                page(viewer_client, url, **headers)
            with CaptureQueriesContext(connection) as served:
                page(viewer_client, url, **headers)
            found[name] = (len(rendered), len(served))
        return found

    before = counts()
    # the session with its user and the viewer's permissions (1), the cluster and its replicas (2), the services
    # shown and their owners (2); served, the page charts the services from one more read of the snapshot (owners,
    # services)
    assert before["cluster page"] == (5, 5)
    assert before["cluster partial"] == (5, 1)  # served: authentication and permissions only, in one statement
    assert before["index page"] == before["index partial"] == (3, 1)  # rendered: the clusters and their replicas
    assert before["service panel"] == (7, 1)  # rendered: the service, the clusters, its ownerships, services shown
    for i in range(10):
        other = Cluster.objects.create(name=f"more-{i}", dsn="host=127.0.0.1 port=9 dbname=x")
        other.replicas.create(name="r1", dsn="host=127.0.0.1 port=9 dbname=x")
        Service.objects.create(name=f"more-{i}", application_names=[f"more-{i}"])
    assert counts() == before


def test_fifty_viewers_send_nothing_to_the_monitored_server(sampled, pools_cluster, viewer_client):
    with mock.patch("catalog.monitored.MonitoredConnection.connect") as connect:
        for _ in range(50):
            page(viewer_client, f"/pools/{pools_cluster.pk}/", HTTP_HX_REQUEST="true")
    assert connect.call_count == 0


def test_a_stale_snapshot_is_shown_as_stale_with_its_figures(sampled, pools_cluster, viewer_client):
    snapshot = snapshots.read(pools_cluster.pk, PRIMARY)
    snapshot["sampled_at"] = (timezone.now() - timedelta(seconds=16)).isoformat()  # > 3 x 5 s
    snapshots.write(pools_cluster.pk, PRIMARY, snapshot, {})
    html = page(viewer_client, f"/pools/{pools_cluster.pk}/")
    assert "stale: last sample 16 s ago" in text(html) or "stale: last sample 17 s ago" in text(html)
    assert "3 / 6" in html  # the last figures, shown as the past
    index = page(viewer_client, "/pools/")
    assert "stale: last sample" in index


def test_a_node_never_sampled_or_unreachable_shows_no_numbers(pools_cluster, viewer_client):
    html = page(viewer_client, f"/pools/{pools_cluster.pk}/")
    assert "not sampled yet" in html and "3 / 6" not in html
    gone = pools_cluster.replicas.create(name="gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    sample_node(pools_cluster, gone.name)
    html = page(viewer_client, f"/pools/{pools_cluster.pk}/?node=gone")
    assert "unreachable since" in html and "OperationalError" in html
    index = page(viewer_client, "/pools/")
    row = index[index.index(">gone<") :][:600]
    assert "unreachable since" in row and '<td class="num">0</td>' not in row


def test_redis_down_leaves_pages_up_with_a_notice(pools_cluster, viewer_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    snapshots.client.cache_clear()
    try:
        for url in (f"/pools/{pools_cluster.pk}/", "/pools/"):
            assert "Live data unavailable" in page(viewer_client, url)
        service = Service.objects.get(name="pt_orders")
        assert "Live data unavailable" in page(viewer_client, f"/services/{service.pk}/live/?part=numbers")
        assert viewer_client.get("/api/v1/pools/pt").status_code == 503
    finally:
        snapshots.client.cache_clear()


def test_the_history_figure_stacks_states_with_the_budget_line(sampled, pools_cluster, viewer_client):
    sample_node(pools_cluster, PRIMARY)
    for window in ("1h", "6h", "24h", "7d"):
        response = viewer_client.get(f"/pools/{pools_cluster.pk}/history.json?service=pt_orders&window={window}")
        assert response.status_code == 200
        figure = response.json()
        names = [t["name"] for t in figure["data"]]
        assert names[-1] == "budget" and figure["data"][-1]["y"] == [6, 6]
        waiting = next(t for t in figure["data"] if t["name"] == "waiting on a lock")
        assert waiting["stackgroup"] == "sessions" and 1.0 in waiting["y"]
        assert len(waiting["x"]) <= 400  # bounded, whatever the window
    assert viewer_client.get(f"/pools/{pools_cluster.pk}/history.json?node=nope").status_code == 404


def test_the_service_page_has_a_live_panel(sampled, pools_cluster, viewer_client):
    service = Service.objects.get(name="pt_orders")
    assert f"/services/{service.pk}/live/?part=numbers" in page(viewer_client, f"/services/{service.pk}/")
    numbers = page(viewer_client, f"/services/{service.pk}/live/?part=numbers")
    assert "pt" in numbers and "3 / 6" in numbers
    charts = page(viewer_client, f"/services/{service.pk}/live/?part=charts")
    assert f"/pools/{pools_cluster.pk}/history.json?node=primary" in charts


def test_the_api_serves_snapshots_and_history(sampled, pools_cluster, viewer_client, no_monitored_server):
    body = viewer_client.get("/api/v1/pools/pt").json()
    primary = body["nodes"][0]
    assert (primary["node"], primary["status"]) == ("primary", "fresh")
    orders = next(s for s in primary["services"] if s["service"] == "pt_orders")
    assert (orders["total"], orders["idle_in_transaction"], orders["waiting"], orders["budget"]) == (3, 1, 1, 6)
    assert body["nodes"][1]["node"] == "pt-replica"
    history = viewer_client.get("/api/v1/pools/pt/history?service=pt_orders&window=1h").json()
    assert history["bucket_seconds"] == 15 and 1.0 in history["by_state"]["waiting"]
    assert viewer_client.get("/api/v1/pools/pt/history?window=2h").status_code == 422
    assert viewer_client.get("/api/v1/pools/nope").status_code == 404
    paths = viewer_client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/pools/{cluster}", "/api/v1/pools/{cluster}/history"} <= set(paths)


def test_markup_in_names_and_queries_is_escaped(held_sessions, pools_cluster, viewer_client):
    with pg(dbname="seamline_pools_test", application_name="<script>alert(1)</script>") as conn:
        conn.execute("SELECT '<b>not bold</b>' AS x")
        sample_node(pools_cluster, PRIMARY)
    html = page(viewer_client, f"/pools/{pools_cluster.pk}/")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
