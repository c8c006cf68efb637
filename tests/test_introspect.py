"""Catalog SQL against a real PostgreSQL database full of hostile names: every object kind, raw identifiers out.

The fixture database holds schemas and roles whose names carry quotes, spaces, mixed case, unicode, markup and the
full 63 bytes PostgreSQL allows; extension objects and system catalogs that must stay out; and every kind of edge
(view, foreign key, grant, function) the catalog reports. Nothing needs Django's own database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings

from catalog import introspect
from catalog.introspect import (
    DatabaseInfo,
    ForeignKey,
    FunctionDependency,
    FunctionRef,
    FunctionRow,
    Privilege,
    RelationRef,
    RelationRow,
    SchemaRow,
    ViewDependency,
)
from tests.conftest import pg

DBNAME = "seamline_introspect_test"
BIG_DBNAME = "seamline_introspect_test_big"
# Databases list_databases must show (a hostile name) or hide (no connections; a template; invalid).
OPEN_DBNAME = 'seamline_it_"Open" <b>DB</b>'
CLOSED_DBNAME = "seamline_it_closed"
TEMPLATE_DBNAME = "seamline_it_template"
INVALID_DBNAME = "seamline_it_invalid"

# Roles are cluster-wide: all carry the seamline_it_ prefix and are dropped after the databases.
OWNER = 'seamline_it_Owner "O\'Brien"'
READER = "seamline_it_<b>reader</b>"
WRITER = "seamline_it_订单 writer"
MONITOR = "seamline_it_monitor"  # a plain login role, as a monitoring role usually is
ROLES = (OWNER, READER, WRITER, MONITOR)

QUOTED = 'My "Quoted" Schema'
UNICODE = "订单 Service"
LONG = "long_" + "é" * 29  # 63 bytes: PostgreSQL's limit, reached with two-byte characters
MARKUP = "<script>alert(1)</script>"
LONG_TABLE = "订单服务表" * 4 + "名"  # 21 three-byte characters: 63 bytes
FUNNY_FN = 'fn "quoted" <b>'
REMOTE = "remote <things>"
DISPLAY = 'Display "Name"'
FK_NAME = 'Orders → "Customers"'


def ident(name: str) -> str:
    """Quote an identifier by hand, so the fixture's DDL reads like what a user would type."""
    return '"' + name.replace('"', '""') + '"'


Q, U, L, M, LT, OW, R, W = map(ident, (QUOTED, UNICODE, LONG, MARKUP, LONG_TABLE, OWNER, READER, WRITER))

