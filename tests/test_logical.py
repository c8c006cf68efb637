"""Logical replication (issue 18, item 2): publications and subscriptions synced, each subscription matched to its
publisher through its slot, ``replication`` paths from the service owning each copy to the one owning the original,
and the subscription's health next to physical replication (CRIT within two samples of DISABLE, OK after ENABLE),
with the logical slot named by its subscriber on the Replication page, /api/v1/health and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from catalog import logical, paths
from catalog.models import OUTSIDE, Cluster, Contract, LogicalSlot, Ownership, PublishedTable, Service, Subscription
from catalog.sync import sync_cluster
from dashboard import health, pools, sampling
from dashboard.readers import replication
from demo.loader import drop_subscriptions

from .conftest import pg, wait_for
from .test_metrics import samples, scrape

PUB, SUB = "seamline_lr_pub", "seamline_lr_sub"
SCHEMA = "Sales <b>"  # markup and a space: escaped wherever it is shown
SLOT, SUBSCRIPTION = "seamline_lr_slot", "sub <i>one</i>"


def _drop() -> None:
    with pg() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SUB]).fetchone()
        if exists:
            with pg(dbname=SUB) as sub:
                drop_subscriptions(sub)
        wait_for(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", [SLOT]
                ).fetchone()
            ),
            message="the slot's WAL sender to stop",
        )
        admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", [SLOT]
        )
        for name in (SUB, PUB):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def planted(db):
    _drop()
    with pg() as admin:
        for name in (PUB, SUB):
            admin.execute(f"CREATE DATABASE {name}")
    try:
        table = f'"{SCHEMA}".orders (id bigint PRIMARY KEY, total int, note text)'
        with pg(dbname=PUB) as conn:
            conn.execute(f'CREATE SCHEMA "{SCHEMA}"; CREATE TABLE {table}; CREATE TABLE public.unsent (id int)')
            conn.execute(f'CREATE PUBLICATION "pub one" FOR TABLE "{SCHEMA}".orders')
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [SLOT])
        with pg(dbname=SUB) as conn:
            conn.execute(f'CREATE SCHEMA "{SCHEMA}"; CREATE TABLE {table}')
            conn.execute(
                f"""CREATE SUBSCRIPTION "{SUBSCRIPTION}"
                    CONNECTION 'host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname={PUB}'
                    PUBLICATION "pub one" WITH (create_slot = false, slot_name = '{SLOT}')"""
            )
        # Copying a table makes a slot, which waits for every transaction that writes to end: this test's too
        # (Seamline's database is on the same server). So, before this test writes anything:
        wait_for(_ready, timeout=60, message="the subscription's table to be copied")
        cluster = Cluster.objects.create(
            name="lr",
            dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
            databases=[PUB, SUB],
        )
        sales = Service.objects.create(name="sales", team="commerce")
        reports = Service.objects.create(name="reports", team="data")
        Ownership.objects.create(service=sales, cluster=cluster, database=PUB, schema=SCHEMA)
        Ownership.objects.create(service=reports, cluster=cluster, database=SUB, schema="")
        sync_cluster(cluster)
        yield cluster
    finally:
        _drop()


def _ready() -> bool:
    with pg(dbname=SUB) as conn:
        return conn.execute("SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel").fetchone()[0] is True


def test_sync_reads_publications_subscriptions_and_logical_slots(planted):
    (sub,) = Subscription.objects.filter(database__cluster=planted)
    assert (sub.name, sub.enabled, sub.slot_name, sub.publications, sub.owner) == (
        SUBSCRIPTION,
        True,
        SLOT,
        ["pub one"],
        "postgres",
    )
    assert sub.tables == [{"schema": SCHEMA, "name": "orders", "state": "r"}] and sub.tables_not_ready == []
    published = PublishedTable.objects.filter(relation__schema__database__cluster=planted)
    assert [(p.relation.schema.name, p.relation.name, p.publication, p.columns) for p in published] == [
        (SCHEMA, "orders", "pub one", ["id", "total", "note"])
    ]
    assert (SLOT, PUB, "pgoutput") in set(
        LogicalSlot.objects.filter(cluster=planted).values_list("name", "database", "plugin")
    )


def test_the_subscription_is_matched_to_its_publisher_through_its_slot(planted):
    (link,) = [link for link in logical.read_links() if link.cluster_id == planted.pk]
    assert (link.publisher, link.publisher_database, link.service, link.not_ready) == ("lr", PUB, "reports", [])
    edges = list(paths.cross_service_edges([planted.pk]))
    # the planted path, once, and nothing else new
    assert [(e.kind, e.consumer, e.provider, e.object_parts, e.source_parts, e.source_cluster, e.subscription,
             e.declared) for e in edges] == [
        ("replication", "reports", "sales", (SUB, SCHEMA, "orders"), (PUB, SCHEMA, "orders"), "lr", SUBSCRIPTION, False)
    ]  # fmt: skip
    Contract.objects.create(consumer=Service.objects.get(name="reports"), provider=Service.objects.get(name="sales"))
    sync_cluster(planted)  # a contract moves the catalog's version too; a sync of nothing changed keeps the path
    assert [e.declared for e in paths.cross_service_edges([planted.pk])] == [True]


def test_a_slot_no_catalogued_cluster_has_leaves_the_publisher_outside_the_catalog(planted):
    LogicalSlot.objects.filter(cluster=planted, name=SLOT).delete()
    (edge,) = logical_edges = [e for e in paths._compute_edges([planted.pk]) if e.kind == "replication"]
    assert (edge.consumer, edge.provider, edge.source_cluster) == ("reports", OUTSIDE, ""), logical_edges


def _sample(cluster: Cluster) -> dict:
    sampling.sample_node(cluster, "primary")
    views = pools.load([cluster], node=None, rows=False)[cluster.pk]
    assessed = health.assess(cluster, views)
    (sub,) = [s for s in assessed["subscriptions"] if s["database"] == SUB]
    return {"cluster": assessed, "subscription": sub}


def test_a_disabled_subscription_is_crit_within_two_samples_and_ok_again_once_enabled(planted):
    first = _sample(planted)["subscription"]
    assert (first["status"], first["service"], first["publisher"], first["worker_running"]) == (
        "OK",
        "reports",
        f"lr/{PUB}",
        True,
    ), first
    slot = next(s for s in _sample(planted)["cluster"]["slots"] if s["slot_name"] == SLOT)
    assert (slot["service"], slot["subscription"]) == ("reports", f"lr/{SUB}/{SUBSCRIPTION}")

    with pg(dbname=SUB) as conn:
        conn.execute(f'ALTER SUBSCRIPTION "{SUBSCRIPTION}" DISABLE')
    states = [_sample(planted) for _ in range(2)]
    assert "CRIT" in [s["subscription"]["status"] for s in states]
    last = states[-1]
    assert last["subscription"]["status"] == "CRIT" and last["cluster"]["status"] == "CRIT"
    assert any("is disabled" in r for r in last["subscription"]["reasons"])

    with pg(dbname=SUB) as conn:
        conn.execute(f'ALTER SUBSCRIPTION "{SUBSCRIPTION}" ENABLE')
    wait_for(lambda: _sample(planted)["subscription"]["status"] == "OK", timeout=60, message="the apply worker back")


def test_apply_errors_are_crit_when_they_rise_then_warn_for_an_hour(planted):
    _sample(planted)
    with pg(dbname=SUB) as conn:  # a row the publisher will send again: every apply fails on the primary key
        conn.execute(f"INSERT INTO \"{SCHEMA}\".orders VALUES (1, 0, 'in the way')")
    with pg(dbname=PUB) as conn:
        conn.execute(f"INSERT INTO \"{SCHEMA}\".orders VALUES (1, 10, 'sent')")
    with pg() as conn:
        wait_for(
            lambda: conn.execute(
                "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = %s", [SUBSCRIPTION]
            ).fetchone()[0],
            timeout=60,
            message="an apply error",
        )
    risen = _sample(planted)["subscription"]
    assert risen["status"] == "CRIT" and risen["errors"] >= 1, risen
    assert any("new apply or table sync error" in r for r in risen["reasons"])
    with pg(dbname=SUB) as conn:
        conn.execute(f'DELETE FROM "{SCHEMA}".orders WHERE id = 1')
    with pg(dbname=SUB) as conn:
        wait_for(
            lambda: conn.execute(f'SELECT note FROM "{SCHEMA}".orders WHERE id = 1').fetchone(),
            timeout=60,
            message="the row applied",
        )
    after = _sample(planted)
    if after["subscription"]["errors_rose_at"] == after["cluster"]["sampled_at"]:
        after = _sample(planted)  # one more failure may have come in before the fix
    assert after["subscription"]["status"] == "WARN", after["subscription"]
    assert any("had apply or table sync errors" in r for r in after["subscription"]["reasons"])


def _context(link: logical.Link, publisher: dict | None) -> health.Logical:
    return health.Logical(
        links={(link.cluster_id, link.database, link.subscription): link},
        slot_users=logical.slot_users([link]),
        publishers={link.publisher_id: publisher},
    )


def test_errors_warn_for_an_hour_and_tables_not_ready_and_lag_are_judged(planted):
    (link,) = [link for link in logical.read_links() if link.cluster_id == planted.pk]
    not_ready = logical.Table(SCHEMA, "orders", "d", "reports", "sales", True, ())
    link = logical.Link(**{**link.__dict__, "tables": (not_ready,)})
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def judged(rose: timedelta | None, lag: int | None) -> dict:
        sub = {"name": SUBSCRIPTION, "database": SUB, "enabled": True, "slot_name": SLOT, "worker_pid": 1, "errors": 3}
        sub["errors_rose_at"] = (at - rose).isoformat() if rose is not None else None
        primary = {
            "status": "ok",
            "sampled_at": at.isoformat(),
            "replication": {"role": "primary", "subscriptions": [sub]},
        }
        slots = [] if lag is None else [{"slot_name": SLOT, "database": PUB, "confirmed_flush_lag_bytes": lag}]
        publisher = {"status": "ok", "replication": {"slots": slots}}
        return health._subscriptions(planted, primary["replication"], primary, _context(link, publisher))[0]

    assert judged(timedelta(0), 0)["status"] == "CRIT"
    assert judged(timedelta(minutes=59), 0)["status"] == "WARN"
    assert [r for r in judged(timedelta(minutes=61), 0)["reasons"] if "errors" in r] == []
    assert any("not ready" in r and f"{SCHEMA}.orders" in r for r in judged(None, 0)["reasons"])
    assert judged(None, planted.lag_crit_bytes)["status"] == "CRIT"
    assert any("no longer has" in r for r in judged(None, None)["reasons"])  # the publisher's slot is gone


def test_the_server_before_15_is_read_without_error_statistics(planted):
    """14 has no pg_stat_subscription_stats: its statement runs here (on 15) and reads no error counts."""
    from catalog.credentials import password_for
    from catalog.monitored import connect

    with connect(planted.dsn, password_for(planted), target="lr") as conn:
        side = replication.PRIMARY_14.fetch_one(conn)
    (sub,) = [s for s in side.subscriptions if s["database"] == SUB]
    assert (sub["apply_error_count"], sub["sync_error_count"], sub["enabled"]) == (None, None, True)


def test_the_subscription_and_its_slot_show_on_the_page_the_api_and_metrics(planted, viewer_client, client, settings):
    _sample(planted)
    page = viewer_client.get(reverse("replication")).content.decode()
    assert "sub &lt;i&gt;one&lt;/i&gt;" in page and SUBSCRIPTION not in page
    assert "Logical replication subscriptions" in page
    body = viewer_client.get("/api/v1/health").json()
    (cluster,) = [c for c in body["clusters"] if c["cluster"] == "lr"]
    (sub,) = [s for s in cluster["subscriptions"] if s["database"] == SUB]
    assert (sub["service"], sub["publisher"], sub["status"]) == ("reports", f"lr/{PUB}", "OK")
    (slot,) = [s for s in cluster["slots"] if s["slot_name"] == SLOT]
    assert slot["service"] == "reports"
    settings.METRICS_TOKEN = "metrics-token-for-the-logical-tests"
    found = samples(scrape(client, settings.METRICS_TOKEN).content.decode())
    assert (
        found[("seamline_slot_active", frozenset({"cluster": "lr", "slot": SLOT, "service": "reports"}.items()))] == 1
    )
    labels = {"cluster": "lr", "database": SUB, "subscription": SUBSCRIPTION, "service": "reports"}
    assert found[("seamline_subscription_status", frozenset(labels.items()))] == 0


def test_a_server_catalogued_twice_resolves_to_the_subscribers_own_cluster(planted):
    twin = Cluster.objects.create(name="lr-twin", dsn=planted.dsn, databases=[PUB])
    sync_cluster(twin)  # the same slot, and the same publication, in another catalogued cluster
    assert LogicalSlot.objects.filter(name=SLOT).count() == 2
    (link,) = [link for link in logical.read_links() if link.cluster_id == planted.pk]
    assert (link.publisher, link.publisher_database) == ("lr", PUB)
    # a slot two other clusters have, neither of them the subscriber's, stays unknown: never guessed
    LogicalSlot.objects.filter(cluster=planted).delete()
    other = Cluster.objects.create(name="lr-other", dsn=planted.dsn, databases=[PUB])
    sync_cluster(other)
    (link,) = [link for link in logical.read_links() if link.cluster_id == planted.pk]
    assert link.publisher_id is None
