"""Paths between databases through foreign tables (issue 18, item 1): the sync reads foreign servers and foreign
tables (never a user mapping's password), and each foreign table of a service resolves, by its server's host, port
and database (or a cluster's aliases), to the catalogued relation it reads and the service owning it; a server the
catalog does not know is listed as outside the catalog, not dropped."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from catalog import paths, rules
from catalog.models import OUTSIDE, Cluster, Contract, ForeignTable, FunctionBodyUse, Ownership, Service
from catalog.sync import sync_cluster

from .conftest import pg

ORDERS, USERS = "seamline_fdw_orders", "seamline_fdw_users"
SECRET = "fdw-mapping-password-never-shown"


@pytest.fixture
def planted(db):
    with pg() as admin:
        for name in (ORDERS, USERS):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
    try:
        with pg(dbname=USERS) as conn:
            conn.execute(
                'CREATE SCHEMA accounts; CREATE SCHEMA "Profile <b>";'
                " CREATE TABLE accounts.users (id bigint PRIMARY KEY, email text);"
                ' CREATE VIEW "Profile <b>".public_users AS SELECT id FROM accounts.users;'
            )
        with pg(dbname=ORDERS) as conn:
            conn.execute(
                f"""
                CREATE EXTENSION postgres_fdw;
                CREATE SCHEMA orders;
                CREATE SERVER users_db FOREIGN DATA WRAPPER postgres_fdw
                    OPTIONS (host '127.0.0.1', port '{settings.PG_PORT}', dbname '{USERS}');
                CREATE USER MAPPING FOR postgres SERVER users_db OPTIONS (user 'postgres', password '{SECRET}');
                CREATE FOREIGN TABLE orders.customers (id bigint, email text)
                    SERVER users_db OPTIONS (schema_name 'accounts', table_name 'users');
                CREATE FOREIGN TABLE orders.public_users (id bigint)
                    SERVER users_db OPTIONS (schema_name 'Profile <b>');
                CREATE SERVER aliased FOREIGN DATA WRAPPER postgres_fdw
                    OPTIONS (host 'PG-Users.internal', port '6543', dbname '{USERS}');
                CREATE FOREIGN TABLE orders.users_by_alias (id bigint)
                    SERVER aliased OPTIONS (schema_name 'accounts', table_name 'users');
                CREATE EXTENSION dblink;
                CREATE FUNCTION orders.import_emails() RETURNS bigint LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM dblink_connect('users', 'host=127.0.0.1 port={settings.PG_PORT} dbname={USERS}'
                                                    ' user=postgres password={SECRET}');
                    RETURN (SELECT count(*) FROM dblink('users', 'SELECT id, email FROM accounts.users')
                                                 AS t(id bigint, email text));
                END $$;
                CREATE FUNCTION orders.close_accounts() RETURNS void LANGUAGE sql AS $f$
                    SELECT dblink_exec('dbname={USERS} host=db.elsewhere.invalid', 'DELETE FROM sessions')
                $f$;
                CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw
                    OPTIONS (host 'db.elsewhere.invalid', dbname 'crm');
                CREATE FOREIGN TABLE orders.leads (id bigint) SERVER elsewhere;
                """
            )
        cluster = Cluster.objects.create(
            name="fdw",
            dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
            databases=[ORDERS, USERS],
            aliases=["pg-users.internal:6543"],
        )
        for name, database, schema in (
            ("order_service", ORDERS, "orders"),
            ("user_service", USERS, "accounts"),
            ("profile_service", USERS, "Profile <b>"),
        ):
            Ownership.objects.create(
                service=Service.objects.get_or_create(name=name)[0], cluster=cluster, database=database, schema=schema
            )
        sync_cluster(cluster)
        yield cluster
    finally:
        with pg() as admin:
            for name in (ORDERS, USERS):
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ruff: noqa: E501 - a planted path per line reads best whole


def fdw_edges(cluster: Cluster) -> set[tuple]:
    return {
        (e.consumer, e.provider, e.object, e.source_cluster, e.source, e.server)
        for e in paths.cross_service_edges([cluster.pk])
        if e.kind == "fdw"
    }


def test_each_foreign_table_resolves_to_the_relation_it_reads_and_its_owner(planted):
    assert fdw_edges(planted) == {
        ("order_service", "user_service", f"{ORDERS}.orders.customers", "fdw", f"{USERS}.accounts.users", "users_db"),
        # the provider of a remote view is the view's owner, not what the view reads
        (
            "order_service",
            "profile_service",
            f"{ORDERS}.orders.public_users",
            "fdw",
            f"{USERS}.Profile <b>.public_users",
            "users_db",
        ),
        ("order_service", "user_service", f"{ORDERS}.orders.users_by_alias", "fdw", f"{USERS}.accounts.users", "aliased"),
        ("order_service", OUTSIDE, f"{ORDERS}.orders.leads", "db.elsewhere.invalid:5432", "crm.orders.leads", "elsewhere"),
    }  # fmt: skip
    assert {e.declared for e in paths.cross_service_edges([planted.pk]) if e.kind == "fdw"} == {False}


def test_dblink_calls_with_constant_connections_are_paths_too(planted):
    dblink = {
        (e.consumer, e.provider, e.object, e.source_cluster, e.source, e.access, e.assumed)
        for e in paths.cross_service_edges([planted.pk])
        if e.kind == "dblink"
    }
    assert dblink == {
        (
            "order_service",
            "user_service",
            f"{ORDERS}.orders.import_emails()",
            "fdw",
            f"{USERS}.accounts.users",
            "read",
            False,
        ),
        (
            "order_service",
            OUTSIDE,
            f"{ORDERS}.orders.close_accounts()",
            "db.elsewhere.invalid:5432",
            f"{USERS}.public.sessions",
            "write",
            True,
        ),
    }


def test_no_mapping_password_is_read_kept_or_shown(planted, viewer_client):
    kept = json.dumps([list(ForeignTable.objects.values()), list(FunctionBodyUse.objects.values())], default=str)
    assert SECRET not in kept and "users_db" in kept
    page = viewer_client.get("/paths/?kind=fdw").content.decode()
    assert SECRET not in page and "(outside the catalog)" in page and "Profile &lt;b&gt;" in page
    api = viewer_client.get("/api/v1/paths?kind=fdw")
    assert api.status_code == 200 and SECRET not in api.content.decode()


def test_a_dropped_foreign_table_goes_with_the_next_sync(planted):
    with pg(dbname=ORDERS) as conn:
        conn.execute("DROP FOREIGN TABLE orders.leads")
    summary = sync_cluster(planted)
    assert summary.deleted["foreign tables"] == 1
    assert {e[2] for e in fdw_edges(planted)} == {
        f"{ORDERS}.orders.customers",
        f"{ORDERS}.orders.public_users",
        f"{ORDERS}.orders.users_by_alias",
    }


def test_the_audit_finds_each_undeclared_read_across_databases_once(planted):
    found = {
        (f.object, f.service, f.related_service or "")
        for f in rules.evaluate(rules.load(planted))
        if f.rule == "undeclared_cross_database_read"
    }
    assert found == {
        (f"{ORDERS}.orders.customers", "order_service", "user_service"),
        (f"{ORDERS}.orders.public_users", "order_service", "profile_service"),
        (f"{ORDERS}.orders.users_by_alias", "order_service", "user_service"),
        (f"{ORDERS}.orders.leads", "order_service", ""),
        (f"{ORDERS}.orders.import_emails()", "order_service", "user_service"),
        (f"{ORDERS}.orders.close_accounts()", "order_service", ""),
    }
    Contract.objects.create(
        consumer=Service.objects.get(name="order_service"), provider=Service.objects.get(name="user_service")
    )
    declared = {f.object for f in rules.evaluate(rules.load(planted)) if f.rule == "undeclared_cross_database_read"}
    assert declared == {
        f"{ORDERS}.orders.public_users",
        f"{ORDERS}.orders.leads",
        f"{ORDERS}.orders.close_accounts()",
    }


def test_the_admin_takes_aliases_and_refuses_what_is_not_host_port(admin_client, db):
    cluster = Cluster.objects.create(name="aliased", dsn="host=127.0.0.1 dbname=postgres")
    url = f"/admin/catalog/cluster/{cluster.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(name="aliased", dsn="host=127.0.0.1 dbname=postgres", databases="", aliases="db.internal:x")
    data.update({"replicas-TOTAL_FORMS": "0", "replicas-INITIAL_FORMS": "0"})
    refused = admin_client.post(url, data)
    assert refused.status_code == 200 and "Not HOST:PORT" in refused.content.decode()
    data["aliases"] = "db.internal:6432,[::1]:5433"
    assert admin_client.post(url, data).status_code == 302
    cluster.refresh_from_db()
    assert cluster.aliases == ["db.internal:6432", "[::1]:5433"]
