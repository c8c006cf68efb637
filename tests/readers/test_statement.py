"""catalog/readers/statement.py: a statement's columns are its row's fields, checked on every execution, and the
table that holds its rows is made from the row's types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from catalog.readers.statement import ColumnMismatch, Statement
from tests.conftest import pg


@dataclass(frozen=True)
class Row:
    name: str
    size: int | None
    parts: tuple[str, ...]
    at: datetime
    ok: bool


AT = "2026-01-02 03:04:05+00"
GOOD = Statement(
    f"SELECT 'a' AS name, NULL::int AS size, ARRAY['x', 'y'] AS parts, '{AT}'::timestamptz AS at, true AS ok", Row
)


def test_it_fetches_rows_as_its_dataclass_with_arrays_as_tuples():
    with pg() as conn:
        (row,) = GOOD.fetch(conn)
        assert GOOD.fetch_one(conn) == row
    assert row == Row("a", None, ("x", "y"), datetime.fromisoformat(AT), True)


def test_columns_that_drift_from_the_row_fail_loudly_even_with_no_rows():
    renamed = Statement("SELECT 'a' AS label, 1 AS size, '{}'::text[] AS parts, now() AS at, true AS ok", Row)
    reordered = Statement("SELECT 1 AS size, 'a' AS name, '{}'::text[] AS parts, now() AS at, true AS ok", Row)
    empty = Statement("SELECT 'a' AS name, 1 AS size WHERE false", Row)
    with pg() as conn:
        for statement in (renamed, reordered, empty):
            with pytest.raises(ColumnMismatch):
                statement.fetch(conn)


def test_its_table_columns_come_from_the_rows_types():
    assert GOOD.columns_sql() == "name text, size bigint, parts text[], at timestamptz, ok boolean"
