"""Logical replication as the catalog keeps it: what a database publishes, what it subscribes to, and the logical
slots a cluster serves. (Its live health, the apply workers and their errors, is the sampler's:
dashboard.readers.replication.)

A subscription is matched to its publisher by its slot (catalog.logical), never by its connection string: that is
readable by superusers only (PostgreSQL 15 revokes ``subconninfo`` from everyone else), and may carry a password.
"""

from __future__ import annotations

from dataclasses import dataclass

from .statement import Statement


@dataclass(frozen=True)
class PublishedTable:
    """A table one of the database's publications sends, with the columns it sends (empty: every column; servers
    before 15 have no column lists)."""

    schema: str
    name: str
    publication: str
    columns: tuple[str, ...]


# pg_publication_tables expands FOR ALL TABLES and FOR TABLES IN SCHEMA (15) publications to their tables.
# ``attnames`` came with 15's column lists: read through to_json, so that one statement serves 14 too (no key, no list).
PUBLISHED_TABLES = Statement(
    """
SELECT t.schemaname::text AS schema, t.tablename::text AS name, t.pubname::text AS publication,
       ARRAY(SELECT json_array_elements_text(to_json(t) -> 'attnames')) AS columns
FROM pg_publication_tables t
ORDER BY t.schemaname, t.tablename, t.pubname
""",
    PublishedTable,
)


@dataclass(frozen=True)
class Subscription:
    """A subscription of the database, the slot it streams from on its publisher, and each of its tables with its
    state (``r`` ready; ``i``, ``d``, ``f``, ``s``: still copying or catching up)."""

    name: str
    owner: str
    enabled: bool
    slot_name: str  # empty: the subscription has no slot (slot_name = NONE)
    publications: tuple[str, ...]
    tables: list  # [{"schema", "name", "state"}]


# pg_subscription is shared by the cluster's databases: a database's own are those of its oid. Only columns that
# PostgreSQL grants to every role are named (never subconninfo).
SUBSCRIPTIONS = Statement(
    """
SELECT s.subname::text AS name, pg_get_userbyid(s.subowner)::text AS owner, s.subenabled AS enabled,
       coalesce(s.subslotname::text, '') AS slot_name, s.subpublications AS publications,
       coalesce((
           SELECT json_agg(json_build_object('schema', n.nspname, 'name', c.relname, 'state', r.srsubstate::text)
                           ORDER BY n.nspname, c.relname)
           FROM pg_subscription_rel r
           JOIN pg_class c ON c.oid = r.srrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE r.srsubid = s.oid
       ), '[]'::json) AS tables
FROM pg_subscription s
WHERE s.subdbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
ORDER BY s.subname
""",
    Subscription,
)

# What changes either of the statements above: for the database's catalog fingerprint (catalog.readers.server).
FINGERPRINT_SQL = """(SELECT md5(coalesce(string_agg(t.pubname || '.' || t.schemaname || '.' || t.tablename, ','
                                         ORDER BY t.pubname, t.schemaname, t.tablename), ''))
     FROM pg_publication_tables t),
    (SELECT md5(coalesce(string_agg(concat_ws(':', s.subname, s.subenabled, s.subslotname, s.subpublications::text,
        (SELECT string_agg(r.srrelid::text || r.srsubstate::text, ',' ORDER BY r.srrelid)
         FROM pg_subscription_rel r WHERE r.srsubid = s.oid)), ',' ORDER BY s.subname), ''))
     FROM pg_subscription s WHERE s.subdbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()))"""


@dataclass(frozen=True)
class LogicalSlot:
    name: str
    database: str
    plugin: str


# The cluster's logical slots (a physical slot has no database): read once per sync, on the primary.
LOGICAL_SLOTS = Statement(
    """
SELECT s.slot_name::text AS name, s.database::text AS database, coalesce(s.plugin::text, '') AS plugin
FROM pg_replication_slots s
WHERE s.slot_type = 'logical'
ORDER BY s.slot_name
""",
    LogicalSlot,
)
