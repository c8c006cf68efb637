"""Catalog SQL: what one database really contains, read in a small constant number of queries whatever its size.

Each function is one SQL statement over an open psycopg connection and returns plain dataclasses; identifiers are
returned raw (never quoted), exactly as PostgreSQL stores them. The caller opens the connection read-only with
timeouts (``catalog.monitored.connect``). System schemas (pg_catalog, information_schema, pg_toast, pg_temp_*) and
objects that belong to extensions are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

# relkind -> Relation.kind
RELKINDS = {"r": "table", "p": "partitioned", "v": "view", "m": "matview", "f": "foreign"}


@dataclass(frozen=True)
class ClusterSettings:
    server_version: str  # e.g. "15.18"
    server_version_num: int  # e.g. 150018
    max_connections: int
    superuser_reserved_connections: int
    in_recovery: bool
    current_user: str
    current_user_is_superuser: bool


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    owner: str
    size_bytes: int


@dataclass(frozen=True)
class SchemaRow:
    name: str
    owner: str
    comment: str  # "" when none


@dataclass(frozen=True)
class RelationRow:
    schema: str
    name: str
    kind: str  # one of RELKINDS' values
    owner: str
    estimated_rows: int | None  # None when never analysed (reltuples < 0) or not a table-like relation
    size_bytes: int  # pg_total_relation_size; 0 for views
    has_primary_key: bool
    columns: tuple[str, ...]  # live (not dropped) user columns in attnum order
    comment: str


@dataclass(frozen=True)
class FunctionRow:
    schema: str
    name: str
    identity_arguments: str  # pg_get_function_identity_arguments, e.g. "p_order_id bigint"
    kind: str  # "function" | "procedure" | "aggregate" | "window"
    owner: str
    language: str
    security_definer: bool
    search_path: str | None  # the value of a "search_path=..." entry in proconfig, None when not set
    comment: str


@dataclass(frozen=True)
class RelationRef:
    schema: str
    name: str


@dataclass(frozen=True)
class FunctionRef:
    schema: str
    name: str
    identity_arguments: str


@dataclass(frozen=True)
class ViewDependency:
    """A view or matview reads a relation directly (its rewrite rule depends on it). Self-references are excluded."""

    view: RelationRef
    source: RelationRef


@dataclass(frozen=True)
class ForeignKey:
    name: str  # constraint name
    table: RelationRef  # the referencing table
    references: RelationRef  # the referenced table
    columns: tuple[str, ...]
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class Privilege:
    """Privileges granted on a relation to a role other than its owner (from aclexplode over relacl)."""

    relation: RelationRef
    grantee: str  # role name; "PUBLIC" for grants to public
    privileges: tuple[str, ...]  # sorted, e.g. ("INSERT", "SELECT")


@dataclass(frozen=True)
class FunctionDependency:
    """A function depends on a relation where PostgreSQL records it (SQL-standard bodies, argument/return types)."""

    function: FunctionRef
    source: RelationRef


@dataclass
class DatabaseCatalog:
    database: DatabaseInfo
    schemas: list[SchemaRow] = field(default_factory=list)
    relations: list[RelationRow] = field(default_factory=list)
    functions: list[FunctionRow] = field(default_factory=list)
    view_dependencies: list[ViewDependency] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    privileges: list[Privilege] = field(default_factory=list)
    function_dependencies: list[FunctionDependency] = field(default_factory=list)


def cluster_settings(conn: psycopg.Connection) -> ClusterSettings:
    raise NotImplementedError


def list_databases(conn: psycopg.Connection) -> list[str]:
    """Every database that accepts connections and is not a template, sorted by name."""
    raise NotImplementedError


def database_info(conn: psycopg.Connection) -> DatabaseInfo:
    raise NotImplementedError


def schemas(conn: psycopg.Connection) -> list[SchemaRow]:
    raise NotImplementedError


def relations(conn: psycopg.Connection) -> list[RelationRow]:
    raise NotImplementedError


def functions(conn: psycopg.Connection) -> list[FunctionRow]:
    raise NotImplementedError


def view_dependencies(conn: psycopg.Connection) -> list[ViewDependency]:
    raise NotImplementedError


def foreign_keys(conn: psycopg.Connection) -> list[ForeignKey]:
    raise NotImplementedError


def privileges(conn: psycopg.Connection) -> list[Privilege]:
    raise NotImplementedError


def function_dependencies(conn: psycopg.Connection) -> list[FunctionDependency]:
    raise NotImplementedError


def read_database(conn: psycopg.Connection) -> DatabaseCatalog:
    """Everything above for the connection's database: a constant number of statements, whatever its size."""
    return DatabaseCatalog(
        database=database_info(conn),
        schemas=schemas(conn),
        relations=relations(conn),
        functions=functions(conn),
        view_dependencies=view_dependencies(conn),
        foreign_keys=foreign_keys(conn),
        privileges=privileges(conn),
        function_dependencies=function_dependencies(conn),
    )
