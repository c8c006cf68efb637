"""The JSON API at /api/v1/: authentication (session or bearer token, 401 JSON otherwise), no secret ever, hostile
names, pagination, the OpenAPI description, and query counts that do not grow with the catalog."""

from __future__ import annotations

import json
from typing import get_args
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from catalog import ownership_map
from catalog.api import EdgeKind, RelationKind
from catalog.map_view import Query
from catalog.models import (
    Cluster,
    Contract,
    Database,
    Dependency,
    Grant,
    Ownership,
    Relation,
    Replica,
    Schema,
    Service,
)
from catalog.paths import all_edges
from dashboard.models import ApiToken, hash_token

from . import leakwatch

API = "/api/v1/"
HOSTILE = '订单 "svc"/x'
ENCRYPTED_MARKER = "gAAAAABENCRYPTED-PASSWORD-MARKER"
ENV_NAME = "SEAMLINE_CLUSTER_PASSWORD_TEST_API"
DSN_PASSWORD = leakwatch.secret("hunter2-marker")
ENV_VALUE_MARKER = leakwatch.secret("env-password-value-marker-7f3a")
ENDPOINTS = [
    "clusters",
    "services",
    f"services/{quote(HOSTILE, safe='')}",
    "schemas",
    "relations",
    "paths",
    "ownership-map",
    "openapi.json",
]


@pytest.fixture
def catalog(db, monkeypatch):
    """A small catalog built with the ORM: a hostile service reads accounts' table through a view, a grant and an FK,
    and an unowned public table through another view."""
    monkeypatch.setenv(ENV_NAME, ENV_VALUE_MARKER)
    lab = Cluster.objects.create(
        name="lab",
        dsn="host=127.0.0.1 port=1 user=monitor dbname=postgres",
        password_env=ENV_NAME,
        encrypted_password=ENCRYPTED_MARKER,
        databases=["shop"],
        max_connections=100,
        superuser_reserved_connections=3,
    )
    Replica.objects.create(cluster=lab, name="lab-replica", dsn="host=127.0.0.1 port=2 user=monitor")
    accounts = Service.objects.create(name="accounts", team="identity", db_roles=["accounts_svc"], pool_size=5)
    hostile = Service.objects.create(
        name=HOSTILE, team="商务", db_roles=['role "x"'], pool_size=10, max_overflow=20, instances=3
    )
    Contract.objects.create(consumer=hostile, provider=accounts)
    Ownership.objects.create(service=accounts, cluster=lab, database="shop", schema="accounts")
    Ownership.objects.create(service=hostile, cluster=lab, database="shop", schema=HOSTILE)
    shop = Database.objects.create(cluster=lab, name="shop")
    s_accounts = Schema.objects.create(database=shop, name="accounts", service=accounts)
    s_hostile = Schema.objects.create(database=shop, name=HOSTILE, service=hostile, comment="<b>订单</b>")
    s_public = Schema.objects.create(database=shop, name="public")
    table = Relation.objects.create(
        schema=s_accounts, name="accounts", kind="table", has_primary_key=True, columns=["id", "name"], size_bytes=8192
    )
    users = Relation.objects.create(schema=s_public, name="users", kind="table", columns=["id"])
    view = Relation.objects.create(schema=s_hostile, name='v "names".x', kind="view", columns=["name"])
    orders = Relation.objects.create(schema=s_hostile, name="订单", kind="table", columns=["id", "account_id", "total"])
    shared = Relation.objects.create(schema=s_hostile, name="shared_users", kind="view", columns=["id"])
    Dependency.objects.create(kind="view", consumer_relation=view, source=table)
    Dependency.objects.create(kind="view", consumer_relation=shared, source=users)
    Dependency.objects.create(kind="fk", consumer_relation=orders, source=table, name="orders_account_fk")
    Grant.objects.create(relation=table, grantee='role "x"', privileges=["SELECT"])
    return lab


