"""Dependencies between relations: a view reads a relation, a table's foreign key references one."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .scope import RELKINDS_SQL, USER_NAMESPACES, not_extension_relation
from .statement import Statement


@dataclass(frozen=True)
class ViewDependency:
    """A view or matview reads a relation directly (its rewrite rule depends on it), and which of its columns (in the
    relation's order; empty: none in particular, e.g. ``count(*)``). Self-references are excluded."""

    view_schema: str
    view_name: str
    source_schema: str
    source_name: str
    columns: tuple[str, ...]


VIEW_DEPENDENCIES = Statement(
    f"""
WITH {USER_NAMESPACES}
-- A view's query lives in its _RETURN rule; the rule records one pg_depend row per column it reads (refobjsubid, the
-- column's number; 0 for the relation as a whole), plus an internal dependency on the view itself (excluded).
SELECT vn.nspname AS view_schema, v.relname AS view_name, sn.nspname AS source_schema, s.relname AS source_name,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = s.oid AND a.attnum = ANY (array_agg(dep.refobjsubid)) AND a.attnum > 0
             ORDER BY a.attnum) AS columns
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class
JOIN user_namespace vn ON vn.oid = v.relnamespace
JOIN pg_depend dep
  ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
 AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid <> r.ev_class
JOIN pg_class s ON s.oid = dep.refobjid
JOIN user_namespace sn ON sn.oid = s.relnamespace
WHERE v.relkind IN ('v', 'm')
  AND s.relkind IN {RELKINDS_SQL}
  AND {not_extension_relation("v")}
  AND {not_extension_relation("s")}
GROUP BY vn.nspname, v.relname, sn.nspname, s.relname, s.oid
ORDER BY 1, 2, 3, 4
""",
    ViewDependency,
)


def view_dependencies(conn: psycopg.Connection) -> list[ViewDependency]:
    """Direct edges only: a view over a view over a table gives two edges, not three."""
    return VIEW_DEPENDENCIES.fetch(conn)


@dataclass(frozen=True)
class ForeignKey:
    name: str  # constraint name
    table_schema: str  # the referencing table
    table_name: str
    source_schema: str  # the referenced table
    source_name: str
    columns: tuple[str, ...]
    referenced_columns: tuple[str, ...]


FOREIGN_KEYS = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT k.conname AS name, tn.nspname AS table_schema, t.relname AS table_name,
       rn.nspname AS source_schema, r.relname AS source_name, cols.columns, cols.referenced_columns
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN user_namespace tn ON tn.oid = t.relnamespace
JOIN pg_class r ON r.oid = k.confrelid
JOIN user_namespace rn ON rn.oid = r.relnamespace
-- conkey and confkey are parallel arrays in key order (not column order): unnest them together.
CROSS JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY u.ord) AS columns, array_agg(ra.attname ORDER BY u.ord) AS referenced_columns
    FROM unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(attnum, refattnum, ord)
    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
    JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.refattnum
) cols
WHERE k.contype = 'f'
  -- A foreign key on (or to) a partitioned table is cloned, under the same name, onto every partition involved;
  -- the clones point at their parent constraint. Only the constraints users declared are reported.
  AND k.conparentid = 0
  AND {not_extension_relation("t")}
  AND {not_extension_relation("r")}
ORDER BY tn.nspname, t.relname, k.conname
""",
    ForeignKey,
)


def foreign_keys(conn: psycopg.Connection) -> list[ForeignKey]:
    """Declared foreign keys, columns in key order; the per-partition clones of a partitioned one are left out."""
    return FOREIGN_KEYS.fetch(conn)


@dataclass(frozen=True)
class ForeignTable:
    """A foreign table, its server, and where the server's options say the data is: for postgres_fdw the host,
    port and database of another PostgreSQL and the remote relation (its ``schema_name`` and ``table_name``
    options, else the foreign table's own names). Only those options are read: never a user mapping (its password)
    nor any other option."""

    schema: str
    name: str
    server: str
    wrapper: str
    host: str  # as the option has it (may list several hosts); empty: libpq's default
    port: str
    dbname: str
    remote_schema: str
    remote_name: str


FOREIGN_TABLES = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT n.nspname AS schema, c.relname AS name, s.srvname AS server, w.fdwname AS wrapper,
       coalesce((SELECT o.option_value FROM pg_options_to_table(s.srvoptions) o WHERE o.option_name = 'host'), '')
           AS host,
       coalesce((SELECT o.option_value FROM pg_options_to_table(s.srvoptions) o WHERE o.option_name = 'port'), '')
           AS port,
       coalesce((SELECT o.option_value FROM pg_options_to_table(s.srvoptions) o WHERE o.option_name = 'dbname'), '')
           AS dbname,
       coalesce((SELECT o.option_value FROM pg_options_to_table(ft.ftoptions) o WHERE o.option_name = 'schema_name'),
                n.nspname) AS remote_schema,
       coalesce((SELECT o.option_value FROM pg_options_to_table(ft.ftoptions) o WHERE o.option_name = 'table_name'),
                c.relname) AS remote_name
FROM pg_foreign_table ft
JOIN pg_class c ON c.oid = ft.ftrelid
JOIN user_namespace n ON n.oid = c.relnamespace
JOIN pg_foreign_server s ON s.oid = ft.ftserver
JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE {not_extension_relation("c")}
ORDER BY n.nspname, c.relname
""",
    ForeignTable,
)
