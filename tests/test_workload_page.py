"""The Workload page, a statement's page, the workload command and the run-time paths, on planted statements
samples: shares and top statements per service, regressions, paths from one service's role to another's relation,
masked texts (whole only with the permission), names escaped, and a page served from its fragment for one
statement of authentication."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Cluster, Database, Relation, Schema, Service
from dashboard import partitions
from dashboard.models import StatementSample, StatementText
from dashboard.statements import workload

LONG_TAIL = " AND x = $2" * 40  # a long text: cut for a viewer, whole for an Operator


@pytest.fixture
def planted(db):
    now = timezone.now()
    partitions.ensure({partitions.day_of(now - timedelta(hours=h)) for h in (0, 1, 2, 3)})
    cluster = Cluster.objects.create(name="wl-page", dsn="host=127.0.0.1 port=9 dbname=shop")
    orders = Service.objects.create(name="orders", team="commerce", db_roles=["orders_svc"], search_path=["orders"])
    Service.objects.create(name="<b>catalog</b>", team="cat", db_roles=["catalog_svc"])
    shop = Database.objects.create(cluster=cluster, name="shop")
    products = Schema.objects.create(database=shop, name="products", service=Service.objects.get(team="cat"))
    own = Schema.objects.create(database=shop, name="orders", service=orders)
    Relation.objects.create(schema=products, name="items", kind="table")
    Relation.objects.create(schema=own, name="orders", kind="table")
    texts = {
        1: ("SELECT", "SELECT * FROM products.items WHERE id = $1" + LONG_TAIL, [["products", "items", "read"]]),
        -2: (
            "UPDATE",
            "UPDATE items SET n = $1",
            [[None, "items", "write"]],
        ),  # ids are signed; unqualified: orders' path has none
        3: ("UPDATE", "UPDATE orders SET n = $1", [[None, "orders", "write"]]),
    }
    for queryid, (command, text, relations) in texts.items():
        StatementText.objects.create(
            cluster=cluster, queryid=queryid, command=command, utility=False, text=text, relations=relations
        )

    def sample(minutes_ago: float, queryid: int, service: str, role: str, calls: int, total_ms: float) -> None:
        StatementSample.objects.create(
            cluster=cluster,
            node="primary",
            ended_at=now - timedelta(minutes=minutes_ago),
            service=service,
            database="shop",
            role=role,
            queryid=queryid,
            calls=calls,
            total_ms=total_ms,
            rows=calls,
            shared_blks_hit=90,
            shared_blks_read=10,
            temp_blks_written=0,
            wal_bytes=0,
        )

    sample(90, 1, "orders", "orders_svc", 60, 60.0)  # the hour before: 1 ms mean
    sample(10, 1, "orders", "orders_svc", 60, 180.0)  # this hour: 3 ms mean, a regression
    sample(10, -2, "orders", "orders_svc", 5, 5.0)
    sample(10, 3, "orders", "orders_svc", 10, 10.0)
    sample(10, 9, "<b>catalog</b>", "catalog_svc", 40, 5.0)
    sample(10, 0, "", "", 7, 0.5)  # other statements, unattributed
    return cluster


def test_the_summary_has_shares_tops_and_runtime_paths(planted):
    body = workload.summary(planted, "1h")
    by = {s["service"]: s for s in body["services"]}
    assert by["orders"]["calls"] == 75 and by["orders"]["total_ms"] == 195.0
    assert by["orders"]["share"] == round(195.0 / 200.5, 4)
    assert body["unattributed"]["calls"] == 7 and body["unattributed"]["top"] == []  # "other statements" are no top
    top = by["orders"]["top"][0]
    assert top["queryid"] == 1 and top["mean_ms"] == 3.0 and top["cache_hit_ratio"] == 0.9
    assert top["relations"] == [{"schema": "products", "name": "items", "access": "read"}]
    assert body["runtime_paths"] == [
        {
            "consumer": "orders",
            "provider": "<b>catalog</b>",
            "relation": "shop.products.items",
            "access": "read",
            "calls": 60,
            "total_ms": 180.0,
        }
    ]
    # the unqualified UPDATE of items resolves through orders' search_path to nothing: listed, not guessed
    assert body["unresolved"] == [{"queryid": -2, "service": "orders", "reason": "unresolved", "name": "items"}]


def test_a_regression_is_a_doubled_mean_with_enough_calls_in_both_windows(planted):
    found = workload.regressions(planted, "1h")
    assert [(r["queryid"], r["factor"], r["calls"], r["previous_calls"]) for r in found] == [(1, 3.0, 60, 60)]
    assert workload.regressions(planted, "1h", services={"<b>catalog</b>"}) == []


def test_the_page_escapes_names_and_shows_whole_texts_only_with_the_permission(
    planted, viewer_client, client, operator
):
    url = reverse("workload", args=[planted.pk])
    page = viewer_client.get(url).content.decode()
    assert "&lt;b&gt;catalog&lt;/b&gt;" in page and "<b>catalog</b>" not in page
    assert "products.items" in page and LONG_TAIL not in page  # cut for a viewer
    assert "shop.products.items" in page  # the run-time path
    client.force_login(operator)
    assert LONG_TAIL in client.get(url).content.decode()
    filtered = viewer_client.get(url, {"service": "<b>catalog</b>"}).content.decode()
    assert "products.items WHERE" not in filtered  # orders' statements filtered out


def test_a_served_section_costs_one_statement(planted, viewer_client):
    url = reverse("workload", args=[planted.pk])
    viewer_client.get(url, HTTP_HX_REQUEST="true")  # rendered and kept
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["ETag"]
    assert len(queries) == 1  # the session, its user and their grants
    assert viewer_client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_the_charts_and_a_statements_page(planted, viewer_client):
    figure = viewer_client.get(reverse("workload_history", args=[planted.pk]), {"window": "6h", "by": "team"}).json()
    assert {t["name"] for t in figure["data"]} == {"commerce", "cat", "unattributed or shared"}
    buckets, series = workload.time_series(planted, "6h", "service")
    assert series["orders"][0] is not None and series["orders"][-1] is not None  # the hour before, and this one
    assert None in series["orders"]  # no sample between them: a gap, not a ramp from one to the other
    page = viewer_client.get(reverse("statement", args=[planted.pk, 1]))
    assert page.status_code == 200 and "products.items" in page.content.decode()
    series = viewer_client.get(reverse("statement_history", args=[planted.pk, 1]), {"window": "6h"}).json()
    assert sum(series["data"][0]["y"]) == 120  # calls in both hours
    assert viewer_client.get(reverse("statement", args=[planted.pk, 424242])).status_code == 404
    assert viewer_client.get(reverse("statement", args=[planted.pk, -2])).status_code == 200  # a negative id


def test_the_workload_command_prints_the_documented_json(planted):
    out = StringIO()
    call_command("workload", planted.name, "--window", "1h", "--format", "json", stdout=out)
    body = json.loads(out.getvalue())
    assert {"cluster", "window", "sampled_at", "services", "unattributed", "runtime_paths"} <= body.keys()
    assert body["cluster"] == "wl-page" and body["window"] == "1h"
    assert [p["consumer"] for p in body["runtime_paths"]] == ["orders"]
    assert {"queryid", "calls", "total_ms", "mean_ms", "rows", "text_masked", "relations"} <= body["services"][0][
        "top"
    ][0].keys()


def test_a_cluster_whose_statements_cannot_be_read_says_so_never_zeros(db, viewer_client):
    cluster = Cluster.objects.create(name="wl-none", dsn="host=127.0.0.1 port=9 dbname=x")
    page = viewer_client.get(reverse("workload", args=[cluster.pk])).content.decode()
    assert "No node&#x27;s statement statistics can be read" in page or "No node's statement statistics" in page
    assert "not sampled yet" in page


def test_a_services_page_lists_its_top_statements(planted, viewer_client):
    orders = Service.objects.get(name="orders")
    panel = viewer_client.get(reverse("service_statements", args=[orders.pk])).content.decode()
    assert "wl-page" in panel and "products.items WHERE" in panel and "UPDATE orders SET" in panel
    other = Service.objects.create(name="idle-service")
    assert (
        "No statement of this service"
        in viewer_client.get(reverse("service_statements", args=[other.pk])).content.decode()
    )
    page = viewer_client.get(reverse("service", args=[orders.pk])).content.decode()
    assert reverse("service_statements", args=[orders.pk]) in page  # the panel the service page loads
