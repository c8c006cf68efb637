"""A statement sent to a monitored cluster, defined once with the rows it returns.

A ``Statement`` is SQL plus the dataclass of its rows: the dataclass's fields, in order, are the statement's output
columns, and the SQL names them the same (checked on every execution: a statement whose columns drift from its row
fails loudly instead of filling the wrong field). ``columns_sql`` gives the column definitions of a table that holds
such rows, derived from the fields' types: ``catalog.sync`` stages rows with COPY into tables made from it, so no
column list is ever written twice.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg
from psycopg.rows import RowMaker

# Python types of row fields -> PostgreSQL types of the columns that hold them
_PG_TYPES: dict[type, str] = {str: "text", int: "bigint", bool: "boolean", float: "float8", datetime: "timestamptz"}


class ColumnMismatch(Exception):
    """A statement's output columns are not its row's fields."""


def _pg_type(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # X | None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _pg_type(inner)
    if origin is tuple:  # tuple[str, ...]
        return _pg_type(typing.get_args(hint)[0]) + "[]"
    if origin in (list, dict) or hint in (list, dict):
        return "json"
    return _PG_TYPES[hint]


def _is_tuple(hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_tuple(a) for a in typing.get_args(hint))
    return typing.get_origin(hint) is tuple


@dataclasses.dataclass(frozen=True)
class Statement[R]:
    sql: str
    row: type[R]

    @cached_property
    def _hints(self) -> dict[str, Any]:
        return typing.get_type_hints(self.row)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.row))  # type: ignore[arg-type]

    @cached_property
    def _arrays(self) -> tuple[int, ...]:
        """The positions of array fields: they come back as lists, and the rows (frozen: hashable, comparable) hold
        tuples."""
        return tuple(i for i, name in enumerate(self.columns) if _is_tuple(self._hints[name]))

    def columns_sql(self) -> str:
        """Column definitions for a table holding these rows: ``name text, size bigint, columns text[], ...``."""
        return ", ".join(f"{name} {_pg_type(self._hints[name])}" for name in self.columns)

    def _row_factory(self, cursor: psycopg.Cursor[Any]) -> RowMaker[R]:
        got = tuple(c.name for c in cursor.description or ())
        if got != self.columns:
            raise ColumnMismatch(f"{self.row.__name__}: the statement returns {got}, the row has {self.columns}")
        arrays, make = self._arrays, self.row
        if not arrays:
            return lambda values: make(*values)

        def with_tuples(values: Sequence[Any]) -> R:
            values = list(values)
            for i in arrays:
                if values[i] is not None:
                    values[i] = tuple(values[i])
            return make(*values)

        return with_tuples

    def fetch(self, conn: psycopg.Connection[Any], params: Any = None) -> list[R]:
        return conn.cursor(row_factory=self._row_factory).execute(self.sql, params).fetchall()

    def fetch_one(self, conn: psycopg.Connection[Any], params: Any = None) -> R | None:
        return conn.cursor(row_factory=self._row_factory).execute(self.sql, params).fetchone()

    def copy_out(self, conn: psycopg.Connection[Any]) -> AbstractContextManager[psycopg.Copy]:
        """The rows as COPY text data (``with st.copy_out(conn) as copy: for block in copy``), for a table made with
        ``columns_sql``."""
        return conn.cursor().copy(f"COPY ({self.sql}) TO STDOUT")
