"""Run-time paths and the audit rules over them, on the real stack: a planted cross-service SELECT and UPDATE, run
as the consumer's own role, appear as run-time paths with the right access and the audit reports them (the write
higher); a cross-service grant nobody used is reported with its REVOKE, a used one is not; nothing is said while the
statements history is shorter than the configured days."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings

from catalog import rules
from catalog.models import Cluster, Ownership, Service
from catalog.paths import all_edges
from catalog.sync import sync_cluster
from dashboard.statements import sampler, workload

from .conftest import pg

DB = "seamline_runtime_test"
A, B = "seamline_rr_a", "seamline_rr_b"
PLANT = f"""
CREATE SCHEMA a AUTHORIZATION {A}; CREATE SCHEMA b AUTHORIZATION {B};
CREATE TABLE b.used (id int PRIMARY KEY, n int); CREATE TABLE b.unused (id int PRIMARY KEY);
CREATE TABLE b.via_view (id int PRIMARY KEY); CREATE TABLE a.own (id int PRIMARY KEY);
ALTER TABLE b.used OWNER TO {B}; ALTER TABLE b.unused OWNER TO {B}; ALTER TABLE b.via_view OWNER TO {B};
ALTER TABLE a.own OWNER TO {A};
INSERT INTO b.used VALUES (1, 0), (2, 0);
GRANT USAGE ON SCHEMA b TO {A};
GRANT SELECT, UPDATE ON b.used TO {A}; GRANT SELECT ON b.unused TO {A}; GRANT SELECT ON b.via_view TO {A};
GRANT REFERENCES ON b.unused TO {A};
CREATE VIEW a.v AS SELECT id FROM b.via_view; ALTER VIEW a.v OWNER TO {A};
"""
BASE = f"host={settings.PG_HOST} port={settings.PG_PORT}"


@pytest.fixture
def planted(db):
    with pg() as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        for role in (A, B):
            admin.execute(f"DROP ROLE IF EXISTS {role}")
            admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"CREATE DATABASE {DB}")
    with pg(dbname=DB) as conn:
        conn.execute(PLANT)
    cluster = Cluster.objects.create(
        name="runtime", dsn=f"{BASE} user=postgres dbname={DB}", databases=[DB], statements_database="postgres"
    )
    a = Service.objects.create(name="svc_a", db_roles=[A], search_path=["a"])
    b = Service.objects.create(name="svc_b", db_roles=[B])
    Ownership.objects.create(service=a, cluster=cluster, database=DB, schema="a")
    Ownership.objects.create(service=b, cluster=cluster, database=DB, schema="b")
    sync_cluster(cluster)
    sampler.sample_statements(cluster, "primary")  # the baseline
    yield cluster
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        for role in (A, B):
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def run_as_a(*statements: str) -> None:
    # as the service connects: its search_path in the DSN, as the catalog declares it
    with psycopg.connect(f"{BASE} user={A} dbname={DB} options=-csearch_path=a", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def findings(cluster: Cluster) -> list[rules.Finding]:
    return [
        f
        for f in rules.evaluate(rules.load(cluster))
        if f.rule in ("runtime_undeclared_access", "unused_cross_service_grant")
    ]


def test_planted_reads_and_writes_are_paths_and_findings(planted, settings):
    settings.WORKLOAD_AUDIT_MIN_DAYS = 0
    run_as_a(*["SELECT n FROM b.used WHERE id = 1"] * 3, *["UPDATE b.used SET n = n + 1 WHERE id = 2"] * 2)
    run_as_a("SELECT * FROM v")  # a's own view over b.via_view: the grant on via_view is used through it
    sampler.sample_statements(planted, "primary")
    paths = {(p["relation"], p["access"], p["calls"]) for p in workload.summary(planted, "1h")["runtime_paths"]}
    assert (f"{DB}.b.used", "read", 3) in paths and (f"{DB}.b.used", "write", 2) in paths
    assert all(p[0] != f"{DB}.a.own" for p in paths)  # its own: no path
    # in the ownership map's paths: run-time edges, and each catalog path saying whether it was used
    edges = all_edges([planted.pk])
    runtime = {(e.consumer, e.provider, e.object, e.access, e.calls) for e in edges if e.kind == "runtime"}
    assert runtime == {("svc_a", "svc_b", f"{DB}.b.used", "read", 3), ("svc_a", "svc_b", f"{DB}.b.used", "write", 2)}
    grants = {e.source: e.used for e in edges if e.kind == "grant"}
    assert grants[f"{DB}.b.used"] is True and grants[f"{DB}.b.unused"] is False
    view = next(e for e in edges if e.kind == "view")
    assert view.object == f"{DB}.a.v" and view.used is True  # its consumer read the view
    found = findings(planted)
    undeclared = {(f.object, f.severity) for f in found if f.rule == "runtime_undeclared_access"}
    assert undeclared == {(f"{DB}.b.used", "high"), (f"{DB}.b.used", "medium")}  # the write is high
    unused = [f for f in found if f.rule == "unused_cross_service_grant"]
    assert [(f.object, f.related_service) for f in unused] == [(f"{DB}.b.unused", "svc_a")]
    assert unused[0].remediation == f'REVOKE SELECT ON "b"."unused" FROM "{A}";'  # REFERENCES never proposed


def test_nothing_is_said_on_a_short_history(planted, settings):
    settings.WORKLOAD_AUDIT_MIN_DAYS = 1
    run_as_a("SELECT n FROM b.used WHERE id = 1")
    sampler.sample_statements(planted, "primary")
    assert findings(planted) == []
