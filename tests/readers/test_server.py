"""catalog/readers/server.py on the real stack: the server's settings, its databases, a database's size, the
catalog fingerprint and the exported snapshot."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from catalog.readers import server
from catalog.readers.server import DatabaseInfo
from tests.conftest import pg
from tests.hostile import (
    BIG_DBNAME,
    CLOSED_DBNAME,
    DBNAME,
    INVALID_DBNAME,
    MONITOR,
    OPEN_DBNAME,
    TEMPLATE_DBNAME,
    monitor_connection,
)


def test_it_reports_the_server_version_limits_and_role_of_the_primary(hostile_db):
    with pg() as admin:
        s = server.cluster_settings(admin)
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
        s = server.cluster_settings(conn)
    assert (s.current_user, s.current_user_is_superuser) == (MONITOR, False)


def test_it_reports_the_replica_as_in_recovery():
    with pg(port=settings.REPLICA_PORT) as replica:
        s = server.cluster_settings(replica)
    assert s.in_recovery is True
    assert re.fullmatch(r"\d+\.\d+", s.server_version)
    assert s.current_user_is_superuser is True


def test_it_lists_the_databases_that_accept_connections_but_no_templates(hostile_db):
    with pg() as admin:
        names = server.list_databases(admin)
    assert names == sorted(names)
    assert {DBNAME, BIG_DBNAME, OPEN_DBNAME, "postgres"} <= set(names)
    assert not {CLOSED_DBNAME, TEMPLATE_DBNAME, INVALID_DBNAME, "template0", "template1"} & set(names)


def test_it_describes_the_current_database(hostile_conn):
    info = server.database_info(hostile_conn)
    with pg(dbname=DBNAME) as admin:
        on_disk = admin.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counted = admin.execute(
            "SELECT (sum(relpages::bigint) * current_setting('block_size')::bigint)::bigint FROM pg_class"
        ).fetchone()[0]
    assert info == DatabaseInfo(name=DBNAME, owner="postgres", size_bytes=info.size_bytes)
    # an estimate from the pages VACUUM/ANALYZE counted: never more than on disk, and most of it
    assert counted * 0.9 <= info.size_bytes <= counted * 1.1  # autovacuum may count meanwhile
    assert 0 < info.size_bytes <= on_disk


def test_the_fingerprint_is_stable_and_moves_with_the_catalog(hostile_db):
    with monitor_connection(DBNAME) as conn:
        first = server.catalog_fingerprint(conn)
    with monitor_connection(DBNAME) as conn:
        assert server.catalog_fingerprint(conn) == first  # nothing changed
    with monitor_connection(BIG_DBNAME) as conn:
        assert server.catalog_fingerprint(conn) != first  # another catalog
    assert re.fullmatch(r"[0-9a-f]{32}", first)


def test_a_joined_snapshot_sees_what_the_exporting_transaction_sees(hostile_db):
    with pg(dbname=DBNAME) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS snapshot_probe (id int)")
        admin.execute("TRUNCATE snapshot_probe")
    try:
        with monitor_connection(DBNAME) as exporter, monitor_connection(DBNAME) as joiner:
            snapshot = server.export_snapshot(exporter)
            with pg(dbname=DBNAME) as admin:
                admin.execute("INSERT INTO snapshot_probe VALUES (1)")  # committed after the export
            server.join_snapshot(joiner, snapshot)
            assert joiner.execute("SELECT count(*) FROM snapshot_probe").fetchone()[0] == 0
        with monitor_connection(DBNAME) as later:
            assert later.execute("SELECT count(*) FROM snapshot_probe").fetchone()[0] == 1
    finally:
        with pg(dbname=DBNAME) as admin:
            admin.execute("DROP TABLE snapshot_probe")


def test_a_snapshot_that_does_not_exist_is_refused(hostile_db):
    import psycopg

    with monitor_connection(DBNAME) as conn, pytest.raises(psycopg.errors.InvalidParameterValue):
        server.join_snapshot(conn, "00000003-0000001B-1")
