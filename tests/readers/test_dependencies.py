"""catalog/readers/dependencies.py on the real stack: direct view edges and declared foreign keys."""

from __future__ import annotations

from catalog.readers import dependencies
from catalog.readers.dependencies import ForeignKey, ViewDependency
from tests.hostile import DISPLAY, FK_NAME, LONG, LONG_TABLE, MARKUP, QUOTED, REMOTE, UNICODE


def test_it_lists_direct_view_edges_within_user_schemas_only(hostile_conn):
    assert dependencies.view_dependencies(hostile_conn) == [
        # the columns each reads, in the table's order (WHERE and JOIN columns too); count(*) reads none
        ViewDependency(MARKUP, "recent", MARKUP, "measurements", ("id", "taken_on")),
        ViewDependency(MARKUP, "remote_labels", MARKUP, REMOTE, ("label",)),
        ViewDependency(LONG, "summary of summary", "public", "Order Summary", ()),
        ViewDependency("public", "Order Summary", QUOTED, "Orders", ("id", "customer_region", "customer_id", "note")),
        ViewDependency("public", "Order Summary", UNICODE, "Customers", ("id", "region", DISPLAY)),
        ViewDependency(UNICODE, "order_counts", QUOTED, "Orders", ("customer_id",)),
    ]


def test_it_lists_declared_foreign_keys_with_columns_in_key_order(hostile_conn):
    assert dependencies.foreign_keys(hostile_conn) == [
        ForeignKey(
            "measurements_customer_region_customer_id_fkey",
            MARKUP,
            "measurements",
            UNICODE,
            "Customers",
            ("customer_region", "customer_id"),
            ("region", "id"),
        ),
        ForeignKey(
            FK_NAME, QUOTED, "Orders", UNICODE, "Customers", ("customer_region", "customer_id"), ("region", "id")
        ),
        ForeignKey(
            "to measurements",
            UNICODE,
            LONG_TABLE,
            MARKUP,
            "measurements",
            ("measurement_id", "taken_on"),
            ("id", "taken_on"),
        ),
    ]