FIXTURE_SQL = f"""
CREATE SCHEMA {Q} AUTHORIZATION {OW};
COMMENT ON SCHEMA {Q} IS 'Orders & <b>billing</b>: it''s "quoted"';
CREATE SCHEMA {U};
CREATE SCHEMA {L};
CREATE SCHEMA {M};
COMMENT ON SCHEMA {M} IS '<script>alert("schema")</script>';
-- An extension's objects are left out, wherever they live; the schema the user made for it stays.
CREATE SCHEMA ext;
CREATE EXTENSION pg_trgm SCHEMA ext;
CREATE EXTENSION pg_stat_statements;  -- views, functions and a PUBLIC grant in public

CREATE TABLE {U}."Customers" (
    id bigint,
    region text,
    obsolete integer,
    {ident(DISPLAY)} text,
    PRIMARY KEY (id, region)
);
ALTER TABLE {U}."Customers" DROP COLUMN obsolete;
COMMENT ON TABLE {U}."Customers" IS '<img src=x onerror=alert(1)> "customers"';

-- A two-column foreign key across schemas whose key order differs from both tables' column order.
CREATE TABLE {Q}."Orders" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_region text NOT NULL,
    customer_id bigint NOT NULL,
    note text,
    CONSTRAINT {ident(FK_NAME)} FOREIGN KEY (customer_region, customer_id)
        REFERENCES {U}."Customers" (region, id)
);
ALTER TABLE {Q}."Orders" OWNER TO {OW};

CREATE TABLE public.events_log (at timestamptz, payload jsonb);  -- no primary key, never analysed
CREATE TABLE public.locked (id integer);
REVOKE ALL ON public.locked FROM postgres;  -- an empty, not NULL, relacl: still no grants to report
CREATE SEQUENCE public.ticket_seq;
CREATE TYPE public.pair AS (a integer, b integer);  -- a composite type has a pg_class row too (relkind c)

CREATE TABLE {M}.measurements (
    id bigint,
    taken_on date,
    customer_region text,
    customer_id bigint,
    PRIMARY KEY (id, taken_on),
    FOREIGN KEY (customer_region, customer_id) REFERENCES {U}."Customers" (region, id)
) PARTITION BY RANGE (taken_on);
CREATE TABLE {M}.measurements_2024 PARTITION OF {M}.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
-- A foreign key to a partitioned table: PostgreSQL clones it per partition, only the declared one is reported.
CREATE TABLE {U}.{LT} (
    id integer PRIMARY KEY,
    measurement_id bigint,
    taken_on date,
    CONSTRAINT "to measurements" FOREIGN KEY (measurement_id, taken_on) REFERENCES {M}.measurements (id, taken_on)
);

CREATE VIEW public."Order Summary" AS
    SELECT o.id, c.{ident(DISPLAY)} AS customer, o.note
    FROM {Q}."Orders" o JOIN {U}."Customers" c ON (c.region, c.id) = (o.customer_region, o.customer_id);
COMMENT ON VIEW public."Order Summary" IS 'It''s a <i>view</i>';
CREATE VIEW {L}."summary of summary" AS SELECT count(*) AS orders FROM public."Order Summary";
CREATE MATERIALIZED VIEW {U}.order_counts AS
    SELECT customer_id, count(*) AS n FROM {Q}."Orders" GROUP BY customer_id;
CREATE VIEW {M}.recent AS SELECT id, taken_on FROM {M}.measurements WHERE taken_on > '2024-06-01';
CREATE VIEW public.catalog_peek AS SELECT relname FROM pg_class;  -- reads a system catalog: no edge
CREATE VIEW public.statements AS SELECT query, calls FROM public.pg_stat_statements;  -- an extension's view: no edge

-- A foreign table without any extension: a wrapper with no handler can hold tables, just not read them.
CREATE FOREIGN DATA WRAPPER seamline_it_dummy_fdw;
CREATE SERVER seamline_it_nowhere FOREIGN DATA WRAPPER seamline_it_dummy_fdw;
CREATE FOREIGN TABLE {M}.{ident(REMOTE)} (id integer, label text) SERVER seamline_it_nowhere;
CREATE VIEW {M}.remote_labels AS SELECT label FROM {M}.{ident(REMOTE)};

GRANT USAGE ON SCHEMA {Q} TO {R};
GRANT SELECT ON {Q}."Orders" TO {R} WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE ON {Q}."Orders" TO {W};
SET ROLE {R};
GRANT SELECT ON {Q}."Orders" TO {W};  -- the same privilege from a second grantor
RESET ROLE;
GRANT SELECT ON public."Order Summary" TO PUBLIC;
GRANT SELECT, REFERENCES ON {U}."Customers" TO {OW};

CREATE FUNCTION {Q}.definer_without_path() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION {Q}.definer_with_path(p_order_id bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET work_mem = '64MB' SET search_path = {U}, pg_temp
    AS $$BEGIN RETURN (SELECT note FROM {Q}."Orders" WHERE id = p_order_id); END$$;
ALTER FUNCTION {Q}.definer_with_path(bigint) OWNER TO {OW};
CREATE FUNCTION public.invoker_with_path() RETURNS integer LANGUAGE sql SET search_path = a, pg_temp AS 'SELECT 2';
-- SQL-standard bodies: PostgreSQL parses them at creation and records what they read.
CREATE FUNCTION {U}.customer_count() RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
    SELECT count(*) FROM {U}."Customers" WHERE region <> '' AND id > 0;
END;
CREATE FUNCTION public.order_note(o_id bigint) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT note FROM {Q}."Orders" WHERE id = o_id);
CREATE FUNCTION public.next_ticket() RETURNS bigint LANGUAGE sql RETURN nextval('public.ticket_seq');
CREATE FUNCTION public.statement_count() RETURNS bigint LANGUAGE sql
    RETURN (SELECT count(*) FROM public.pg_stat_statements);
-- Row types as argument and result types: dependencies on pg_type, traced back to the table.
CREATE FUNCTION public.first_order() RETURNS {Q}."Orders" LANGUAGE plpgsql
    AS $$DECLARE o {Q}."Orders"%ROWTYPE; BEGIN SELECT * INTO o FROM {Q}."Orders" LIMIT 1; RETURN o; END$$;
CREATE FUNCTION public.count_orders(orders {Q}."Orders"[]) RETURNS integer LANGUAGE sql
    AS 'SELECT cardinality($1)';
CREATE FUNCTION public.pair_sum(p public.pair) RETURNS integer LANGUAGE sql AS 'SELECT $1.a + $1.b';
CREATE FUNCTION public.{ident(FUNNY_FN)}(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE FUNCTION public.{ident(FUNNY_FN)}("Count" integer, label text DEFAULT 'x') RETURNS text
    LANGUAGE sql IMMUTABLE AS 'SELECT $2';
COMMENT ON FUNCTION public.{ident(FUNNY_FN)}(text) IS '<script>alert("fn")</script> it''s';
CREATE PROCEDURE public.do_nothing() LANGUAGE plpgsql AS $$BEGIN END$$;
CREATE AGGREGATE public.my_sum(integer) (SFUNC = int4pl, STYPE = integer);
CREATE FUNCTION public.my_row_number() RETURNS bigint WINDOW LANGUAGE internal AS 'window_row_number';

INSERT INTO {U}."Customers" VALUES (1, 'eu', 'Ada'), (2, 'us', 'Bob'), (3, 'eu', '<b>Eve</b>');
INSERT INTO {Q}."Orders" (customer_region, customer_id, note) VALUES ('eu', 1, 'first'), ('us', 2, NULL);
INSERT INTO {M}.measurements VALUES (1, '2024-03-01', 'eu', 1), (2, '2024-07-01', 'us', 2);
ANALYZE {U}."Customers";
ANALYZE {Q}."Orders";
ANALYZE {M}.measurements;
REFRESH MATERIALIZED VIEW {U}.order_counts;
"""