@pytest.fixture
def token(viewer) -> str:
    return ApiToken.objects.issue(viewer, "ci")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_answers_anonymous_requests_with_401_json_not_a_redirect(client, catalog, endpoint):
    response = client.get(API + endpoint)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_accepts_a_bearer_token_on_every_endpoint(client, catalog, token, endpoint):
    assert client.get(API + endpoint, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_accepts_a_logged_in_session_on_every_endpoint(viewer_client, catalog, endpoint):
    assert viewer_client.get(API + endpoint).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong", "Bearer ", "Bearer {token}x", "bearer {token_upper}"],
)
def test_it_rejects_a_wrong_token_with_401(client, catalog, token, header):
    value = header.format(token=token, token_upper=token.upper())
    response = client.get(API + "services", headers={"Authorization": value})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_it_rejects_a_wrong_token_even_alongside_a_valid_session(viewer_client, catalog):
    assert viewer_client.get(API + "services", headers=bearer("wrong")).status_code == 401


def test_it_rejects_the_tokens_of_inactive_users_and_deleted_tokens(client, catalog, viewer, token):
    viewer.is_active = False
    viewer.save()
    assert client.get(API + "services", headers=bearer(token)).status_code == 401
    viewer.is_active = True
    viewer.save()
    assert client.get(API + "services", headers=bearer(token)).status_code == 200
    ApiToken.objects.all().delete()
    assert client.get(API + "services", headers=bearer(token)).status_code == 401


def test_it_stores_only_the_hash_and_a_prefix_and_records_the_last_use(client, catalog, viewer):
    row, token = ApiToken.objects.issue(viewer, "ci")
    assert row.key_hash == hash_token(token) != token
    assert token.startswith(row.prefix) and len(row.prefix) < len(token)
    assert row.last_used_at is None
    client.get(API + "services", headers=bearer(token))
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_it_creates_a_token_from_the_command_and_prints_it_once(client, catalog, viewer, capsys):
    call_command("create_api_token", viewer.username, "--name", "deploy bot")
    out, err = capsys.readouterr()
    token = out.strip()
    assert "\n" not in token and token not in err
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.key_hash) == (viewer, "deploy bot", hash_token(token))
    assert client.get(API + "clusters", headers=bearer(token)).status_code == 200


def test_it_refuses_to_create_a_token_for_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user named"):
        call_command("create_api_token", "nobody")
    assert not ApiToken.objects.exists()


def test_it_never_shows_a_password_but_may_name_its_environment_variable(client, catalog, token):
    bodies = [client.get(API + endpoint, headers=bearer(token)).content.decode() for endpoint in ENDPOINTS]
    for body in bodies:
        assert ENCRYPTED_MARKER not in body
        assert ENV_VALUE_MARKER not in body
    (lab,) = client.get(API + "clusters", headers=bearer(token)).json()["items"]
    assert lab["password_env"] == ENV_NAME
    assert lab["password_source"] == "encrypted"
    assert "encrypted_password" not in lab


def test_it_strips_a_password_that_somehow_got_into_a_dsn(client, db, token):
    Cluster.objects.create(name="leaky", dsn=f"host=db1 user=monitor password={DSN_PASSWORD} dbname=postgres")
    body = client.get(API + "clusters", headers=bearer(token)).content.decode()
    assert DSN_PASSWORD not in body
    assert "host=db1" in body


def test_it_describes_clusters_with_replicas_and_settings(client, catalog, token):
    (lab,) = client.get(API + "clusters", headers=bearer(token)).json()["items"]
    assert lab["name"] == "lab"
    assert lab["replicas"] == [{"name": "lab-replica", "dsn": "host=127.0.0.1 port=2 user=monitor"}]
    assert lab["databases"] == ["shop"]
    assert [d["name"] for d in lab["synced_databases"]] == ["shop"]
    assert (lab["max_connections"], lab["superuser_reserved_connections"], lab["usable_connections"]) == (100, 3, 97)
    assert lab["synced_at"] is None


