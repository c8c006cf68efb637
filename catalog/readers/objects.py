"""Catalog objects: a database's schemas and relations (tables, partitions, views, matviews, foreign tables)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .scope import RELKINDS, RELKINDS_SQL, USER_NAMESPACES, kind_name, not_extension_relation
from .statement import Statement


@dataclass(frozen=True)
class SchemaRow:
    name: str
    owner: str
    comment: str  # "" when none


SCHEMAS = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner, coalesce(d.description, '') AS comment
FROM user_namespace n
-- A join rather than obj_description(): that function looks the catalog up again for every row.
LEFT JOIN pg_description d
       ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
ORDER BY n.nspname
""",
    SchemaRow,
)


def schemas(conn: psycopg.Connection) -> list[SchemaRow]:
    return SCHEMAS.fetch(conn)


@dataclass(frozen=True)
class RelationRow:
    schema: str
    name: str
    kind: str  # one of RELKINDS' values
    owner: str
    estimated_rows: int | None  # None when never analysed (reltuples < 0) or not a table-like relation
    size_bytes: int  # estimated from relpages (heap + TOAST + indexes); 0 for views and partitioned parents
    has_primary_key: bool
    columns: tuple[str, ...]  # live (not dropped) user columns in attnum order
    comment: str


RELATIONS = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT
    n.nspname AS schema,
    c.relname AS name,
    {kind_name("c.relkind", RELKINDS)} AS kind,
    pg_get_userbyid(c.relowner) AS owner,
    -- reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14+; 0 before): "unknown", not "empty".
    CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows,
    -- Size from the page counts VACUUM and ANALYZE keep (heap + TOAST + indexes), not pg_total_relation_size: that
    -- one locks each table in turn and would wait behind (and fail on) any ACCESS EXCLUSIVE lock a live database
    -- holds. Views, foreign tables and partitioned parents have no storage of their own.
    CASE WHEN c.relkind IN ('r', 'm')
         THEN (c.relpages::bigint + coalesce(t.relpages, 0) + coalesce(ix.pages, 0))
              * current_setting('block_size')::bigint
         ELSE 0 END AS size_bytes,
    EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_primary_key,
    -- Per relation, an index range scan of pg_attribute (attrelid, attnum): already in column order, linear overall.
    -- ARRAY(subquery) rather than array_agg in a lateral join: no aggregate to run per relation, an eighth faster.
    ARRAY(SELECT a.attname FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum) AS columns,
    coalesce(d.description, '') AS comment
FROM pg_class c
JOIN user_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN (
    SELECT i.indrelid, sum(ic.relpages)::bigint AS pages
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    GROUP BY i.indrelid
) ix ON ix.indrelid = c.oid
WHERE c.relkind IN {RELKINDS_SQL}
  AND {not_extension_relation("c")}
ORDER BY n.nspname, c.relname
""",
    RelationRow,
)


def relations(conn: psycopg.Connection) -> list[RelationRow]:
    """Tables (partitions included), partitioned tables, views, matviews and foreign tables, by schema and name.

    Reads the catalogs only and takes no lock on any table, so a table locked for VACUUM FULL, TRUNCATE or ALTER
    TABLE neither delays nor fails it. Sizes are therefore estimates, as fresh as the last VACUUM or ANALYZE.
    """
    return RELATIONS.fetch(conn)