# Enough more objects to show that the number of statements does not grow with the database.
BIG_EXTRA_SQL = """
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE format('CREATE TABLE public.%I (id integer PRIMARY KEY, label text)', 'extra ' || i);
        EXECUTE format('CREATE VIEW public.%I AS SELECT label FROM public.%I', 'extra view ' || i, 'extra ' || i);
        EXECUTE format('CREATE FUNCTION public.%I() RETURNS bigint LANGUAGE sql '
                       'RETURN (SELECT count(*) FROM public.%I)', 'extra_fn_' || i, 'extra ' || i);
    END LOOP;
END
$$;
"""


def _drop_databases(conn: psycopg.Connection) -> None:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE_DBNAME]).fetchone():
        conn.execute(f"ALTER DATABASE {ident(TEMPLATE_DBNAME)} IS_TEMPLATE false")  # templates cannot be dropped
    for name in (DBNAME, BIG_DBNAME, OPEN_DBNAME, CLOSED_DBNAME, TEMPLATE_DBNAME, INVALID_DBNAME):
        conn.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")


def _create_database(admin: psycopg.Connection, dbname: str, *scripts: str) -> None:
    admin.execute(f"CREATE DATABASE {ident(dbname)}")
    with pg(dbname=dbname) as conn:
        for script in scripts:
            conn.execute(script)


@pytest.fixture(scope="module")
def hostile_db() -> Iterator[str]:
    """The fixture database (and the big one, and the ones list_databases must hide); all dropped afterwards."""
    with pg() as admin:
        _drop_databases(admin)
        for role in ROLES:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
                admin.execute(f"CREATE ROLE {ident(role)} {'LOGIN' if role == MONITOR else 'NOLOGIN'}")
        try:
            _create_database(admin, DBNAME, FIXTURE_SQL)
            _create_database(admin, BIG_DBNAME, FIXTURE_SQL, BIG_EXTRA_SQL)
            admin.execute(f"CREATE DATABASE {ident(OPEN_DBNAME)}")
            admin.execute(f"CREATE DATABASE {ident(CLOSED_DBNAME)} ALLOW_CONNECTIONS false")
            admin.execute(f"CREATE DATABASE {ident(TEMPLATE_DBNAME)} IS_TEMPLATE true")
            # What an interrupted DROP DATABASE leaves behind (15.4, 14.9 and later): refuses connections.
            admin.execute(f"CREATE DATABASE {ident(INVALID_DBNAME)}")
            admin.execute("UPDATE pg_database SET datconnlimit = -2 WHERE datname = %s", [INVALID_DBNAME])
            # Another session's temporary table (with its TOAST table) lives in pg_temp_N / pg_toast_temp_N.
            with pg(dbname=DBNAME) as other_session:
                other_session.execute("CREATE TEMP TABLE scratch (id integer PRIMARY KEY, note text)")
                yield DBNAME
        finally:
            _drop_databases(admin)
            for role in ROLES:
                admin.execute(f"DROP ROLE IF EXISTS {ident(role)}")


