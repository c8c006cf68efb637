"""The architects' pages: what each shows on the synced demo, hostile names escaped, query counts that do not grow
with the catalog, and Sync now as a permission-checked POST."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import Cluster, Contract, Database, Dependency, Grant, Ownership, Relation, Schema, Service, SyncRun
from catalog.sync import sync_cluster
from catalog.versioning import bump


@pytest.fixture
def synced_demo(demo_catalog):
    cluster = Cluster.objects.get(name="demo")
    sync_cluster(cluster)
    return cluster


@pytest.fixture
def big_catalog(db):
    """200 services, each owning a schema with relations, views reading the next service, FKs and grants."""
    cluster = Cluster.objects.create(name="big", dsn="host=127.0.0.1 dbname=postgres")
    database = Database.objects.create(cluster=cluster, name="db")
    services = Service.objects.bulk_create(
        Service(name=f"svc{i:03}", team=f"team{i % 7}", db_roles=[f"role{i:03}"]) for i in range(200)
    )
    Ownership.objects.bulk_create(Ownership(service=s, cluster=cluster, database="db", schema=s.name) for s in services)
    Contract.objects.bulk_create(Contract(consumer=s, provider=services[0]) for s in services[1:])
    schemas = Schema.objects.bulk_create(Schema(database=database, name=s.name, service=s) for s in services)
    tables = Relation.objects.bulk_create(Relation(schema=s, name="t", kind="table", columns=["id"]) for s in schemas)
    views = Relation.objects.bulk_create(Relation(schema=s, name="v", kind="view", columns=["id"]) for s in schemas)
    Dependency.objects.bulk_create(
        Dependency(kind="view", consumer_relation=views[i], source=tables[(i + 1) % 200]) for i in range(200)
    )
    Dependency.objects.bulk_create(
        Dependency(kind="fk", consumer_relation=tables[i], source=tables[(i + 2) % 200], name="fk") for i in range(200)
    )
    Grant.objects.bulk_create(
        Grant(relation=tables[i], grantee=f"role{(i + 3) % 200:03}", privileges=["SELECT"]) for i in range(200)
    )
    return cluster


def test_the_services_page_counts_paths_in_and_out(viewer_client, synced_demo):
    response = viewer_client.get(reverse("services"))
    rows = {s.name: s for s in response.context["services"]}
    assert rows["product_service"].inbound_count >= 3  # order_service's view, FK and grant
    assert rows["order_service"].outbound_count >= 6
    assert rows["order_service"].relation_count == 8  # with its outbox
    assert "unowned schema" in response.content.decode()


def test_the_service_page_shows_who_reads_its_data_and_how(viewer_client, synced_demo):
    product = Service.objects.get(name="product_service")
    body = viewer_client.get(reverse("service", args=[product.pk])).content.decode()
    assert "shop.order_service.product_prices" in body
    assert "shop.product_service.products" in body
    assert "Who reads its data, and how" in body


def test_the_relation_page_shows_the_blast_radius(viewer_client, synced_demo):
    users = Relation.objects.get(schema__name="public", name="users")
    response = viewer_client.get(reverse("relation", args=[users.pk]))
    objects = {(d.kind, d.object) for d in response.context["dependents"]}
    assert ("view", "shop.user_service.shared_users") in objects
    assert ("view", "shop.order_service.order_summaries") in objects  # two views deep
    assert ("fk", "shop.order_service.orders") in objects
    assert ("grant", "order_svc") in objects
    assert response.context["other_services"] == ["order_service", "user_service"]


def test_the_paths_page_filters_by_kind_service_and_declared(viewer_client, synced_demo):
    response = viewer_client.get(reverse("paths"), {"kind": "fk", "declared": "no"}, headers={"HX-Request": "true"})
    edges = response.context["edges"]
    assert edges and all(e.kind == "fk" and not e.declared for e in edges)
    assert response.content.decode().lstrip().startswith('<section class="card" id="path-table">')
    # payment_service, in a database of its own, reaches shop only through its foreign table (and the grant to its
    # role that the foreign table's user mapping needs), and the order events it subscribes to
    response = viewer_client.get(reverse("paths"), {"service": "payment_service"})
    assert {(e.kind, e.object) for e in response.context["edges"]} == {
        ("fdw", "payments.payments.customers"),
        ("grant", "payment_svc"),
        ("event", "order-events"),
    }
    response = viewer_client.get(reverse("paths"), {"kind": "replication"})
    assert {(e.consumer, e.provider, e.object, e.source, e.subscription) for e in response.context["edges"]} == {
        ("analytics", "order_service", f"analytics.order_service.{t}", f"shop.order_service.{t}", "analytics_orders")
        for t in ("orders", "order_items")
    }


def test_the_schema_pages_show_owners_and_unowned(viewer_client, synced_demo):
    response = viewer_client.get(reverse("schemas"), {"unowned": "1"})
    assert {s.name for s in response.context["schemas"]} == {"public"}
    public = Schema.objects.get(database__name="shop", name="public")
    body = viewer_client.get(reverse("schema", args=[public.pk])).content.decode()
    assert "(unowned)" in body and "users" in body


def test_the_map_serves_its_view_as_data(viewer_client, synced_demo):
    assert viewer_client.get(reverse("map")).status_code == 200
    data = viewer_client.get(reverse("map_data"), {"cluster": "demo", "level": "service"}).json()
    names = {n["name"] for n in data["nodes"]}
    assert {"order_service", "product_service", "user_service", "(unowned)"} <= names
    assert sum(e["count"] for e in data["edges"]) + sum(n["internal"] for n in data["nodes"]) == data["paths"]


def test_pages_escape_names_from_the_database(viewer_client, db):
    cluster = Cluster.objects.create(name="c", dsn="host=x")
    database = Database.objects.create(cluster=cluster, name="<b>db</b>")
    schema = Schema.objects.create(database=database, name='<script>alert("s")</script>', comment="<i>c</i>")
    relation = Relation.objects.create(schema=schema, name="<img src=x>", kind="table", comment="<u>x</u>")
    for url in (reverse("schemas"), reverse("schema", args=[schema.pk]), reverse("relation", args=[relation.pk])):
        body = viewer_client.get(url).content.decode()
        for raw in ('<script>alert("s")</script>', "<img src=x>", "<b>db</b>", "<i>c</i>", "<u>x</u>"):
            assert raw not in body


@pytest.mark.parametrize(
    ("name", "args", "max_queries"),
    [
        # the paths cost four queries more since issue 18: foreign tables, dblink calls in function bodies,
        # logical replication subscriptions, event publications
        ("services", [], 17),
        ("service", ["first_service"], 18),
        ("schemas", [], 8),
        ("schema", ["first_schema"], 10),
        # and its blast radius from other databases (every cluster's paths, memoized), who reads each column, and
        # whether it is a declared outbox
        ("relation", ["first_relation"], 21),
        ("paths", [], 15),  # and what ran (the statements: none here)
        ("map", [], 17),
        ("map_data", [], 15),
        ("cluster", ["cluster"], 12),
    ],
)
def test_page_query_counts_do_not_grow_with_the_catalog(
    viewer_client, big_catalog, django_assert_max_num_queries, name, args, max_queries
):
    ids = {
        "first_service": Service.objects.order_by("pk").first().pk,
        "first_schema": Schema.objects.order_by("pk").first().pk,
        "first_relation": Relation.objects.order_by("pk").first().pk,
        "cluster": big_catalog.pk,
    }
    with django_assert_max_num_queries(max_queries):
        response = viewer_client.get(reverse(name, args=[ids[a] for a in args]))
    assert response.status_code == 200


def test_sync_now_needs_the_permission_and_a_post(viewer_client, viewer, synced_demo):
    url = reverse("cluster_sync", args=[synced_demo.pk])
    assert viewer_client.get(url).status_code == 405
    assert viewer_client.post(url).status_code == 403
    assert not SyncRun.objects.exists()
    viewer.user_permissions.add(Permission.objects.get(codename="add_syncrun"))
    response = viewer_client.post(url)
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert run.requested_by == "vera"
    # a second request while one is queued starts nothing new
    viewer_client.post(url)
    assert SyncRun.objects.count() == 1


def test_the_paths_page_is_paginated_and_keeps_its_filters(viewer_client, big_catalog):
    response = viewer_client.get(reverse("paths"), {"kind": "view"})
    assert response.context["page"].paginator.count == 200
    assert len(response.context["edges"]) == 100
    body = response.content.decode()
    assert "?kind=view&amp;page=2" in body
    second = viewer_client.get(reverse("paths"), {"kind": "view", "page": "2"}, headers={"HX-Request": "true"})
    assert len(second.context["edges"]) == 100
    assert second.context["edges"][0] != response.context["edges"][0]


def test_a_service_page_lists_the_first_paths_and_links_to_the_rest(viewer_client, big_catalog):
    Grant.objects.bulk_create(
        Grant(relation=r, grantee="role001", privileges=["SELECT"])
        for r in Relation.objects.exclude(schema__service=Service.objects.get(name="svc001"))[:120]
    )
    bump()  # bulk_create sends no signal: say the catalog changed, as sync does
    response = viewer_client.get(reverse("service", args=[Service.objects.get(name="svc001").pk]))
    assert len(response.context["outbound"]) == 50
    assert response.context["outbound_more"] > 0
    assert f"{reverse('paths')}?service=svc001" in response.content.decode()


def test_paths_are_computed_once_per_catalog_version(viewer_client, big_catalog, django_assert_num_queries):
    def declared() -> set[bool]:
        edges = viewer_client.get(reverse("paths"), {"service": "svc005", "kind": "view"}).context["edges"]
        return {e.declared for e in edges if e.consumer == "svc005" and e.provider == "svc006"}

    assert declared() == {False}  # svc005's view reads svc006's table, and no contract covers it
    with django_assert_num_queries(4):  # session and user, catalog version, services, clusters: no path query
        viewer_client.get(reverse("paths"))
    # a new contract moves the version (a signal), and the next page sees it
    Contract.objects.create(consumer=Service.objects.get(name="svc005"), provider=Service.objects.get(name="svc006"))
    assert declared() == {True}


def test_the_cluster_page_tells_a_sync_from_the_command_line(viewer_client, demo_catalog):
    from django.core.management import call_command

    cluster = Cluster.objects.get(name="demo")
    assert "Never synced." in viewer_client.get(reverse("cluster", args=[cluster.pk])).content.decode()
    SyncRun.objects.create(cluster=cluster, status=SyncRun.Status.FAILED, error="unreachable: boom")
    assert "unreachable: boom" in viewer_client.get(reverse("cluster", args=[cluster.pk])).content.decode()
    call_command("sync", "demo")  # newer than the failed run: the page shows the success
    body = viewer_client.get(reverse("cluster", args=[cluster.pk])).content.decode()
    assert "Synced" in body and "unreachable: boom</p>" not in body


def test_a_schema_of_thousands_of_relations_is_shown_a_page_at_a_time(viewer_client, db):
    cluster = Cluster.objects.create(name="wide", dsn="host=127.0.0.1 dbname=postgres")
    schema = Schema.objects.create(database=Database.objects.create(cluster=cluster, name="db"), name="wide")
    Relation.objects.bulk_create(Relation(schema=schema, name=f"t{n:04}", kind="table") for n in range(2500))
    first = viewer_client.get(f"/schemas/{schema.pk}/").content.decode()
    assert first.count('<td><a href="/relations/') == 200 and "t0000" in first and "t0200" not in first
    assert "page 1 of 13 (2500 in all)" in first and "?page=2" in first
    last = viewer_client.get(f"/schemas/{schema.pk}/", {"page": 13}).content.decode()
    assert last.count('<td><a href="/relations/') == 100 and "t2499" in last and "previous" in last
    assert viewer_client.get(f"/schemas/{schema.pk}/", {"page": "x"}).status_code == 200  # the first page
