"""A real PostgreSQL database full of hostile names, for the catalog readers' tests (tests/readers/) and for the
sync and the catalog commands that copy what they read (a pytest plugin: tests/conftest.py loads it).

The fixture database holds schemas and roles whose names carry quotes, spaces, mixed case, unicode, markup and the
full 63 bytes PostgreSQL allows; extension objects and system catalogs that must stay out; and every kind of edge
(view, foreign key, grant, function) the catalog reports. Nothing needs Django's own database.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings

from demo.loader import drop_subscriptions
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

-- Logical replication: a publication (a subscription, disabled, would make the server's health CRIT for every test:
-- tests/readers/test_database.py makes one for its own test).
CREATE PUBLICATION "pub <b>" FOR TABLE {Q}."Orders", {U}."Customers";

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
    for name in (DBNAME, BIG_DBNAME):  # a database holding a subscription (a test's, left over) cannot be dropped
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with pg(dbname=name) as db:
                drop_subscriptions(db)
    for name in (DBNAME, BIG_DBNAME, OPEN_DBNAME, CLOSED_DBNAME, TEMPLATE_DBNAME, INVALID_DBNAME):
        conn.execute(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")


def _create_database(admin: psycopg.Connection, dbname: str, *scripts: str) -> None:
    admin.execute(f"CREATE DATABASE {ident(dbname)}")
    with pg(dbname=dbname) as conn:
        for script in scripts:
            conn.execute(script)


@pytest.fixture(scope="session")
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
def hostile_conn(hostile_db: str) -> Iterator[psycopg.Connection]:
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
