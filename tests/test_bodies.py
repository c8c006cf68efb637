"""Paths through function bodies (issue 18, item 3): PL/pgSQL and string SQL bodies are read with PostgreSQL's own
parsers, resolved along the function's search_path (or, without one, its schema then public, said to be an
assumption), marked recorded and/or parsed, and read again only when they change; dynamic SQL is reported as not
analysable, never guessed."""

from __future__ import annotations

import pytest
from django.conf import settings

from catalog import bodies, paths
from catalog.models import BodyState, Cluster, Function, Ownership, Schema, Service
from catalog.sync import sync_cluster

from .conftest import pg

DB = "seamline_bodies_test"

SCHEMA_SQL = """
CREATE SCHEMA orders;
CREATE SCHEMA "Billing Ü";
CREATE TABLE orders.orders (id bigint PRIMARY KEY, total numeric);
CREATE TABLE orders.notes (id bigint, note text);
CREATE TABLE "Billing Ü"."Invoices" (id bigint PRIMARY KEY, order_id bigint, amount numeric);
CREATE TABLE "Billing Ü".ledger (id bigint, amount numeric);
CREATE TABLE public.customers (id bigint PRIMARY KEY, email text);
CREATE TYPE "Billing Ü".status AS ENUM ('open', 'paid');

-- billing reads orders through a qualified name, in PL/pgSQL, with a variable of a type of its own schema
CREATE FUNCTION "Billing Ü".invoice_total(p_order bigint) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE s "Billing Ü".status; t numeric;
BEGIN
    SELECT total INTO t FROM orders.orders WHERE id = p_order;
    INSERT INTO "Billing Ü".ledger VALUES (p_order, t);
    RETURN t;
END $$;
-- billing writes orders' notes through its search_path (no assumption), and reads the public customers table
CREATE FUNCTION "Billing Ü".annotate(p_id bigint) RETURNS void LANGUAGE plpgsql SET search_path = orders, public AS $$
BEGIN
    INSERT INTO notes VALUES (p_id, (SELECT email FROM customers WHERE id = p_id));
END $$;
-- orders reads billing's invoices unqualified, setting no search_path: the name resolves along orders' schema, then
-- public, where it is not: no path (never a guess); and one it resolves to customers in public (an assumption)
CREATE FUNCTION orders.customer_email(p_id bigint) RETURNS text LANGUAGE sql AS
    'SELECT email FROM customers WHERE id = p_id; SELECT 1 FROM "Invoices"';
-- dynamic SQL: not analysable, and the table it builds the name of is never guessed
CREATE FUNCTION orders.purge(p_table text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I', p_table);
    EXECUTE 'DELETE FROM "Billing Ü".ledger WHERE amount IS NULL';
END $$;
-- a trigger function of orders writing billing's ledger; and a function PostgreSQL records too (its result type)
CREATE FUNCTION orders.to_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO "Billing Ü".ledger VALUES (NEW.id, NEW.total); RETURN NEW; END $$;
CREATE FUNCTION orders.first_invoice() RETURNS "Billing Ü"."Invoices" LANGUAGE plpgsql AS $$
DECLARE i "Billing Ü"."Invoices"%ROWTYPE;
BEGIN SELECT * INTO i FROM "Billing Ü"."Invoices" LIMIT 1; RETURN i; END $$;
-- a body the parser rejects
CREATE FUNCTION orders.broken() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT 1; END $$;
"""


@pytest.fixture
def planted(db):
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
        admin.execute(f"CREATE DATABASE {DB}")
    try:
        with pg(dbname=DB) as conn:
            conn.execute("SET check_function_bodies = off")  # orders.broken is created as a deploy would not
            conn.execute(SCHEMA_SQL)
        cluster = Cluster.objects.create(
            name="bodies", dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname={DB}"
        )
        for name, schema in (("order_service", "orders"), ("billing_service", "Billing Ü"), ("crm", "public")):
            service = Service.objects.create(name=name)
            Ownership.objects.create(service=service, cluster=cluster, database=DB, schema=schema)
        sync_cluster(cluster, [DB])
        yield cluster
    finally:
        with pg() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def function_edges(cluster: Cluster) -> set[tuple]:
    return {
        (e.consumer, e.provider, e.object_parts[2], ".".join(e.source_parts[1:]), e.access, e.recorded, e.assumed)
        for e in paths.cross_service_edges([cluster.pk])
        if e.kind == "function"
    }


