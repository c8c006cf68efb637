"""One database's whole catalog: every section the sync copies, in a constant number of statements whatever its size.

``SECTIONS`` names the statements a sync stages (catalog.sync copies each into a table made from its row);
``read_database`` reads the same statements into Python objects, for tests and tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from . import dependencies, functions, grants, logical, objects, server
from .statement import Statement

SECTIONS: dict[str, Statement] = {
    "schemas": objects.SCHEMAS,
    "relations": objects.RELATIONS,
    "functions": functions.FUNCTIONS,
    "view_dependencies": dependencies.VIEW_DEPENDENCIES,
    "foreign_keys": dependencies.FOREIGN_KEYS,
    "privileges": grants.PRIVILEGES,
    "function_dependencies": functions.FUNCTION_DEPENDENCIES,
    "function_bodies": functions.FUNCTION_BODIES,
    "foreign_tables": dependencies.FOREIGN_TABLES,
    "published_tables": logical.PUBLISHED_TABLES,
    "subscriptions": logical.SUBSCRIPTIONS,
}


@dataclass
class DatabaseCatalog:
    database: server.DatabaseInfo
    schemas: list[objects.SchemaRow] = field(default_factory=list)
    relations: list[objects.RelationRow] = field(default_factory=list)
    functions: list[functions.FunctionRow] = field(default_factory=list)
    view_dependencies: list[dependencies.ViewDependency] = field(default_factory=list)
    foreign_keys: list[dependencies.ForeignKey] = field(default_factory=list)
    privileges: list[grants.Privilege] = field(default_factory=list)
    function_dependencies: list[functions.FunctionDependency] = field(default_factory=list)
    function_bodies: list[functions.FunctionBody] = field(default_factory=list)
    foreign_tables: list[dependencies.ForeignTable] = field(default_factory=list)
    published_tables: list[logical.PublishedTable] = field(default_factory=list)
    subscriptions: list[logical.Subscription] = field(default_factory=list)


def read_database(conn: psycopg.Connection) -> DatabaseCatalog:
    """Every section of the connection's database, as Python objects."""
    return DatabaseCatalog(
        database=server.database_info(conn), **{name: st.fetch(conn) for name, st in SECTIONS.items()}
    )
