"""catalog/readers/objects.py on the real stack: schemas and relations of a database full of hostile names, raw
identifiers out, extension and system objects left out."""

from __future__ import annotations

from catalog.readers import objects
from catalog.readers.objects import RelationRow, SchemaRow
from tests.hostile import (
    DISPLAY,
    LONG,
    LONG_TABLE,
    MARKUP,
    OWNER,
    QUOTED,
    REMOTE,
    UNICODE,
    relation_size,
)


def test_it_lists_user_schemas_with_raw_names_owners_and_comments(hostile_conn):
    # public belongs to pg_database_owner since PostgreSQL 15
    public_owner = "pg_database_owner" if hostile_conn.info.server_version >= 150000 else "postgres"
    assert len(LONG.encode()) == 63
    assert objects.schemas(hostile_conn) == [
        SchemaRow(MARKUP, "postgres", '<script>alert("schema")</script>'),
        SchemaRow(QUOTED, OWNER, 'Orders & <b>billing</b>: it\'s "quoted"'),
        SchemaRow("ext", "postgres", ""),
        SchemaRow(LONG, "postgres", ""),
        SchemaRow("public", public_owner, "standard public schema"),
        SchemaRow(UNICODE, "postgres", ""),
    ]


def test_it_lists_every_relation_kind_with_live_columns_and_no_extension_or_system_objects(hostile_conn):
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
    actual = objects.relations(hostile_conn)
    assert actual == expected
    # The parent of a partitioned table has no storage of its own; its partition and the tables do.
    sizes = {(r.schema, r.name): r.size_bytes for r in actual}
    assert sizes[(MARKUP, "measurements")] == 0
    assert sizes[(MARKUP, "measurements_2024")] > 0
    assert sizes[(UNICODE, "Customers")] > 0
    assert sizes[(UNICODE, "order_counts")] == 0  # never analysed: its pages are not counted yet
    assert len(LONG_TABLE.encode()) == 63
