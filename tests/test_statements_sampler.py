"""dashboard/statements/sampler.py on the real stack: statements run as known roles land under the right services
with exact call counts; a reset, a redelivered sample and a lost baseline never make a delta negative or count one
twice; a utility statement's text (which can hold a password) is never stored; what the server keeps from view is
said, with the statement that fixes it."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db.models import Sum

from catalog.models import Cluster, Ownership, Service
from catalog.monitored import connect
from dashboard import snapshots
from dashboard.models import StatementInterval, StatementRollup, StatementSample, StatementText
from dashboard.statements import sampler, state, workload
from tests.conftest import pg

ORDERS, USERS, SHARED, LOOKER = "seamline_wl_orders", "seamline_wl_users", "seamline_wl_shared", "seamline_wl_looker"
PASSWORDLESS = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres"


@pytest.fixture
def roles():
    with pg() as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for role in (ORDERS, USERS, SHARED, LOOKER):
            admin.execute(f"DROP ROLE IF EXISTS {role}")
            admin.execute(f"CREATE ROLE {role} LOGIN")
    yield
    with pg() as admin:
        for role in (ORDERS, USERS, SHARED, LOOKER):
            admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def cluster(db, roles):
    cluster = Cluster.objects.create(name="workload", dsn=f"{PASSWORDLESS} user=postgres")
    orders = Service.objects.create(name="orders", db_roles=[ORDERS, SHARED])
    Service.objects.create(name="users", db_roles=[USERS, SHARED])
    Ownership.objects.create(service=orders, cluster=cluster, database="postgres")  # the shared role's statements here
    _forget(cluster)
    yield cluster
    _forget(cluster)


def _forget(cluster: Cluster) -> None:
    snapshots.client().delete(
        state.baseline_key(cluster.pk, "primary"), state.state_key(cluster.pk, "primary"), state.totals_key(cluster.pk)
    )


def run_as(role: str, times: int, table: str = "pg_class") -> None:
    with psycopg.connect(f"{PASSWORDLESS} user={role}", autocommit=True) as conn:
        for i in range(times):
            conn.execute(f"SELECT count(*) AS seamline_wl_probe FROM {table} WHERE relpages > %s", [i])


def calls(cluster: Cluster, role: str) -> dict[str, int]:
    rows = StatementSample.objects.filter(cluster=cluster, role=role).values("service").annotate(n=Sum("calls"))
    return {r["service"]: r["n"] for r in rows}


def test_statements_land_under_their_services_with_exact_calls(cluster):
    first = sampler.sample_statements(cluster, "primary")
    assert first["status"] == "ok" and first["baseline"] and not first["notices"]
    assert not StatementSample.objects.filter(cluster=cluster).exists()  # a baseline has nothing to subtract from
    run_as(ORDERS, 7)
    run_as(USERS, 3)
    run_as(SHARED, 2)
    second = sampler.sample_statements(cluster, "primary")
    assert second["status"] == "ok" and not second["baseline"]
    assert calls(cluster, ORDERS) == {"orders": 7}
    assert calls(cluster, USERS) == {"users": 3}
    assert calls(cluster, SHARED) == {"orders": 2}  # listed by both; orders owns the database
    probe = StatementSample.objects.get(cluster=cluster, role=ORDERS)
    assert probe.rows == 7 and probe.total_ms > 0 and probe.database == "postgres"
    text = StatementText.objects.get(cluster=cluster, queryid=probe.queryid)
    assert text.command == "SELECT" and not text.utility and "relpages > $1" in text.text
    assert [None, "pg_class", "read"] in text.relations
    # the hour's rollup holds the same sums (what windows of a day and more read)
    rolled = StatementRollup.objects.filter(cluster=cluster).aggregate(calls=Sum("calls"), ms=Sum("total_ms"))
    raw = StatementSample.objects.filter(cluster=cluster).aggregate(calls=Sum("calls"), ms=Sum("total_ms"))
    assert rolled["calls"] == raw["calls"] and rolled["ms"] == pytest.approx(raw["ms"])
    assert workload.summary(cluster, "24h")["services"] == workload.summary(cluster, "1h")["services"]
    # the running totals /metrics exposes as counters
    totals = state.read_totals([cluster.pk])[cluster.pk]
    assert totals[("primary", "users", "service")][0] == 3
    intervals = list(StatementInterval.objects.filter(cluster=cluster).order_by("ended_at"))
    assert [i.started_at for i in intervals] == [None, intervals[0].ended_at]


def test_seamlines_own_statements_are_counted_without_their_texts(cluster, viewer_client):
    sampler.sample_statements(cluster, "primary")
    assert sampler.sample_statements(cluster, "primary")["monitor_role"] == "postgres"
    page = viewer_client.get(f"/workload/{cluster.pk}/").content.decode()
    assert "Seamline's monitoring role" in page  # its statements are named as Seamline's, not unattributed
    rows = StatementSample.objects.filter(cluster=cluster).exclude(queryid=0)
    own = set(rows.filter(role="postgres").values_list("queryid", flat=True))  # the cluster's DSN user: counted
    with connect(f"{PASSWORDLESS} user=postgres") as conn:  # an id is not per role: those other roles ran too
        where = sampler.reader.availability(conn)
        others = {c.queryid for c in sampler.reader.counters(conn, where) if c.role != "postgres"}
    only_own = own - others
    assert only_own
    assert not StatementText.objects.filter(cluster=cluster, queryid__in=only_own).exists()


def test_a_second_sample_of_an_unchanged_server_fetches_no_text(cluster, monkeypatch):
    sampler.sample_statements(cluster, "primary")
    run_as(ORDERS, 1)
    sampler.sample_statements(cluster, "primary")
    asked: list[set[int]] = []
    real = sampler.reader.texts
    monkeypatch.setattr(
        sampler.reader, "texts", lambda conn, where, ids: asked.append(set(ids)) or real(conn, where, ids)
    )
    run_as(ORDERS, 1)
    sampler.sample_statements(cluster, "primary")
    assert asked and StatementSample.objects.filter(cluster=cluster, role=ORDERS).values("queryid").distinct().count()
    probe = StatementSample.objects.filter(cluster=cluster, role=ORDERS).first()
    assert probe.queryid not in asked[-1]  # its text is stored: not fetched again


def test_a_reset_between_samples_gives_no_negative_delta(cluster):
    sampler.sample_statements(cluster, "primary")
    run_as(ORDERS, 5)
    sampler.sample_statements(cluster, "primary")
    with pg() as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
    run_as(ORDERS, 2)
    state = sampler.sample_statements(cluster, "primary")
    assert state["reset"]
    last = StatementInterval.objects.filter(cluster=cluster).latest("ended_at")
    assert last.reset
    assert workload.summary(cluster, "1h")["intervals"]["resets"] == 1  # the page says so
    rows = StatementSample.objects.filter(cluster=cluster)
    assert (
        rows.filter(calls__lt=0).count() == rows.filter(total_ms__lt=0).count() == rows.filter(rows__lt=0).count() == 0
    )
    assert calls(cluster, ORDERS) == {"orders": 7}  # 5, then the 2 after the reset


def test_a_baseline_is_never_used_twice(cluster):
    """A redelivered sample (or one that died after writing its interval) finds its baseline used: it starts a new
    one instead of counting the interval again."""
    sampler.sample_statements(cluster, "primary")
    kept = snapshots.client().get(state.baseline_key(cluster.pk, "primary"))
    run_as(ORDERS, 4)
    sampler.sample_statements(cluster, "primary")
    snapshots.client().set(state.baseline_key(cluster.pk, "primary"), kept)  # the old baseline back
    run_as(ORDERS, 1)
    again = sampler.sample_statements(cluster, "primary")
    assert again["baseline"]  # no interval from the used baseline
    assert calls(cluster, ORDERS) == {"orders": 4}
    run_as(ORDERS, 3)
    sampler.sample_statements(cluster, "primary")
    assert calls(cluster, ORDERS) == {"orders": 7}


def test_a_utility_statements_text_is_never_stored(cluster):
    sampler.sample_statements(cluster, "primary")
    with pg() as admin:  # a role admin of the applications' own (the monitoring role's texts are never fetched)
        admin.execute(f"ALTER ROLE {SHARED} CREATEROLE")
    with psycopg.connect(f"{PASSWORDLESS} user={SHARED}", autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {LOOKER} PASSWORD 'sekrit-wl-password'")
    sampler.sample_statements(cluster, "primary")
    utility = StatementText.objects.filter(cluster=cluster, command="ALTER ROLE")
    assert utility.exists() and all(t.utility and t.text == "" for t in utility)
    assert not StatementText.objects.filter(text__contains="sekrit").exists()
    assert "sekrit" not in str(list(StatementText.objects.values_list("relations", flat=True)))


def test_what_the_server_keeps_from_view_is_said_with_its_fix(cluster):
    cluster.dsn = f"{PASSWORDLESS} user={LOOKER}"
    cluster.save()
    run_as(ORDERS, 2)
    found = sampler.sample_statements(cluster, "primary")
    assert found["status"] == "ok"
    assert found["notices"] == [{"code": "not_all_roles", "fix": f'GRANT pg_read_all_stats TO "{LOOKER}";'}]
    cluster.statements_database = "template1"  # no extension there
    cluster.save()
    found = sampler.sample_statements(cluster, "primary")
    assert found["status"] == "unavailable" and found["database"] == "template1"
    assert [n["code"] for n in found["notices"]] == ["not_created", "not_all_roles"]
    assert "CREATE EXTENSION pg_stat_statements" in found["notices"][0]["fix"]
    assert state.read_state(cluster.pk, "primary") == found


def test_an_unreachable_node_is_said_so(cluster):
    cluster.dsn = "host=127.0.0.1 port=9 dbname=postgres user=postgres"
    cluster.save()
    state = sampler.sample_statements(cluster, "primary")
    assert state["status"] == "unreachable" and state["error"]
    assert not StatementInterval.objects.filter(cluster=cluster).exists()


def test_metrics_count_each_services_calls_and_time(cluster, client, settings):
    settings.METRICS_TOKEN = "statements-metrics-token"
    sampler.sample_statements(cluster, "primary")
    run_as(USERS, 4)
    sampler.sample_statements(cluster, "primary")
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer statements-metrics-token").content.decode()
    line = 'seamline_statement_calls_total{attribution="service",cluster="workload",node="primary",service="users"}'
    assert f"{line} 4.0" in body
    assert 'seamline_statement_time_seconds_total{attribution="service",cluster="workload"' in body
