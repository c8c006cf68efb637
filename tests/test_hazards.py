"""Transaction hazards on the real test stack (dashboard.hazards): a prepared transaction left behind is WARN, named by
its service, with the statement that resolves it, and clears once rolled back; what holds the vacuum horizon back is
named (a session idle in transaction by its service, an inactive slot, a replica's hot_standby_feedback); every
database's distance to wraparound is reported. Seen through the CLI's JSON (the contract)."""

from __future__ import annotations

import json
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command

from catalog.models import Ownership, Service
from dashboard import hazards
from dashboard.nodes import PRIMARY, nodes_of
from dashboard.sampling import sample_node

from .conftest import pg, wait_for

ORDERS_ROLE = "seamline_hz_orders"
GID = "seamline hz 'quoted' gid"
SLOT = "seamline_hz_slot"


@pytest.fixture
def cluster(pools_cluster):
    with pg() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {ORDERS_ROLE}")
        admin.execute(f"CREATE ROLE {ORDERS_ROLE} LOGIN")
    Service.objects.create(name="hz_orders", team="checkout", db_roles=[ORDERS_ROLE])
    pools_cluster.prepared_warn_seconds, pools_cluster.prepared_crit_seconds = 1, 3600
    pools_cluster.save()
    yield pools_cluster
    with pg() as admin:
        for (gid,) in admin.execute("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'seamline hz%'").fetchall():
            admin.execute(f"ROLLBACK PREPARED {hazards.literal(gid)}")
        admin.execute(
            f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{SLOT}'"
        )
        admin.execute(f"DROP ROLE IF EXISTS {ORDERS_ROLE}")