def test_every_planted_body_path_appears_once_with_its_provenance(planted):
    assert function_edges(planted) == {
        ("billing_service", "order_service", "invoice_total(p_order bigint)", "orders.orders", "read", False, False),
        ("billing_service", "order_service", "annotate(p_id bigint)", "orders.notes", "write", False, False),
        ("billing_service", "crm", "annotate(p_id bigint)", "public.customers", "read", False, False),
        ("order_service", "crm", "customer_email(p_id bigint)", "public.customers", "read", False, True),
        ("order_service", "billing_service", "purge(p_table text)", "Billing Ü.ledger", "write", False, False),
        ("order_service", "billing_service", "to_ledger()", "Billing Ü.ledger", "write", False, False),
        ("order_service", "billing_service", "first_invoice()", "Billing Ü.Invoices", "read", True, False),
    }
    states = dict(Function.objects.filter(schema__database__cluster=planted).values_list("name", "body_state"))
    assert states["purge"] == BodyState.DYNAMIC and states["broken"] == BodyState.UNPARSABLE
    assert {states[name] for name in ("invoice_total", "annotate", "customer_email", "to_ledger")} == {BodyState.PARSED}


def test_a_body_is_read_again_only_when_it_changes(planted, monkeypatch):
    parsed: list[str] = []
    analyse = bodies.analyse

    def counting(language: str, body: str, signature=None):
        parsed.append(body)
        return analyse(language, body, signature)

    monkeypatch.setattr(bodies, "analyse", counting)
    again = sync_cluster(planted, [DB], full=True)  # every section read again: no body has changed
    assert parsed == [] and not again.changed
    with pg(dbname=DB) as conn:
        conn.execute(
            'CREATE OR REPLACE FUNCTION "Billing Ü".invoice_total(p_order bigint) RETURNS numeric LANGUAGE plpgsql'
            " AS $$ BEGIN RETURN (SELECT sum(total) FROM orders.orders); END $$"
        )
    changed = sync_cluster(planted, [DB])
    assert len(parsed) == 1 and "sum(total)" in parsed[0]
    assert changed.deleted["dependencies"] == 1  # its own ledger, no longer written; orders.orders: the same edge
    still = ("billing_service", "order_service", "invoice_total(p_order bigint)", "orders.orders", "read", False, False)
    assert still in function_edges(planted)


def test_a_search_path_set_later_resolves_the_names_again_and_lifts_the_assumption(planted):
    with pg(dbname=DB) as conn:
        conn.execute('ALTER FUNCTION orders.customer_email(bigint) SET search_path = "Billing Ü", public')
    sync_cluster(planted, [DB])
    mine = {e for e in function_edges(planted) if e[2] == "customer_email(p_id bigint)"}
    assert mine == {
        ("order_service", "crm", "customer_email(p_id bigint)", "public.customers", "read", False, False),
        ("order_service", "billing_service", "customer_email(p_id bigint)", "Billing Ü.Invoices", "read", False, False),
    }


def test_the_pages_say_how_each_function_path_was_found(planted, viewer_client):
    page = viewer_client.get("/paths/?kind=function").content.decode()
    assert "found in its body" in page and "recorded by PostgreSQL, and found in its body" in page
    assert "assuming the caller" in page
    schema = Schema.objects.get(database__cluster=planted, database__name=DB, name="orders")
    listing = viewer_client.get(f"/schemas/{schema.pk}/").content.decode()
    assert "not analysable: dynamic SQL" in listing and "not analysable: the parser rejected it" in listing