class CountingCursor(psycopg.Cursor):
    """Counts every statement sent through the connection (conn.execute goes through a cursor too)."""

    def execute(self, query, params=None, **kwargs):
        counts = self.connection.info_counts  # type: ignore[attr-defined]
        counts["statements"] += 1
        return super().execute(query, params, **kwargs)


def monitor_connection(dbname: str, user: str = "postgres") -> psycopg.Connection:
    """Like catalog.monitored.connect: one read-only REPEATABLE READ transaction, statements counted."""
    conn = psycopg.connect(
        host=settings.PG_HOST,
        port=settings.PG_PORT,
        user=user,
        dbname=dbname,
        connect_timeout=5,
        cursor_factory=CountingCursor,
    )
    conn.info_counts = {"statements": 0}  # type: ignore[attr-defined]
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


@pytest.fixture
def conn(hostile_db: str) -> Iterator[psycopg.Connection]:
    with monitor_connection(hostile_db) as connection:
        yield connection


def relation_size(schema: str, name: str) -> int:
    """Computed apart from the code under test, through a quoted name: the pages VACUUM/ANALYZE counted for the
    table, its TOAST table and its indexes."""
    with pg(dbname=DBNAME) as admin:
        return admin.execute(
            """
            SELECT (c.relpages + coalesce(t.relpages, 0)
                    + coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                WHERE i.indrelid = c.oid), 0)) * current_setting('block_size')::int
            FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
            WHERE c.oid = %s::regclass
            """,
            [f"{ident(schema)}.{ident(name)}"],
        ).fetchone()[0]


def test_it_reports_the_server_version_limits_and_role_of_the_primary(hostile_db):
    with pg() as admin:
        s = introspect.cluster_settings(admin)
        max_connections, reserved, version = admin.execute(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " current_setting('server_version')"
        ).fetchone()
    assert re.fullmatch(r"\d+\.\d+", s.server_version), s.server_version
    assert version.startswith(s.server_version)
    assert s.server_version == f"{s.server_version_num // 10000}.{s.server_version_num % 10000}"
    assert s.server_version_num >= 140000
    assert (s.max_connections, s.superuser_reserved_connections) == (max_connections, reserved)
    assert (s.in_recovery, s.current_user, s.current_user_is_superuser) == (False, "postgres", True)


def test_it_reports_a_plain_monitoring_role_as_no_superuser(hostile_db):
    with monitor_connection("postgres", user=MONITOR) as conn:
        s = introspect.cluster_settings(conn)
    assert (s.current_user, s.current_user_is_superuser) == (MONITOR, False)


def test_it_reports_the_replica_as_in_recovery():
    with pg(port=settings.REPLICA_PORT) as replica:
        s = introspect.cluster_settings(replica)
    assert s.in_recovery is True
    assert re.fullmatch(r"\d+\.\d+", s.server_version)
    assert s.current_user_is_superuser is True


def test_it_lists_the_databases_that_accept_connections_but_no_templates(hostile_db):
    with pg() as admin:
        names = introspect.list_databases(admin)
    assert names == sorted(names)
    assert {DBNAME, BIG_DBNAME, OPEN_DBNAME, "postgres"} <= set(names)
    assert not {CLOSED_DBNAME, TEMPLATE_DBNAME, INVALID_DBNAME, "template0", "template1"} & set(names)


def test_it_describes_the_current_database(conn):
    info = introspect.database_info(conn)
    with pg(dbname=DBNAME) as admin:
        on_disk = admin.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counted = admin.execute(
            "SELECT (sum(relpages::bigint) * current_setting('block_size')::bigint)::bigint FROM pg_class"
        ).fetchone()[0]
    assert info == DatabaseInfo(name=DBNAME, owner="postgres", size_bytes=info.size_bytes)
    # an estimate from the pages VACUUM/ANALYZE counted: never more than on disk, and most of it
    assert counted * 0.9 <= info.size_bytes <= counted * 1.1  # autovacuum may count meanwhile
    assert 0 < info.size_bytes <= on_disk


