"""The server and its databases: version, connection limits, which databases to read, a database's size and the
fingerprint that says whether its catalog changed, and the exported snapshot two connections share."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from . import logical
from .statement import Statement


@dataclass(frozen=True)
class ClusterSettings:
    server_version: str  # e.g. "15.18"
    server_version_num: int  # e.g. 150018
    max_connections: int
    superuser_reserved_connections: int
    in_recovery: bool
    current_user: str
    current_user_is_superuser: bool


CLUSTER_SETTINGS = Statement(
    """
SELECT
    -- server_version may carry the packager's suffix ("15.18 (Debian 15.18-0+deb12u1)"): keep the first word.
    split_part(current_setting('server_version'), ' ', 1) AS server_version,
    current_setting('server_version_num')::int AS server_version_num,
    current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
    pg_is_in_recovery() AS in_recovery,
    current_user AS current_user,
    -- pg_roles rather than pg_authid: the monitoring role is usually not a superuser and cannot read pg_authid.
    coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false) AS current_user_is_superuser
""",
    ClusterSettings,
)


def cluster_settings(conn: psycopg.Connection) -> ClusterSettings:
    """The server's version, connection limits, role and whether it is a standby. Works on a replica too."""
    return CLUSTER_SETTINGS.fetch_one(conn)


LIST_DATABASES_SQL = """
SELECT d.datname
FROM pg_database d
WHERE NOT d.datistemplate
  AND d.datallowconn
  -- datconnlimit -2 marks a database left invalid by an interrupted DROP DATABASE (15.4, 14.9 and later): it
  -- refuses connections, and all that can be done with it is to drop it.
  AND d.datconnlimit <> -2
ORDER BY d.datname
"""


def list_databases(conn: psycopg.Connection) -> list[str]:
    """Every database that accepts connections and is not a template, sorted by name."""
    return [name for (name,) in conn.execute(LIST_DATABASES_SQL)]


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    owner: str
    size_bytes: int


# The size from the page counts VACUUM and ANALYZE keep, like the relations' sizes: pg_database_size would stat every
# file of the database, which costs more than everything else here on a database of many tables.
DATABASE_INFO = Statement(
    """
SELECT d.datname AS name, pg_get_userbyid(d.datdba) AS owner,
       ((SELECT coalesce(sum(relpages::bigint), 0) FROM pg_class) * current_setting('block_size')::bigint)::bigint
           AS size_bytes
FROM pg_database d
WHERE d.datname = current_database()
""",
    DatabaseInfo,
)


def database_info(conn: psycopg.Connection) -> DatabaseInfo:
    return DATABASE_INFO.fetch_one(conn)


# Changes whenever anything the catalog readers read could have changed: a row inserted, updated or deleted in these
# catalogs changes its count or the sum of xmins; VACUUM and ANALYZE update pg_class in place (xmin unchanged), so
# page and tuple counts are summed too; a renamed role changes the owners' names. A few sequential scans of the
# catalogs, far cheaper than reading them, so an unchanged database costs one short statement. The xmins are
# grouped first (hashing an xid is cheaper than printing it): each distinct one is converted once, not once a row.
_XMIN_DIGEST = """(SELECT coalesce(sum(n), 0) || ':' || coalesce(sum(x::text::bigint * n), 0)
       FROM (SELECT xmin AS x, count(*) AS n FROM {table} GROUP BY xmin) g)"""

FINGERPRINT_SQL = f"""
SELECT md5(concat_ws('|',
    {_XMIN_DIGEST.format(table="pg_namespace")},
    (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) || ':' || coalesce(sum(relpages::bigint), 0)
            || ':' || coalesce(sum(reltuples), 0) FROM pg_class),
    {_XMIN_DIGEST.format(table="pg_attribute")},
    {_XMIN_DIGEST.format(table="pg_proc")},
    {_XMIN_DIGEST.format(table="pg_constraint")},
    {_XMIN_DIGEST.format(table="pg_depend")},
    {_XMIN_DIGEST.format(table="pg_rewrite")},
    {_XMIN_DIGEST.format(table="pg_description")},
    {_XMIN_DIGEST.format(table="pg_extension")},
    (SELECT md5(string_agg(oid::text || '=' || rolname, ',' ORDER BY oid)) FROM pg_roles),
    {logical.FINGERPRINT_SQL}
))
"""


def catalog_fingerprint(conn: psycopg.Connection) -> str:
    """A digest of the connection's database catalog: equal digests mean the catalog readers would read the same."""
    return conn.execute(FINGERPRINT_SQL).fetchone()[0]


OLDEST_TABLES = 10  # per database, the tables whose frozen xid is the oldest (wraparound: what vacuum must freeze)
# (the system catalogs are left out: they are nobody's, and a database-wide VACUUM FREEZE freezes them too)

# The fingerprint, with the database's oldest tables by age(relfrozenxid): ages move with every transaction of the
# cluster, the catalog does not, so they are read on every sync, in the statement an unchanged database costs anyway.
FINGERPRINT_AND_OLDEST_SQL = f"""
SELECT ({FINGERPRINT_SQL}) AS fingerprint,
    coalesce((
        SELECT json_agg(json_build_object('schema', o.schema, 'name', o.name, 'xid_age', o.xid_age,
                                          'mxid_age', o.mxid_age) ORDER BY o.xid_age DESC, o.schema, o.name)
        FROM (SELECT * FROM (
            -- the applications' tables and materialized views, each with its TOAST table (frozen with it: a TOAST
            -- table is named pg_toast_<its table's oid>); the top few found without a join over every relation
            SELECT DISTINCT ON (p.oid) n.nspname AS schema, p.relname AS name, top.xid_age, top.mxid_age
            FROM (
                SELECT CASE WHEN c.relkind = 't' THEN substring(c.relname FROM 10)::oid ELSE c.oid END AS owner,
                       age(c.relfrozenxid) AS xid_age, mxid_age(c.relminmxid) AS mxid_age
                FROM pg_class c
                WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't'
                  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
                ORDER BY 2 DESC
                LIMIT {4 * OLDEST_TABLES + 100}
            ) top
            JOIN pg_class p ON p.oid = top.owner
            JOIN pg_namespace n ON n.oid = p.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
            ORDER BY p.oid, top.xid_age DESC
        ) d ORDER BY xid_age DESC, schema, name LIMIT {OLDEST_TABLES}) o
    ), '[]'::json) AS oldest
"""


def fingerprint_and_oldest(conn: psycopg.Connection) -> tuple[str, list[dict]]:
    """``catalog_fingerprint``, and the database's oldest tables by ``age(relfrozenxid)`` (schema, name, xid_age,
    mxid_age), in one statement."""
    fingerprint, oldest = conn.execute(FINGERPRINT_AND_OLDEST_SQL).fetchone()
    return fingerprint, oldest


def logical_slots(conn: psycopg.Connection) -> list[logical.LogicalSlot]:
    """The cluster's logical replication slots, each with its database (on the primary)."""
    return logical.LOGICAL_SLOTS.fetch(conn)


def export_snapshot(conn: psycopg.Connection) -> str:
    """The identifier of the connection's transaction snapshot, for ``join_snapshot`` on another connection."""
    return conn.execute("SELECT pg_export_snapshot()").fetchone()[0]


def join_snapshot(conn: psycopg.Connection, snapshot: str) -> None:
    """Make the connection's transaction (just begun, nothing read yet) see exactly what the exporting one sees, so
    that two connections can read one database's catalog side by side."""
    # SET takes no bind parameters; the identifier comes from pg_export_snapshot(), quoted as a literal
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