def test_it_round_trips_a_hostile_service_name_in_the_path(client, catalog, token):
    response = client.get(API + "services/" + quote(HOSTILE, safe=""), headers=bearer(token))
    assert response.status_code == 200
    service = response.json()
    assert service["name"] == HOSTILE
    assert service["team"] == "商务"
    assert service["pool"] == {"size": 10, "max_overflow": 20, "instances": 3, "budget": 90}
    assert service["owns"] == [f"shop.{HOSTILE}"]
    assert service["ownerships"] == [{"cluster": "lab", "database": "shop", "schema": HOSTILE}]
    assert service["consumes"] == ["accounts"]
    assert service["inbound"] == []
    outbound = {(e["kind"], e["provider"], e["object"]) for e in service["outbound"]}
    assert outbound == {
        ("view", "accounts", f'shop.{HOSTILE}.v "names".x'),
        ("view", "(unowned)", f"shop.{HOSTILE}.shared_users"),
        ("fk", "accounts", f"shop.{HOSTILE}.订单"),
        ("grant", "accounts", 'role "x"'),
    }
    grant = next(e for e in service["outbound"] if e["kind"] == "grant")
    assert grant["privileges"] == ["SELECT"]
    view = next(e for e in service["outbound"] if e["object"].endswith("x"))
    assert view["object_parts"] == ["shop", HOSTILE, 'v "names".x']
    assert "privileges" not in view  # exactly Edge.as_dict(): keys a kind does not have are absent, not null


def test_it_shows_a_service_s_inbound_paths_and_consumers(client, catalog, token):
    service = client.get(API + "services/accounts", headers=bearer(token)).json()
    assert service["consumed_by"] == [HOSTILE]
    assert {e["consumer"] for e in service["inbound"]} == {HOSTILE}
    assert service["outbound"] == []


def test_it_answers_404_json_for_an_unknown_service_or_cluster(client, catalog, token):
    response = client.get(API + "services/" + quote("no/such service", safe=""), headers=bearer(token))
    assert response.status_code == 404
    assert "no/such service" in response.json()["detail"]
    assert client.get(API + "ownership-map", {"cluster": "nope"}, headers=bearer(token)).status_code == 404


def test_it_lists_relations_with_names_parts_and_owning_service(client, catalog, token):
    items = client.get(API + "relations", headers=bearer(token)).json()["items"]
    by_name = {r["name"]: r for r in items}
    view = by_name[f'shop.{HOSTILE}.v "names".x']
    assert view["parts"] == ["shop", HOSTILE, 'v "names".x']
    assert (view["kind"], view["service"], view["column_count"], view["cluster"]) == ("view", HOSTILE, 1, "lab")
    table = by_name["shop.accounts.accounts"]
    assert (table["has_primary_key"], table["size_bytes"], table["column_count"]) == (True, 8192, 2)
    assert by_name["shop.public.users"]["service"] is None
    assert [r["name"] for r in items] == sorted(r["name"] for r in items)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"service": "accounts"}, ["shop.accounts.accounts"]),
        ({"service": "(unowned)"}, ["shop.public.users"]),
        ({"service": HOSTILE, "kind": "table"}, [f"shop.{HOSTILE}.订单"]),
        ({"cluster": "elsewhere"}, []),
    ],
)
def test_it_filters_relations(client, catalog, token, query, expected):
    items = client.get(API + "relations", query, headers=bearer(token)).json()["items"]
    assert [r["name"] for r in items] == expected


def test_it_rejects_an_unknown_relation_kind_with_422(client, catalog, token):
    assert client.get(API + "relations", {"kind": "index"}, headers=bearer(token)).status_code == 422


def test_its_kinds_are_the_models_kinds():
    assert set(get_args(RelationKind)) == set(Relation.Kind.values)
    across = {"fdw", "dblink", "replication", "event"}
    assert set(get_args(EdgeKind)) == set(Dependency.Kind.values) | {"grant", "runtime"} | across


def test_it_lists_schemas_with_their_owning_service(client, catalog, token):
    items = client.get(API + "schemas", {"cluster": "lab", "database": "shop"}, headers=bearer(token)).json()["items"]
    assert [(s["label"], s["service"], s["relation_count"]) for s in items] == [
        ("shop.accounts", "accounts", 1),
        ("shop.public", None, 1),
        (f"shop.{HOSTILE}", HOSTILE, 3),
    ]
    assert items[2]["parts"] == ["shop", HOSTILE]
    assert items[2]["comment"] == "<b>订单</b>"
    assert client.get(API + "schemas", {"database": "other"}, headers=bearer(token)).json()["count"] == 0