def assessed(cluster, sample: bool = True) -> dict:
    if sample:
        for node in nodes_of(cluster):
            sample_node(cluster, node.name)
    out = StringIO()
    call_command("transactions", cluster.name, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def burn_xids(n: int) -> None:
    with pg() as conn:
        for _ in range(n):
            conn.execute("SELECT txid_current()")


def test_a_prepared_transaction_is_warn_by_its_service_and_clears_when_rolled_back(cluster):
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user={ORDERS_ROLE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT txid_current()")
        conn.execute(f"PREPARE TRANSACTION {hazards.literal(GID)}")
    body = wait_for(
        lambda: (b := assessed(cluster)) and any(p["status"] == "WARN" for p in b["prepared"]) and b,
        message="the prepared transaction WARN after 1 s",
    )
    row = next(p for p in body["prepared"] if p["gid"] == GID)
    assert (row["service"], row["database"], row["status"]) == ("hz_orders", "postgres", "WARN")
    assert row["age_seconds"] >= 1 and row["xmin_age"] >= 1
    assert row["rollback"] == "ROLLBACK PREPARED 'seamline hz ''quoted'' gid';"
    assert body["status"] in ("WARN", "CRIT") and any("hz_orders" in r for r in body["reasons"])
    assert any(h["holder_kind"] == "prepared" and h["name"] == GID for h in body["horizon"])  # it holds xmin too

    with pg() as admin:
        admin.execute(row["rollback"])  # what the page tells an operator to run
    body = assessed(cluster)
    assert not [p for p in body["prepared"] if p["gid"] == GID]
    assert not any("hz_orders" in r for r in body["reasons"])


def test_a_session_idle_in_transaction_is_named_with_its_service_as_a_holder(cluster):
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user=postgres application_name=pt_orders"
    with psycopg.connect(dsn) as conn:  # a transaction left open, its snapshot held
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT count(*) FROM pg_class").fetchone()
        pid = conn.info.backend_pid
        burn_xids(5)
        body = assessed(cluster)
        holder = next(h for h in body["horizon"] if h["pid"] == pid)
        assert holder["node"] == PRIMARY and holder["holder_kind"] == "session"
        assert holder["service"] == "pt_orders" and holder["state"] == "idle_in_transaction"
        assert holder["xmin_age"] >= 5 and holder["age_seconds"] is not None
        oldest = max((h for h in body["horizon"] if h["node"] == PRIMARY), key=lambda h: h["xmin_age"])
        if oldest["pid"] == pid:  # nothing else on the test stack holds it further back
            assert body["sentence"].startswith("vacuum on pt is held back") and "pt_orders (pid" in body["sentence"]
    body = assessed(cluster)
    assert not [h for h in body["horizon"] if h["pid"] == pid]


@pytest.mark.django_db(transaction=True)  # making a logical slot waits for every transaction with an id, the test's too
def test_an_inactive_slot_holding_an_xmin_is_named(cluster):
    with pg() as admin:
        admin.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", [SLOT])
    burn_xids(3)
    body = assessed(cluster)
    holder = next(h for h in body["horizon"] if h["name"] == SLOT)
    assert holder["holder_kind"] == "slot" and holder["state"] == "inactive (catalog)" and holder["pid"] is None
    assert holder["xmin_age"] >= 3 and holder["node"] == PRIMARY
    first = holder["age_seconds"]
    wait_for(
        lambda: next(h for h in assessed(cluster)["horizon"] if h["name"] == SLOT)["age_seconds"] > first + 1,
        message="the slot's time held counted from when Seamline first saw it",
    )


def test_a_replica_holding_a_long_query_with_feedback_is_named(cluster):
    dsn = f"host={settings.PG_HOST} port={settings.REPLICA_PORT} dbname=postgres user=postgres"
    with psycopg.connect(dsn) as replica_conn:
        replica_conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        replica_conn.execute("SELECT count(*) FROM pg_class").fetchone()  # a snapshot held on the replica
        burn_xids(10)
        body = wait_for(
            lambda: (
                (b := assessed(cluster))
                and any(h["holder_kind"] == "replica" and h["xmin_age"] >= 10 for h in b["horizon"])
                and b
            ),
            message="the replica's feedback holding the primary's horizon",
        )
        holder = next(h for h in body["horizon"] if h["holder_kind"] == "replica")
        assert holder["node"] == PRIMARY and holder["name"] == "seamline_replica"  # its application_name


def test_every_database_reports_its_distance_to_wraparound(cluster):
    body = assessed(cluster)
    rows = {d["database"]: d for d in body["wraparound"]}
    assert {"postgres", "template0", "template1"} <= set(rows)
    for d in rows.values():
        assert d["pct_to_limit"] == round(100 * d["xid_age"] / 2**31, 2) and d["status"] == "OK"
        assert d["freeze_max_age"] == 200_000_000 and d["mxid_age"] >= 0
    cluster.wraparound_warn_pct, cluster.wraparound_crit_pct = 0, 100
    cluster.save()
    assert all(d["status"] == "WARN" for d in assessed(cluster, sample=False)["wraparound"])


def test_the_sentence_names_the_holder():
    cluster = type("C", (), {"name": "demo"})()
    holder = {"holder_kind": "session", "service": "order_service", "pid": 4711, "state": "idle in transaction"}
    text = hazards.sentence(cluster, {**holder, "name": "x", "age_seconds": 48 * 60, "xmin_age": 10})
    assert text == "vacuum on demo is held back 48 min 0 s by order_service (pid 4711, idle in transaction)"


def test_the_api_health_and_metrics_carry_the_hazards(cluster, client, admin_user, settings):
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user={ORDERS_ROLE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT txid_current()")
        conn.execute(f"PREPARE TRANSACTION {hazards.literal(GID)}")
    wait_for(lambda: any(p["status"] == "WARN" for p in assessed(cluster)["prepared"]), message="WARN")
    client.force_login(admin_user)
    body = client.get(f"/api/v1/transactions/{cluster.name}").json()
    row = next(p for p in body["prepared"] if p["gid"] == GID)
    assert row["service"] == "hz_orders" and row["status"] == "WARN" and isinstance(row["age_seconds"], float)
    assert {d["database"] for d in body["wraparound"]} >= {"postgres"}
    assert client.get("/api/v1/transactions/no-such-cluster").status_code == 404

    health = client.get("/api/v1/health").json()
    ours = next(c for c in health["clusters"] if c["cluster"] == cluster.name)
    assert ours["transactions"]["status"] == "WARN" and ours["transactions"]["prepared_count"] >= 1
    assert health["status"] in ("WARN", "CRIT")

    settings.METRICS_TOKEN = "hazards-metrics-token"
    text = client.get("/metrics", headers={"Authorization": "Bearer hazards-metrics-token"}).content.decode()
    assert f'seamline_cluster_transactions_status{{cluster="{cluster.name}"}} 1.0' in text
    assert f'seamline_prepared_transactions{{cluster="{cluster.name}"}} ' in text
    assert 'service="hz_orders"' in text and "seamline_database_wraparound_percent{" in text


def test_the_transactions_page_shows_the_holders_and_the_statement_to_run(cluster, viewer_client):
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user={ORDERS_ROLE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT txid_current()")
        conn.execute(f"PREPARE TRANSACTION {hazards.literal(GID)}")
    assessed(cluster)
    page = viewer_client.get("/transactions/").content.decode()
    assert "Vacuum horizon" in page and "hz_orders" in page
    assert "ROLLBACK PREPARED &#x27;seamline hz &#x27;&#x27;quoted&#x27;&#x27; gid&#x27;;" in page  # escaped
    partial = viewer_client.get("/transactions/", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and b'id="live"' in partial.content and b"<html" not in partial.content
    assert 'class="age"' in partial.content.decode()  # ages move with the clock


def test_the_horizon_history_charts_each_nodes_worst_holder(cluster, viewer_client):
    with psycopg.connect(f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user=postgres") as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT 1").fetchone()
        burn_xids(4)
        assessed(cluster)
    from dashboard.models import NodeRollup, NodeSample

    sample = NodeSample.objects.filter(cluster=cluster, node=PRIMARY).latest("sampled_at")
    assert sample.horizon_xmin_age >= 4 and sample.horizon_seconds is not None
    rollup = NodeRollup.objects.filter(cluster=cluster, node=PRIMARY).latest("bucket")
    assert rollup.horizon_xmin_age_max >= sample.horizon_xmin_age
    for window in ("1h", "24h"):  # from the samples, and from the rollups
        figure = viewer_client.get(f"/transactions/{cluster.pk}/horizon.json?window={window}").json()
        primary = next(t for t in figure["data"] if t["name"] == "primary, transactions")
        assert max(v for v in primary["y"] if v is not None) >= 4
    assert viewer_client.get("/transactions/999999/horizon.json").status_code == 404


def test_a_services_page_shows_its_own_hazards(cluster, viewer_client):
    dsn = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres user={ORDERS_ROLE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT txid_current()")
        conn.execute(f"PREPARE TRANSACTION {hazards.literal(GID)}")
    assessed(cluster)
    orders = Service.objects.get(name="hz_orders")
    Ownership.objects.create(service=orders, cluster=cluster, database="postgres", schema="hz")
    panel = viewer_client.get(f"/services/{orders.pk}/live/?part=numbers").content.decode()
    assert (
        "Transaction hazards" in panel
        and "prepared transaction seamline hz &#x27;quoted&#x27; gid on pt/postgres" in panel
    )
    other = Service.objects.get(name="pt_reports")
    assert "Transaction hazards" not in viewer_client.get(f"/services/{other.pk}/live/?part=numbers").content.decode()


def test_the_transactions_partial_sends_as_many_queries_whatever_the_clusters(cluster, viewer_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Cluster
    from dashboard import snapshots

    def rendered() -> int:
        snapshots.client().delete(*snapshots.client().keys("seamline:live:fragment:*") or ["none"])
        with CaptureQueriesContext(connection) as queries:
            response = viewer_client.get("/transactions/", headers={"HX-Request": "true"})
        assert response.status_code == 200
        return len(queries)

    assessed(cluster)
    one = rendered()
    for i in range(3):
        Cluster.objects.create(name=f"hz-more-{i}", dsn=cluster.dsn)
    assert rendered() == one
    with CaptureQueriesContext(connection) as served:
        viewer_client.get("/transactions/", headers={"HX-Request": "true"})
    assert len(served) == 1  # the session with its user; the fragment from Redis


def test_the_oldest_tables_come_with_the_sync_and_their_owning_service(demo_catalog, viewer_client):
    """Read at the catalog sync's cadence (in the statement an unchanged database costs anyway), shown per database
    with the service owning each table's schema."""
    from catalog.models import Cluster, Database
    from catalog.sync import sync_cluster

    demo = Cluster.objects.get(name="demo")
    sync_cluster(demo, ["shop"])
    first = Database.objects.get(cluster=demo, name="shop").oldest_tables
    assert first and all(t["xid_age"] >= 0 for t in first)
    burn_xids(3)
    again = sync_cluster(demo, ["shop"])  # unchanged catalog: the ages still move
    assert "shop" in again.not_changed
    assert Database.objects.get(cluster=demo, name="shop").oldest_tables[0]["xid_age"] >= first[0]["xid_age"] + 3
    sample_node(demo, PRIMARY)
    body = client_json(viewer_client, "/api/v1/transactions/demo")
    shop = next(d for d in body["wraparound"] if d["database"] == "shop")
    assert shop["oldest_tables"] and {"schema", "name", "xid_age", "mxid_age", "service"} == set(
        shop["oldest_tables"][0]
    )
    assert any(t["service"] for t in shop["oldest_tables"])  # the demo's schemas are owned


def client_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return response.json()