def test_it_lists_user_schemas_with_raw_names_owners_and_comments(conn):
    # public belongs to pg_database_owner since PostgreSQL 15
    public_owner = "pg_database_owner" if conn.info.server_version >= 150000 else "postgres"
    assert len(LONG.encode()) == 63
    assert introspect.schemas(conn) == [
        SchemaRow(MARKUP, "postgres", '<script>alert("schema")</script>'),
        SchemaRow(QUOTED, OWNER, 'Orders & <b>billing</b>: it\'s "quoted"'),
        SchemaRow("ext", "postgres", ""),
        SchemaRow(LONG, "postgres", ""),
        SchemaRow("public", public_owner, "standard public schema"),
        SchemaRow(UNICODE, "postgres", ""),
    ]


def test_it_lists_every_relation_kind_with_live_columns_and_no_extension_or_system_objects(conn):
    def row(schema, name, kind, rows, pk, columns, comment="", owner="postgres", sized=True):
        size = relation_size(schema, name) if sized else 0
        return RelationRow(schema, name, kind, owner, rows, size, pk, tuple(columns), comment)

    expected = [
        row(
            MARKUP,
            "measurements",
            "partitioned",
            2,
            True,
            ["id", "taken_on", "customer_region", "customer_id"],
            sized=False,
        ),
        row(MARKUP, "measurements_2024", "table", 2, True, ["id", "taken_on", "customer_region", "customer_id"]),
        row(MARKUP, "recent", "view", None, False, ["id", "taken_on"], sized=False),
        row(MARKUP, REMOTE, "foreign", None, False, ["id", "label"], sized=False),
        row(MARKUP, "remote_labels", "view", None, False, ["label"], sized=False),
        row(QUOTED, "Orders", "table", 2, True, ["id", "customer_region", "customer_id", "note"], owner=OWNER),
        row(LONG, "summary of summary", "view", None, False, ["orders"], sized=False),
        row(
            "public",
            "Order Summary",
            "view",
            None,
            False,
            ["id", "customer", "note"],
            "It's a <i>view</i>",
            sized=False,
        ),
        row("public", "catalog_peek", "view", None, False, ["relname"], sized=False),
        row("public", "events_log", "table", None, False, ["at", "payload"]),
        row("public", "locked", "table", None, False, ["id"]),
        row("public", "statements", "view", None, False, ["query", "calls"], sized=False),
        row(
            UNICODE,
            "Customers",
            "table",
            3,
            True,
            ["id", "region", DISPLAY],
            '<img src=x onerror=alert(1)> "customers"',
        ),
        row(UNICODE, "order_counts", "matview", None, False, ["customer_id", "n"]),
        row(UNICODE, LONG_TABLE, "table", None, True, ["id", "measurement_id", "taken_on"]),
    ]
    actual = introspect.relations(conn)
    assert actual == expected
    # The parent of a partitioned table has no storage of its own; its partition and the tables do.
    sizes = {(r.schema, r.name): r.size_bytes for r in actual}
    assert sizes[(MARKUP, "measurements")] == 0
    assert sizes[(MARKUP, "measurements_2024")] > 0
    assert sizes[(UNICODE, "Customers")] > 0
    assert sizes[(UNICODE, "order_counts")] == 0  # never analysed: its pages are not counted yet
    assert len(LONG_TABLE.encode()) == 63