def test_it_lists_the_same_paths_as_the_catalog_and_filters_them(client, catalog, token):
    response = client.get(API + "paths", headers=bearer(token)).json()
    assert response["items"] == [e.as_dict() for e in all_edges()]
    assert all(item["used"] is False for item in response["items"])  # nothing ran: each path says so
    assert response["count"] == 4

    def objects(**query) -> list[str]:
        return [e["object"] for e in client.get(API + "paths", query, headers=bearer(token)).json()["items"]]

    assert objects(kind="grant") == ['role "x"']
    assert objects(declared="false") == [f"shop.{HOSTILE}.shared_users"]
    assert len(objects(declared="true")) == 3
    assert objects(service="(unowned)") == [f"shop.{HOSTILE}.shared_users"]
    assert len(objects(service="accounts")) == 3
    assert objects(cluster="elsewhere") == []


def test_it_serves_the_same_ownership_map_as_the_command(client, catalog, token):
    expected = json.loads(ownership_map.render("json"))
    assert client.get(API + "ownership-map", headers=bearer(token)).json() == expected
    by_cluster = client.get(API + "ownership-map", {"cluster": "lab"}, headers=bearer(token)).json()
    assert by_cluster == json.loads(ownership_map.render("json", Query(level="service", cluster="lab")))
    teams = client.get(API + "ownership-map", {"group_by": "team"}, headers=bearer(token)).json()
    assert teams == json.loads(ownership_map.render("json", Query(level="team")))
    assert set(teams) == {"nodes", "edges"}
    assert client.get(API + "ownership-map", {"depth": 4, "focus": "x"}, headers=bearer(token)).status_code == 422
    assert client.get(API + "ownership-map", {"focus": "nobody"}, headers=bearer(token)).status_code == 400
    assert client.get(API + "ownership-map", {"cluster": "nowhere"}, headers=bearer(token)).status_code == 404


def test_it_paginates_with_limit_and_offset_in_a_stable_order(client, db, token):
    Service.objects.bulk_create(Service(name=f"svc{i:03}") for i in range(250))

    def page(**query) -> dict:
        return client.get(API + "services", query, headers=bearer(token)).json()

    first = page()
    assert first["count"] == 250
    assert [s["name"] for s in first["items"]] == [f"svc{i:03}" for i in range(100)]
    assert [s["name"] for s in page(limit=10, offset=245)["items"]] == [f"svc{i:03}" for i in range(245, 250)]
    assert len(page(limit=5000)["items"]) == 250  # clamped to the maximum, 1000
    names = [s["name"] for offset in range(0, 250, 30) for s in page(limit=30, offset=offset)["items"]]
    assert names == sorted(names) and len(set(names)) == 250
    assert client.get(API + "services", {"limit": 0}, headers=bearer(token)).status_code == 422


def test_it_describes_itself_in_openapi_json(client, db, token):
    response = client.get(reverse("api-v1:openapi-json"), headers=bearer(token))
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/clusters",
        "/api/v1/services",
        "/api/v1/services/{name}",
        "/api/v1/schemas",
        "/api/v1/relations",
        "/api/v1/paths",
        "/api/v1/ownership-map",
    } <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "SessionAuth"}
    assert all(set(methods) == {"get"} for methods in schema["paths"].values())


def test_it_has_no_interactive_docs_page_that_would_load_from_a_cdn(viewer_client, db):
    assert viewer_client.get(API + "docs").status_code == 404


def test_it_is_read_only(viewer_client, catalog):
    response = viewer_client.post(API + "services", {})
    assert response.status_code == 405
    assert Service.objects.count() == 2


def test_it_lets_admins_list_and_revoke_tokens_but_not_read_them(client, admin_user, viewer, token):
    client.force_login(admin_user)
    row = ApiToken.objects.get()
    assert client.get(reverse("admin:dashboard_apitoken_changelist")).status_code == 200
    page = client.get(reverse("admin:dashboard_apitoken_change", args=[row.pk])).content.decode()
    assert row.prefix in page and token not in page
    assert 'name="key_hash"' not in page  # shown, not editable
    assert client.get(reverse("admin:dashboard_apitoken_add")).status_code == 403


