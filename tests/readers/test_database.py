"""catalog/readers/database.py on the real stack: a database's whole catalog in a constant number of statements,
the same for a plain monitoring role as for a superuser; every section's rows are what the sync stages."""

from __future__ import annotations

import pytest

from catalog.readers.database import SECTIONS, read_database
from tests.conftest import pg
from tests.hostile import BIG_DBNAME, DBNAME, MONITOR, monitor_connection


def test_it_reads_the_same_catalog_as_a_plain_monitoring_role(hostile_conn):
    as_superuser = read_database(hostile_conn)
    with monitor_connection(DBNAME, user=MONITOR) as plain:
        as_monitor = read_database(plain)
    assert as_monitor == as_superuser


def test_it_reads_a_database_in_a_constant_number_of_statements(hostile_db):
    counts = {}
    for dbname in (DBNAME, BIG_DBNAME):
        with monitor_connection(dbname) as conn:
            catalog = read_database(conn)
            counts[dbname] = (conn.info_counts["statements"], len(catalog.relations), len(catalog.functions))
    small, big = counts[DBNAME], counts[BIG_DBNAME]
    assert big[1:] == (small[1] + 400, small[2] + 200)
    assert small[0] == big[0] == 1 + len(SECTIONS) == 12


@pytest.fixture
def a_subscription(hostile_db):
    """A subscription that never connects (no slot, disabled), for this test alone: on the shared test server it would
    make every cluster's replication health CRIT."""
    with pg(dbname=hostile_db) as admin:
        admin.execute(
            """CREATE SUBSCRIPTION "sub ""q"" <i>" CONNECTION 'host=publisher.invalid dbname=nowhere'
               PUBLICATION "pub <b>" WITH (connect = false, slot_name = NONE)"""
        )
        try:
            yield
        finally:
            admin.execute('DROP SUBSCRIPTION "sub ""q"" <i>"')


def test_every_section_stages_into_a_table_made_from_its_rows_own_columns(a_subscription, hostile_conn):
    """What the sync does with each section: COPY its statement out of the monitored database into a table made from
    the statement's row (in another database: Seamline's own, here postgres), and read back exactly the rows the
    reader returns."""
    with pg() as seamline, seamline.cursor() as cur:
        for name, statement in SECTIONS.items():
            cur.execute(f"CREATE TEMP TABLE stage_{name} ({statement.columns_sql()})")
            with statement.copy_out(hostile_conn) as source, cur.copy(f"COPY stage_{name} FROM STDIN") as sink:
                for block in source:
                    sink.write(block)
            cur.execute(f"SELECT * FROM stage_{name}")
            arrays = statement._arrays  # array columns come back as lists, held as tuples; json ones stay lists
            staged = [
                statement.row(*(tuple(v) if i in arrays and v is not None else v for i, v in enumerate(r)))
                for r in cur.fetchall()
            ]
            read = statement.fetch(hostile_conn)
            assert staged == read and read, name