def test_it_lists_functions_of_every_kind_with_security_definer_and_search_path(conn):
    def fn(schema, name, args, kind="function", language="sql", definer=False, path=None, comment="", owner="postgres"):
        return FunctionRow(schema, name, args, kind, owner, language, definer, path, comment)

    assert introspect.functions(conn) == [
        fn(
            QUOTED,
            "definer_with_path",
            "p_order_id bigint",
            language="plpgsql",
            definer=True,
            path=f"{U}, pg_temp",
            owner=OWNER,
        ),
        fn(QUOTED, "definer_without_path", "", definer=True),
        fn("public", "count_orders", f'orders {Q}."Orders"[]'),
        fn("public", "do_nothing", "", kind="procedure", language="plpgsql"),
        fn("public", "first_order", "", language="plpgsql"),
        fn("public", FUNNY_FN, '"Count" integer, label text'),
        fn("public", FUNNY_FN, "text", comment='<script>alert("fn")</script> it\'s'),
        fn("public", "invoker_with_path", "", path="a, pg_temp"),
        fn("public", "my_row_number", "", kind="window", language="internal"),
        fn("public", "my_sum", "integer", kind="aggregate", language="internal"),
        fn("public", "next_ticket", ""),
        fn("public", "order_note", "o_id bigint"),
        fn("public", "pair_sum", "p pair"),
        fn("public", "statement_count", ""),
        fn(UNICODE, "customer_count", ""),
    ]


def test_it_lists_direct_view_edges_within_user_schemas_only(conn):
    def edge(view_schema, view, source_schema, source):
        return ViewDependency(RelationRef(view_schema, view), RelationRef(source_schema, source))

    assert introspect.view_dependencies(conn) == [
        edge(MARKUP, "recent", MARKUP, "measurements"),
        edge(MARKUP, "remote_labels", MARKUP, REMOTE),
        edge(LONG, "summary of summary", "public", "Order Summary"),
        edge("public", "Order Summary", QUOTED, "Orders"),
        edge("public", "Order Summary", UNICODE, "Customers"),
        edge(UNICODE, "order_counts", QUOTED, "Orders"),
    ]


def test_it_lists_declared_foreign_keys_with_columns_in_key_order(conn):
    assert introspect.foreign_keys(conn) == [
        ForeignKey(
            "measurements_customer_region_customer_id_fkey",
            RelationRef(MARKUP, "measurements"),
            RelationRef(UNICODE, "Customers"),
            ("customer_region", "customer_id"),
            ("region", "id"),
        ),
        ForeignKey(
            FK_NAME,
            RelationRef(QUOTED, "Orders"),
            RelationRef(UNICODE, "Customers"),
            ("customer_region", "customer_id"),
            ("region", "id"),
        ),
        ForeignKey(
            "to measurements",
            RelationRef(UNICODE, LONG_TABLE),
            RelationRef(MARKUP, "measurements"),
            ("measurement_id", "taken_on"),
            ("id", "taken_on"),
        ),
    ]


def test_it_lists_grants_to_roles_other_than_the_owner_merged_across_grantors(conn):
    assert introspect.privileges(conn) == [
        Privilege(RelationRef(QUOTED, "Orders"), READER, ("SELECT",)),
        Privilege(RelationRef(QUOTED, "Orders"), WRITER, ("INSERT", "SELECT", "UPDATE")),
        Privilege(RelationRef("public", "Order Summary"), "PUBLIC", ("SELECT",)),
        Privilege(RelationRef(UNICODE, "Customers"), OWNER, ("REFERENCES", "SELECT")),
    ]


def test_it_lists_the_relations_functions_read_or_take_as_row_types(conn):
    def dep(schema, name, args, source_schema, source):
        return FunctionDependency(FunctionRef(schema, name, args), RelationRef(source_schema, source))

    assert introspect.function_dependencies(conn) == [
        dep("public", "count_orders", f'orders {Q}."Orders"[]', QUOTED, "Orders"),
        dep("public", "first_order", "", QUOTED, "Orders"),
        dep("public", "order_note", "o_id bigint", QUOTED, "Orders"),
        dep(UNICODE, "customer_count", "", UNICODE, "Customers"),
    ]


def test_it_reads_the_same_catalog_as_a_plain_monitoring_role(conn):
    as_superuser = introspect.read_database(conn)
    with monitor_connection(DBNAME, user=MONITOR) as plain:
        as_monitor = introspect.read_database(plain)
    assert as_monitor == as_superuser


def test_it_reads_a_database_in_a_constant_number_of_statements(hostile_db):
    counts = {}
    for dbname in (DBNAME, BIG_DBNAME):
        with monitor_connection(dbname) as conn:
            catalog = introspect.read_database(conn)
            counts[dbname] = (conn.info_counts["statements"], len(catalog.relations), len(catalog.functions))
    small, big = counts[DBNAME], counts[BIG_DBNAME]
    assert big[1:] == (small[1] + 400, small[2] + 200)
    assert small[0] == big[0] == 8
