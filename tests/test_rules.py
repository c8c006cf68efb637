"""Audit rules on a real database planted with every violation next to clean look-alikes: each rule finds exactly
its planted objects and none of the look-alikes; runs record new, persisting and resolved findings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from catalog import audits, rules
from catalog.models import AuditFinding, AuditRun, Cluster, Contract, Ownership, RuleSeverity, Service, Suppression
from catalog.sync import sync_cluster

from .conftest import pg

DB = "seamline_rules_test"
RUNTIME = {"runtime_undeclared_access", "unused_cross_service_grant"}
# two databases, a foreign server: tests/test_fdw.py, tests/test_logical.py; outbox samples: tests/test_events.py
CROSS_DATABASE = {"undeclared_cross_database_read", "outbox_not_drained"}
ROLES = ("seamline_rt_a", "seamline_rt_b", "seamline_rt_c", "seamline_rt_stranger")

PLANT = """
CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA c; CREATE SCHEMA loose;
-- B: customers (shared through a view), a ledger, events without a primary key
CREATE TABLE b.customers (id int PRIMARY KEY, name text, email text);
CREATE TABLE b.ledger (id int PRIMARY KEY, amount int);
CREATE TABLE b.events (at timestamptz, what text);
CREATE VIEW b.v_public_customers AS SELECT id, name FROM b.customers;
-- A: a foreign key into B, one within A (look-alike), an undeclared partial view and function over B
CREATE TABLE a.orders (id int PRIMARY KEY, customer_id int REFERENCES b.customers (id));
CREATE TABLE a.items (id int PRIMARY KEY, order_id int REFERENCES a.orders (id));
CREATE VIEW a.v_customer_names AS SELECT id, name FROM b.customers;
CREATE FUNCTION a.fn_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM b.customers; END;
CREATE TABLE a.misowned (id int PRIMARY KEY);
CREATE FUNCTION a.fn_definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION a.fn_definer_fixed() RETURNS int LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, a, pg_temp AS 'SELECT 1';
-- C consumes B (declared): a partial view (look-alike) and a SELECT * view (full exposure)
CREATE VIEW c.v_names AS SELECT id, name FROM b.customers;
CREATE VIEW c.v_all AS SELECT * FROM b.customers;
-- unowned: a table in public, a schema no service claims
CREATE TABLE public.orphan (id int PRIMARY KEY);
CREATE TABLE loose.t (id int PRIMARY KEY);
-- owners: each service's objects by its role, but one
ALTER TABLE b.customers OWNER TO seamline_rt_b; ALTER TABLE b.ledger OWNER TO seamline_rt_b;
ALTER TABLE b.events OWNER TO seamline_rt_b; ALTER VIEW b.v_public_customers OWNER TO seamline_rt_b;
ALTER TABLE a.orders OWNER TO seamline_rt_a; ALTER TABLE a.items OWNER TO seamline_rt_a;
ALTER VIEW a.v_customer_names OWNER TO seamline_rt_a; ALTER TABLE a.misowned OWNER TO seamline_rt_stranger;
ALTER VIEW c.v_names OWNER TO seamline_rt_c; ALTER VIEW c.v_all OWNER TO seamline_rt_c;
-- grants: SELECT on B's table to A (direct), writes on B's ledger to C; look-alikes: a view of B to C, B to itself
GRANT SELECT ON b.customers TO seamline_rt_a;
GRANT INSERT, UPDATE ON b.ledger TO seamline_rt_c;
GRANT SELECT ON b.v_public_customers TO seamline_rt_c;
GRANT SELECT ON b.events TO seamline_rt_b;
"""

EXPECTED = {
    ("unowned_schema", f"{DB}.loose", ""),
    ("unowned_schema", f"{DB}.public", ""),
    ("unowned_relation", f"{DB}.loose.t", ""),
    ("unowned_relation", f"{DB}.public.orphan", ""),
    ("cross_service_fk", f"{DB}.a.orders", "svc_b"),
    ("undeclared_read", f"{DB}.a.v_customer_names", "svc_b"),
    ("undeclared_read", f"{DB}.a.fn_count()", "svc_b"),
    ("full_exposure_view", f"{DB}.c.v_all", "svc_b"),
    ("cross_service_select_grant", f"{DB}.b.customers", "svc_a"),
    ("cross_service_write_grant", f"{DB}.b.ledger", "svc_c"),
    ("owner_mismatch", f"{DB}.a.misowned", ""),
    ("security_definer_search_path", f"{DB}.a.fn_definer()", ""),
    ("table_without_primary_key", f"{DB}.b.events", ""),
    ("pool_overcommit", "rt", ""),
    ("monitoring_superuser", "rt", ""),
}


@pytest.fixture(scope="module")
def planted_db():
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        for role in ROLES:
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                admin.execute(f"CREATE ROLE {role} NOLOGIN")
        admin.execute(f"CREATE DATABASE {DB}")
    with pg(dbname=DB) as conn:
        conn.execute(PLANT)
    yield DB
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        for role in ROLES:
            admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def planted(planted_db, db):
    cluster = Cluster.objects.create(
        name="rt", dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres", databases=[DB]
    )
    a = Service.objects.create(name="svc_a", db_roles=["seamline_rt_a"], pool_size=60, max_overflow=40)
    b = Service.objects.create(name="svc_b", db_roles=["seamline_rt_b"], pool_size=5)
    c = Service.objects.create(name="svc_c", db_roles=["seamline_rt_c"], pool_size=5)
    Contract.objects.create(consumer=c, provider=b)
    for service, schema in ((a, "a"), (b, "b"), (c, "c")):
        Ownership.objects.create(service=service, cluster=cluster, database=DB, schema=schema)
    sync_cluster(cluster)
    cluster.refresh_from_db()
    return cluster


def found(cluster: Cluster) -> set[tuple[str, str, str]]:
    return {(f.rule, f.object, f.related_service or "") for f in rules.evaluate(rules.load(cluster))}


def test_each_rule_finds_exactly_its_planted_objects(planted):
    assert found(planted) == EXPECTED
    # every rule is exercised; those over what really ran in tests/test_runtime_rules.py
    assert set(rules.RULES) - RUNTIME - CROSS_DATABASE == {rule for rule, _, _ in EXPECTED}


def test_the_look_alikes_are_clean_when_the_violations_go(planted):
    with pg(dbname=DB) as conn:
        conn.execute("ALTER FUNCTION a.fn_definer() SET search_path = pg_catalog, a, pg_temp")
        conn.execute("REVOKE SELECT ON b.customers FROM seamline_rt_a")
        conn.execute("ALTER TABLE b.events ADD COLUMN id serial PRIMARY KEY")
    try:
        sync_cluster(planted)
        left = {rule for rule, _, _ in found(planted)}
        assert {
            "security_definer_search_path",
            "cross_service_select_grant",
            "table_without_primary_key",
        } & left == set()
        planted.monitor_role_is_superuser = False
        Service.objects.filter(name="svc_a").update(pool_size=10, max_overflow=0)
        assert {"monitoring_superuser", "pool_overcommit"} & {rule for rule, _, _ in found(planted)} == set()
    finally:
        with pg(dbname=DB) as conn:
            conn.execute("ALTER FUNCTION a.fn_definer() RESET search_path")
            conn.execute("GRANT SELECT ON b.customers TO seamline_rt_a")
            conn.execute("ALTER TABLE b.events DROP COLUMN id")


def test_findings_carry_services_messages_and_remediation(planted):
    by_rule = {f.rule: f for f in rules.evaluate(rules.load(planted))}
    grant = by_rule["cross_service_select_grant"]
    assert (grant.service, grant.related_service, grant.object_parts) == ("svc_b", "svc_a", (DB, "b", "customers"))
    assert grant.remediation == 'REVOKE SELECT ON "b"."customers" FROM "seamline_rt_a";'
    assert by_rule["cross_service_write_grant"].severity == "critical"
    fk = by_rule["cross_service_fk"]
    assert fk.remediation.startswith('ALTER TABLE "a"."orders" DROP CONSTRAINT ')
    assert "SET search_path = pg_catalog" in by_rule["security_definer_search_path"].remediation
    assert by_rule["full_exposure_view"].message.startswith(f"view {DB}.c.v_all of svc_c exposes every column")


def test_severity_is_configurable(planted):
    RuleSeverity.objects.create(rule="table_without_primary_key", severity="critical")
    severities = {f.rule: f.severity for f in rules.evaluate(rules.load(planted))}
    assert severities["table_without_primary_key"] == "critical"


def test_runs_mark_findings_new_persisting_and_resolved_and_honour_suppressions(planted, admin_user):
    first = audits.run_audit(audits.start_audit(planted, "manual", enqueue=lambda run: None).pk)
    assert first.status == "succeeded" and sum(first.counts.values()) == len(EXPECTED)
    assert set(first.findings.values_list("state", flat=True)) == {"new"}
    Suppression.objects.create(
        cluster=planted,
        rule="table_without_primary_key",
        object=f"{DB}.b.events",
        reason="append-only log, no updates",
        expires_at=timezone.now() + timedelta(days=30),
        created_by=admin_user,
    )
    with pg(dbname=DB) as conn:
        conn.execute("ALTER FUNCTION a.fn_definer() SET search_path = pg_catalog, a, pg_temp")
    try:
        second = audits.run_audit(audits.start_audit(planted, "manual", enqueue=lambda run: None).pk)
    finally:
        with pg(dbname=DB) as conn:
            conn.execute("ALTER FUNCTION a.fn_definer() RESET search_path")
    states = dict(second.findings.values_list("rule", "state"))
    assert states["security_definer_search_path"] == "resolved" and second.resolved_count == 1
    assert states["cross_service_fk"] == "persisting"
    assert second.findings.get(rule="table_without_primary_key").suppressed
    assert sum(second.counts.values()) == len(EXPECTED) - 2  # one resolved, one suppressed


def test_a_second_trigger_joins_the_active_run(planted):
    sent = []
    one = audits.start_audit(planted, "manual", enqueue=sent.append)
    two = audits.start_audit(planted, "scheduled", enqueue=sent.append)
    assert one.pk == two.pk and AuditRun.objects.filter(cluster=planted).count() == 1


def test_a_failed_run_shows_no_findings(planted):
    planted.dsn = "host=127.0.0.1 port=9 user=postgres dbname=postgres"
    planted.save()
    run = audits.run_audit(audits.start_audit(planted, "manual", enqueue=lambda run: None).pk)
    assert run.status == "failed" and "cannot be reached" in run.error
    assert not AuditFinding.objects.filter(run=run).exists()


def test_the_audit_command_prints_json_and_exits_1_when_the_run_fails(planted, capsys):
    import json

    from django.core.management.base import CommandError

    call_command("audit", "rt", "--format", "json")
    body = json.loads(capsys.readouterr().out)
    assert {"cluster", "run_id", "status", "findings", "resolved"} <= set(body)
    assert body["status"] == "succeeded"
    assert {(f["rule"], f["object"], f["related_service"] or "") for f in body["findings"]} == EXPECTED
    assert {"rule", "severity", "object", "service", "related_service", "message", "state"} <= set(body["findings"][0])
    planted.dsn = "host=127.0.0.1 port=9 user=postgres dbname=postgres"
    planted.save()
    with pytest.raises(CommandError, match="failed: the cluster cannot be reached"):
        call_command("audit", "rt")


def test_the_demo_shows_the_seeds_own_patterns(demo_catalog):
    demo = Cluster.objects.get(name="demo")
    run = audits.run_audit(audits.start_audit(demo, "manual", enqueue=lambda run: None).pk)
    keys = set(run.findings.values_list("rule", "object"))
    assert ("unowned_relation", "shop.public.users") in keys
    assert ("full_exposure_view", "shop.user_service.shared_users") in keys


def test_a_run_whose_task_was_lost_does_not_block_the_next(planted):
    stuck = audits.start_audit(planted, "manual", enqueue=lambda run: None)
    AuditRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - settings.AUDIT_LOST_AFTER - timedelta(1))
    fresh = audits.start_audit(planted, "manual", enqueue=lambda run: None)
    stuck.refresh_from_db()
    assert fresh.pk != stuck.pk and stuck.status == "failed" and "lost" in stuck.error