# --- query counts: a catalog of 200 services -------------------------------------------------------------------


@pytest.fixture
def big_catalog(db):
    cluster = Cluster.objects.create(name="big", dsn="host=127.0.0.1 dbname=postgres")
    Replica.objects.bulk_create(Replica(cluster=cluster, name=f"r{i}", dsn="host=127.0.0.1") for i in range(3))
    services = Service.objects.bulk_create(
        Service(name=f"svc{i:03}", team=f"team{i % 7}", db_roles=[f"role{i:03}"]) for i in range(200)
    )
    Ownership.objects.bulk_create(Ownership(service=s, cluster=cluster, database="db", schema=s.name) for s in services)
    Contract.objects.bulk_create(Contract(consumer=s, provider=services[0]) for s in services[1:])
    database = Database.objects.create(cluster=cluster, name="db")
    schemas = Schema.objects.bulk_create(Schema(database=database, name=s.name, service=s) for s in services)
    tables = Relation.objects.bulk_create(
        Relation(schema=s, name="t", kind="table", columns=["id", "x"]) for s in schemas
    )
    views = Relation.objects.bulk_create(Relation(schema=s, name="v", kind="view", columns=["id"]) for s in schemas)
    Dependency.objects.bulk_create(
        Dependency(kind="view", consumer_relation=v, source=tables[i - 1]) for i, v in enumerate(views)
    )
    Dependency.objects.bulk_create(
        Dependency(kind="fk", consumer_relation=t, source=tables[i - 2]) for i, t in enumerate(tables)
    )
    Grant.objects.bulk_create(
        Grant(relation=t, grantee=f"role{(i + 3) % 200:03}", privileges=["SELECT"]) for i, t in enumerate(tables)
    )
    return services


# Budgets include session auth: 2 queries (session, user). A token costs 1 (the token with its user; the last-use write
# happens at most once a minute), so each budget holds for token requests too.
QUERY_BUDGETS = [
    ("clusters", 6),  # count, clusters, replicas, databases
    ("services", 7),  # count, services, ownerships, contracts out, contracts in
    # the service and its 3 prefetches, the catalog version, then the edges (5, and 4 across databases: foreign tables,
    # dblink calls, subscriptions, event publications) and what ran (1: the statements)
    ("services/svc100", 17),
    ("schemas", 4),  # count, schemas
    ("relations", 4),  # count, relations
    # the cluster, the catalog version, then the edges: relations, contracts, dependencies, services, grants, foreign
    # tables, dblink calls, subscriptions, event publications; and what ran (the statements: none here)
    ("paths", 14),
    ("ownership-map", 16),  # the catalog version, the cluster, teams, the edges (9), services, ownerships
]


@pytest.mark.parametrize(("endpoint", "budget"), QUERY_BUDGETS)
def test_its_query_count_does_not_grow_with_the_catalog(
    viewer_client, big_catalog, django_assert_max_num_queries, endpoint, budget
):
    query = {"cluster": "big", "limit": 1000} if endpoint != "services/svc100" else {}
    with django_assert_max_num_queries(budget):
        response = viewer_client.get(API + endpoint, query)
    assert response.status_code == 200
    data = response.json()
    if endpoint in ("services", "paths", "relations", "schemas"):
        assert data["count"] >= 200
    if endpoint == "services/svc100":
        assert len(data["inbound"]) == 3 and len(data["outbound"]) == 3  # view, fk, grant each way


def test_its_token_authentication_costs_one_query(client, viewer_client, big_catalog, token, django_assert_num_queries):
    """The same listing costs 5 queries (count, services, ownerships, contracts out and in) plus its authentication:
    one for a token (the token with its user), one for a session (the session with its user)."""
    client.get(API + "services", headers=bearer(token))  # records the last use (at most once a minute)
    with django_assert_num_queries(1 + 5):
        assert client.get(API + "services", {"limit": 1000}, headers=bearer(token)).status_code == 200
    with django_assert_num_queries(1 + 5):
        assert viewer_client.get(API + "services", {"limit": 1000}).status_code == 200
