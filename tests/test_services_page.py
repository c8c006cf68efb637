"""The Services page: the demo's four services with team and owned schemas, the team filter, its htmx partial."""

from __future__ import annotations

from django.urls import reverse

from catalog.models import Cluster, Contract, Ownership, Service

DEMO_SERVICES = {
    "user_service": ("identity", "shop.user_service"),
    "order_service": ("commerce", "shop.order_service"),
    "product_service": ("catalog", "shop.product_service"),
    "payment_service": ("payments", "payments"),
    "analytics": ("data", "analytics"),
}


def test_it_lists_the_demo_services_with_team_and_owned_schemas(viewer_client, demo_catalog):
    response = viewer_client.get(reverse("services"))
    assert response.status_code == 200
    rows = {s.name: s for s in response.context["services"]}
    assert set(rows) == set(DEMO_SERVICES)
    body = response.content.decode()
    for name, (team, owned) in DEMO_SERVICES.items():
        assert f"<strong>{name}</strong>" in body
        assert rows[name].team == team
        assert [o.label for o in rows[name].ownerships.all()] == [owned]
        assert f">{owned}</code>" in body


def test_it_shows_the_connection_budget_from_the_pool(viewer_client, demo_catalog):
    body = viewer_client.get(reverse("services")).content.decode()
    # order_service: (10 + 20) × 3
    assert 'title="(10 + 20) × 3">90</span>' in body


def test_it_filters_by_team_and_serves_the_partial_to_htmx(viewer_client, demo_catalog):
    response = viewer_client.get(reverse("services"), {"team": "commerce"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="service-table">')
    assert "<html" not in body
    assert [s.name for s in response.context["services"]] == ["order_service"]


def test_it_escapes_markup_from_the_catalog(viewer_client, db):
    Service.objects.create(name="<script>alert(1)</script>", team="<b>team</b>", description="a & b")
    body = viewer_client.get(reverse("services")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>team</b>" not in body


def test_its_query_count_does_not_grow_with_the_catalog(viewer_client, db, django_assert_max_num_queries):
    cluster = Cluster.objects.create(name="big", dsn="host=127.0.0.1 dbname=postgres")
    services = Service.objects.bulk_create(Service(name=f"svc{i:03}", team=f"team{i % 7}") for i in range(200))
    Ownership.objects.bulk_create(Ownership(service=s, cluster=cluster, database="db", schema=s.name) for s in services)
    Contract.objects.bulk_create(Contract(consumer=s, provider=services[0]) for s in services[1:])
    # with the names claimed twice (catalog.claims: 1), foreign tables, dblink calls, subscriptions and event
    # publications (catalog.paths: 4)
    with django_assert_max_num_queries(16):
        response = viewer_client.get(reverse("services"))
    assert len(response.context["services"]) == 200


def test_it_lists_services_by_name(viewer_client, demo_catalog):
    names = [s.name for s in viewer_client.get(reverse("services")).context["services"]]
    assert names == sorted(DEMO_SERVICES)  # all five, by name
