"""dashboard/readers/statements.py on the real stack (the dev stack preloads pg_stat_statements): what it reads, for
whom, and what it refuses to send."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings

from catalog.monitored import connect
from dashboard.readers import statements
from tests.conftest import pg

DSN = f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres"
ROLE = "seamline_stmt_probe"  # runs the statements counted
LOOKER = "seamline_stmt_looker"  # a monitoring role without pg_read_all_stats
PASSWORDLESS = f"host={settings.PG_HOST} port={settings.PG_PORT} dbname=postgres"


@pytest.fixture
def extension():
    with pg() as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for role in (ROLE, LOOKER):
            admin.execute(f"DROP ROLE IF EXISTS {role}")
            admin.execute(f"CREATE ROLE {role} LOGIN")
    yield
    with pg() as admin:
        for role in (ROLE, LOOKER):
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def run_as_probe(times: int) -> None:
    with psycopg.connect(f"{PASSWORDLESS} user={ROLE}", autocommit=True) as conn:
        for i in range(times):
            conn.execute("SELECT count(*) AS seamline_probe_count FROM pg_class WHERE relpages > %s", [i])


def probe(entries: list[statements.Counters]) -> statements.Counters | None:
    return next((e for e in entries if e.role == ROLE and e.toplevel and e.calls), None)


def test_it_says_where_the_extension_is_and_what_the_role_may_see(extension):
    with connect(DSN) as conn:
        where = statements.availability(conn)
    assert where.readable and where.preloaded and where.sees_all and where.has_info
    assert where.schema == "public" and where.version
    with connect(f"{PASSWORDLESS} user=postgres dbname=template1") as conn:  # a database without the extension
        elsewhere = statements.availability(conn)
    assert elsewhere.version is None and elsewhere.schema is None and not elsewhere.readable
    assert elsewhere.preloaded  # the server has it; this database does not
    with connect(f"{PASSWORDLESS} user={LOOKER}") as conn:
        assert not statements.availability(conn).sees_all


def test_it_counts_a_roles_statements_exactly_and_fetches_only_the_texts_asked_for(extension):
    with pg() as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
    with connect(DSN) as conn:
        where = statements.availability(conn)
        before = statements.info(conn, where)
    run_as_probe(7)
    with connect(DSN) as conn:
        entry = probe(statements.counters(conn, where))
        assert entry is not None and entry.calls == 7 and entry.database == "postgres"
        assert entry.rows == 7 and entry.total_exec_ms > 0 and entry.wal_bytes >= 0
        sent = conn.statements_sent
        assert statements.texts(conn, where, []) == {} and conn.statements_sent == sent  # none asked: none sent
        found = statements.texts(conn, where, [entry.queryid, -1])
        assert list(found) == [entry.queryid]  # an id the server does not have gives nothing
        assert "seamline_probe_count" in found[entry.queryid] and "relpages > $1" in found[entry.queryid]
        after = statements.info(conn, where)
    assert after.stats_reset == before.stats_reset and after.dealloc >= before.dealloc


def test_a_full_reset_moves_stats_reset_and_empties_the_counters(extension):
    run_as_probe(2)
    with connect(DSN) as conn:
        where = statements.availability(conn)
        before = statements.info(conn, where)
        assert probe(statements.counters(conn, where)) is not None
    with pg() as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
    with connect(DSN) as conn:
        assert probe(statements.counters(conn, where)) is None
        assert statements.info(conn, where).stats_reset > before.stats_reset


def test_a_role_without_pg_read_all_stats_gets_no_ids_for_other_roles(extension):
    run_as_probe(3)
    with connect(f"{PASSWORDLESS} user={LOOKER}") as conn:
        where = statements.availability(conn)
        entries = statements.counters(conn, where)
    others = [e for e in entries if e.role == ROLE]
    assert others and all(e.queryid is None for e in others)  # counted, but neither id nor text


def test_a_schema_with_an_awkward_name_is_quoted(extension):
    name = 'stmt "odd" schema'
    with pg() as admin:
        admin.execute("DROP DATABASE IF EXISTS seamline_stmt_odd")
        admin.execute("CREATE DATABASE seamline_stmt_odd")
    try:
        with psycopg.connect(f"{PASSWORDLESS} user=postgres dbname=seamline_stmt_odd", autocommit=True) as admin:
            admin.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(name)))
            admin.execute(
                psycopg.sql.SQL("CREATE EXTENSION pg_stat_statements SCHEMA {}").format(psycopg.sql.Identifier(name))
            )
        run_as_probe(1)
        with connect(f"{PASSWORDLESS} user=postgres dbname=seamline_stmt_odd") as conn:
            where = statements.availability(conn)
            assert where.schema == name
            assert probe(statements.counters(conn, where)) is not None  # every database's statements, from here
            assert statements.info(conn, where) is not None
    finally:
        with pg() as admin:
            admin.execute("DROP DATABASE IF EXISTS seamline_stmt_odd WITH (FORCE)")
