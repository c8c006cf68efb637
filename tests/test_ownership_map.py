"""The ownership map from a real sync of the demo, in JSON, DOT and Mermaid, from the CLI and the web."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from catalog import ownership_map
from catalog.map_view import STYLES, UNDECLARED
from catalog.models import Cluster, Contract, Service
from catalog.paths import cross_service_edges
from catalog.sync import sync_cluster

from .test_map import _checkboxes, _kinds_drawn, _legend, a_view_of


@pytest.fixture
def synced_demo(demo_catalog):
    cluster = Cluster.objects.get(name="demo")
    sync_cluster(cluster)
    return cluster


def as_map(capsys, *args) -> dict:
    call_command("ownership_map", *args)
    return json.loads(capsys.readouterr().out)


def test_the_seed_view_reads_public_users_as_unowned(synced_demo, capsys):
    data = as_map(capsys, "--cluster", "demo", "--format", "json")
    edge = next(e for e in data["edges"] if e["object"] == "shop.user_service.shared_users")
    assert edge == {
        "consumer": "user_service",
        "provider": "(unowned)",
        "kind": "view",
        "object": "shop.user_service.shared_users",
        "source": "shop.public.users",
        "object_parts": ["shop", "user_service", "shared_users"],
        "source_parts": ["shop", "public", "users"],
        "declared": False,
        "cluster": "demo",
        # the view is SELECT *: it reads every column of the table
        "columns": [
            *("id", "email", "full_name", "country"),
            *("created_at", "last_login_at", "is_active", "marketing_opt_in"),
        ],
        "used": False,  # no statement of user_service touched it in the window (none was sampled)
    }
    assert {"name": "payment_service", "team": "payments", "owns": ["payments"]} in data["services"]


def test_it_finds_every_kind_of_cross_service_path_in_the_demo(synced_demo):
    edges = cross_service_edges([synced_demo.pk])
    kinds = {(e.consumer, e.provider, e.kind, e.object, e.source) for e in edges}
    # order_service reads product prices through a view: declared (order_service consumes product_service)
    assert (
        "order_service",
        "product_service",
        "view",
        "shop.order_service.product_prices",
        "shop.product_service.products",
    ) in kinds
    # a cross-service foreign key and a direct grant to order_service's role
    assert (
        "order_service",
        "product_service",
        "fk",
        "shop.order_service.order_items",
        "shop.product_service.products",
    ) in kinds
    grant = next(e for e in edges if e.kind == "grant" and e.source == "shop.product_service.products")
    assert grant.object == "order_svc" and "SELECT" in grant.privileges
    # views over views: customer_names reaches public.users through user_service.shared_users
    via = next(e for e in edges if e.object == "shop.order_service.customer_names" and e.source == "shop.public.users")
    assert via.via == ("shop.user_service.shared_users",)
    declared = {e.declared for e in edges if e.consumer == "order_service" and e.provider == "product_service"}
    assert declared == {True}
    # a PL/pgSQL body reading product prices: found by parsing it (PostgreSQL records nothing of it)
    body = next(e for e in edges if e.object == "shop.order_service.cart_value_now(p_order_id bigint)")
    assert (body.kind, body.provider, body.source, body.parsed, body.recorded) == (
        "function",
        "product_service",
        "shop.product_service.products",
        True,
        False,
    )
    # across databases: payments' foreign table over shop's user_service view, undeclared
    fdw = next(e for e in edges if e.kind == "fdw")
    assert (fdw.consumer, fdw.provider, fdw.object, fdw.source, fdw.source_cluster, fdw.declared) == (
        "payment_service",
        "user_service",
        "payments.payments.customers",
        "shop.user_service.shared_users",
        "demo",
        False,
    )
    # and the planted paths of issue 18 between databases: each exactly once, nothing else of their kinds
    assert sorted(
        (e.kind, e.consumer, e.provider, e.object, e.source, e.declared, e.columns)
        for e in edges
        if e.kind in ("fdw", "dblink", "replication", "event")
    ) == [
        ("event", "payment_service", "order_service", "order-events", "shop.order_service.outbox", True, ()),
        ("fdw", "payment_service", "user_service", "payments.payments.customers", "shop.user_service.shared_users",
         False, ("id", "email", "full_name", "country")),
        ("replication", "analytics", "order_service", "analytics.order_service.order_items",
         "shop.order_service.order_items", True, ("order_id", "line_no", "product_id", "quantity", "unit_price_cents")),
        ("replication", "analytics", "order_service", "analytics.order_service.orders", "shop.order_service.orders",
         True, ("id", "user_id", "status", "total_cents", "currency", "created_at", "updated_at")),
    ]  # fmt: skip


def test_a_contract_makes_a_path_declared(synced_demo):
    edges = [e for e in cross_service_edges() if e.consumer == "user_service" and e.provider == "(unowned)"]
    assert edges and not any(e.declared for e in edges)
    Contract.objects.filter(consumer__name="order_service", provider__name="product_service").delete()
    assert not any(e.declared for e in cross_service_edges() if e.provider == "product_service")


def test_it_writes_dot_and_mermaid(synced_demo, capsys):
    call_command("ownership_map", "--format", "dot")
    dot = capsys.readouterr().out
    assert dot.startswith("digraph ownership {")
    assert '"order_service" -> "product_service"' in dot
    assert re.search(
        r'"user_service" -> "\(unowned\)" \[label="\d+ view", style=solid, arrowhead=normal, color="#c62828"\]', dot
    )
    call_command("ownership_map", "--format", "mermaid")
    mermaid = capsys.readouterr().out
    assert mermaid.startswith("flowchart LR")
    assert '["order_service"]' in mermaid and '-.->|"1 fdw"|' in mermaid
    assert f"stroke:{UNDECLARED},stroke-dasharray:5 2" in mermaid


def test_it_escapes_hostile_names_in_dot_and_mermaid(db):
    Service.objects.create(name='evil "svc" <b>\\', team="t")
    dot = ownership_map.render("dot")
    assert '"evil \\"svc\\" <b>\\\\"' in dot
    mermaid = ownership_map.render("mermaid")
    assert '"evil #quot;svc#quot; #lt;b#gt;\\"' in mermaid
    assert "<b>" not in mermaid


def test_the_web_offers_the_same_downloads(synced_demo, viewer_client, capsys):
    call_command("ownership_map", "--cluster", "demo", "--format", "json")
    cli = capsys.readouterr().out
    response = viewer_client.get(reverse("map_download"), {"format": "json", "cluster": "demo", "level": "service"})
    assert response["Content-Disposition"] == 'attachment; filename="ownership-map.json"'
    assert response.content.decode() == cli
    call_command("ownership_map", "--cluster", "demo", "--group-by", "team")
    teams = viewer_client.get(reverse("map_download"), {"format": "json", "cluster": "demo"})  # the page's default
    assert teams.content.decode() == capsys.readouterr().out
    for fmt in ("dot", "mermaid"):
        assert viewer_client.get(reverse("map_download"), {"format": fmt}).status_code == 200
    assert viewer_client.get(reverse("map_download"), {"format": "pdf"}).status_code == 400


def test_an_unknown_cluster_is_a_clear_error(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No cluster named nowhere"):
        call_command("ownership_map", "--cluster", "nowhere")


def test_a_role_two_services_declare_gives_both_the_grant_path(synced_demo):
    user = Service.objects.get(name="user_service")
    user.db_roles = ["user_svc", "order_svc"]  # a shared role, as happens in real catalogs
    user.save()
    grants = {(e.consumer, e.source) for e in cross_service_edges() if e.kind == "grant" and e.object == "order_svc"}
    assert ("order_service", "shop.product_service.products") in grants
    assert ("user_service", "shop.product_service.products") in grants


def test_the_dot_download_draws_each_kind_in_its_style():
    shown = a_view_of([*STYLES, "telepathy"])
    dot = ownership_map.as_dot(shown)
    line = r'^  "(\w)" -> "(\w)" \[label="(\d+) (\w+)", style=(\w+), arrowhead=(\w+), color="(#\w+)"'
    line += r"(, constraint=false)?\];$"
    edges = re.findall(line, dot, re.MULTILINE)
    assert len(edges) == dot.count(" -> ") == len(shown.arrows)
    for (consumer, provider, count, kind, style, head, colour, back), arrow in zip(edges, shown.arrows, strict=True):
        assert (consumer, provider, int(count), kind) == (arrow.consumer.name, arrow.provider.name, arrow.count,
                                                          arrow.kind)  # fmt: skip
        assert (style, head, colour, bool(back)) == (arrow.style.dot_style, arrow.style.arrowhead, arrow.colour,
                                                     arrow.closes_cycle)  # fmt: skip
    looks = {(style, head) for _c, _p, _n, _k, style, head, _colour, _back in edges}
    assert len(looks) == len(STYLES) + 1  # each kind its own, and the one without a style apart


def test_the_mermaid_download_styles_each_link_by_its_number():
    shown = a_view_of([*STYLES, "telepathy"])
    mermaid = ownership_map.as_mermaid(shown)
    links = re.findall(r'^  (n\d) (\S+)\|"(\d+) (\w+)"\| (n\d)$', mermaid, re.MULTILINE)
    assert [(arrow, int(n), kind) for _a, arrow, n, kind, _b in links] == [
        (a.style.mermaid_arrow, a.count, a.kind) for a in shown.arrows
    ]
    assert len({arrow for _a, arrow, _n, kind, _b in links if kind in STYLES}) == 6  # -->, --o, --x, -.->, -.-o, -.-x
    looks: dict[int, str] = {}
    for numbers, look in re.findall(r"^  linkStyle ([\d,]+) (.+)$", mermaid, re.MULTILINE):
        for n in map(int, numbers.split(",")):
            assert n not in looks
            looks[n] = look
    assert sorted(looks) == list(range(len(shown.arrows)))
    for n, arrow in enumerate(shown.arrows):
        dash = f",stroke-dasharray:{arrow.style.dash}" if arrow.style.dash else ""
        assert looks[n] == f"stroke:{arrow.colour}{dash}"
    assert len({(a.style.mermaid_arrow, a.style.dash) for a in shown.arrows if a.kind in STYLES}) == len(STYLES)


def test_filtering_by_fdw_shows_only_the_foreign_tables(synced_demo, viewer_client):
    params = {"cluster": "demo", "level": "service"}
    everything = viewer_client.get(reverse("map"), params).content.decode()
    assert {"view", "fdw"} <= _kinds_drawn(everything) and {"view", "fdw"} <= set(_legend(everything))
    page = viewer_client.get(reverse("map"), params | {"kind": "fdw"}).content.decode()
    assert _kinds_drawn(page) == {"fdw"} and _legend(page) == ["fdw"]
    assert [k for k, (checked, _) in _checkboxes(page).items() if checked] == ["fdw"]
    assert "through postgres_fdw" in page
    dot = viewer_client.get(reverse("map_download"), params | {"kind": "fdw", "format": "dot"}).content.decode()
    assert dot.count(" -> ") == dot.count(' fdw", style=dashed, arrowhead=normal') > 0
    mermaid = viewer_client.get(reverse("map_download"), params | {"kind": "fdw", "format": "mermaid"})
    assert set(re.findall(r"^  n\d+ (\S+)\|", mermaid.content.decode(), re.MULTILINE)) == {"-.->"}
