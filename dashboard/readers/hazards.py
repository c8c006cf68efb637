"""Transaction hazards a primary can tell of in one statement (issue 17): its prepared transactions (two-phase
commits left behind by a coordinator), and how close each database is to transaction-ID wraparound.

Sent on primaries only: a standby replays the primary's prepared transactions and frozen ids, and says nothing of
its own. What holds the vacuum horizon back is read with what is already read every sample (sessions' and
standbys' xmin, slots' xmin), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from catalog.readers.statement import Statement

PREPARED_LISTED = 100  # the oldest prepared transactions listed in a sample (all are counted)


@dataclass(frozen=True)
class PrimaryHazards:
    freeze_max_age: int  # autovacuum_freeze_max_age: where anti-wraparound vacuums start
    prepared_count: int
    prepared: list[dict[str, Any]]  # the oldest PREPARED_LISTED: gid, owner, database, age_seconds, xmin_age
    databases: list[dict[str, Any]]  # every database: name, xid_age (age(datfrozenxid)), mxid_age


HAZARDS = Statement(
    f"""
SELECT
    current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
    (SELECT count(*) FROM pg_prepared_xacts) AS prepared_count,
    coalesce((
        SELECT json_agg(p ORDER BY p.age_seconds DESC)
        FROM (
            SELECT x.gid, x.owner, x.database,
                   extract(epoch FROM clock_timestamp() - x.prepared)::float8 AS age_seconds,
                   age(x.transaction) AS xmin_age
            FROM pg_prepared_xacts x
            ORDER BY x.prepared
            LIMIT {PREPARED_LISTED}
        ) p
    ), '[]'::json) AS prepared,
    coalesce((
        SELECT json_agg(json_build_object(
            'database', d.datname, 'xid_age', age(d.datfrozenxid), 'mxid_age', mxid_age(d.datminmxid)
        ) ORDER BY age(d.datfrozenxid) DESC, d.datname)
        FROM pg_database d
    ), '[]'::json) AS databases
""",
    PrimaryHazards,
)


def primary(conn: psycopg.Connection) -> PrimaryHazards:
    return HAZARDS.fetch_one(conn)
