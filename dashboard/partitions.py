"""The history tables' daily partitions: made ahead of the samples, and dropped whole once past the retention.

Every history table (the samples, their 5-minute rollups, the statements samples) is range-partitioned on its time
column by UTC day, one partition per day named ``<table>_pYYYYMMDD``, and has no default partition: a row for a day
that has no partition is refused (``no partition of relation … found for row``), never parked somewhere a later
partition would collide with it. ``maintain`` (beat, hourly) creates today's and the next ``AHEAD_DAYS`` days'
partitions and drops each day whose rows are all older than ``HISTORY_RETENTION_DAYS``; the sampler creates a missing
day itself should maintenance not have run (``is_missing_partition``).

Locks, because readers and the sampler must never wait behind maintenance:
- a partition is created as a plain table and then attached (``ATTACH PARTITION`` takes SHARE UPDATE EXCLUSIVE on
  the parent, which neither reads nor inserts conflict with; ``CREATE TABLE … PARTITION OF`` would take ACCESS
  EXCLUSIVE);
- a partition is dropped by ``DETACH PARTITION … CONCURRENTLY`` (no ACCESS EXCLUSIVE lock on the parent; it waits
  for the queries that use the table instead), then ``DROP TABLE`` of what is now a table nobody reads. A detach
  that was interrupted is completed with ``FINALIZE``. Inside a transaction (a caller's atomic block) CONCURRENTLY
  is not allowed, and a plain DETACH with a short lock timeout is used.
- concurrent maintenance runs are serialised by an advisory lock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import (
    NodeRollup,
    NodeSample,
    ReplicaRollup,
    ReplicaSample,
    ServiceRollup,
    ServiceSample,
    StatementInterval,
    StatementRollup,
    StatementSample,
)

# partitioned table -> its partition key
TABLES = {
    model._meta.db_table: column
    for model, column in (
        (NodeSample, "sampled_at"),
        (ServiceSample, "sampled_at"),
        (ReplicaSample, "sampled_at"),
        (NodeRollup, "bucket"),
        (ServiceRollup, "bucket"),
        (ReplicaRollup, "bucket"),
        (StatementInterval, "ended_at"),
        (StatementSample, "ended_at"),
        (StatementRollup, "bucket"),
    )
}
AHEAD_DAYS = 2  # days made ahead of today: maintenance can miss two days of runs before the sampler must make one
LOCK_KEY = 0x5EA4_1157  # pg_advisory_lock key of partition maintenance
DETACH_LOCK_TIMEOUT = "2s"  # the plain DETACH's wait for its lock, during which it holds up readers queued behind it
_NAME = re.compile(r"^(?P<table>.+)_p(?P<day>\d{8})$")


@dataclass(frozen=True)
class Partition:
    table: str  # the partitioned table
    name: str
    start: datetime
    end: datetime
    detach_pending: bool = False


def day_of(at: datetime) -> date:
    """The UTC day a timestamp's row is stored under."""
    return at.astimezone(UTC).date()


def name_of(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def partitions() -> list[Partition]:
    """Every partition of every history table, by table and start, with its bounds as the catalog holds them."""
    with connection.cursor() as cur:
        cur.execute(
            r"""
            SELECT parent.relname, part.relname, bound[1]::timestamptz, bound[2]::timestamptz, i.inhdetachpending
            FROM pg_inherits i
            JOIN pg_class parent ON parent.oid = i.inhparent
            JOIN pg_class part ON part.oid = i.inhrelid
            CROSS JOIN LATERAL regexp_match(pg_get_expr(part.relpartbound, part.oid),
                                            'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS bound
            -- to_regclass: a table not made yet (a database migrated to before it) has no partitions
            WHERE i.inhparent IN (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
              AND bound IS NOT NULL  -- not a MINVALUE/MAXVALUE bound
            ORDER BY 1, 3
            """,
            [list(TABLES)],
        )
        return [Partition(*row) for row in cur.fetchall()]


def ensure(days: Iterable[date]) -> list[str]:
    """Create the partitions of ``days`` (UTC) that every history table lacks; return the ones created.

    Idempotent, and safe to run concurrently (an advisory lock serialises the callers)."""
    days = sorted(set(days))
    created: list[str] = []
    if not days:
        return created
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        have = {(p.table, p.start) for p in partitions()}
        for table in TABLES:
            for day in days:
                start = _start(day)
                if (table, start) in have:
                    continue
                name = name_of(table, day)
                # the bounds are literals made from a date (DDL takes no parameters)
                cur.execute(
                    f"CREATE TABLE {quote(name)} (LIKE {quote(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                )
                cur.execute(
                    f"ALTER TABLE {quote(table)} ATTACH PARTITION {quote(name)}"
                    f" FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                )
                created.append(name)
    return created


def ensure_ahead(now: datetime | None = None) -> list[str]:
    """Today's partitions and the next AHEAD_DAYS days'."""
    today = day_of(now or timezone.now())
    return ensure(today + timedelta(days=n) for n in range(AHEAD_DAYS + 1))


def drop_before(cutoff: datetime) -> list[str]:
    """Detach and drop every partition whose rows all lie before ``cutoff`` (whole tables: never a DELETE); return
    the partitions dropped. Also drops a past day's table that was detached but not dropped (an interrupted run)."""
    quote = connection.ops.quote_name
    concurrently = not connection.in_atomic_block  # DETACH … CONCURRENTLY cannot run inside a transaction block
    dropped: list[str] = []
    for p in partitions():
        if p.end > cutoff:
            continue
        detach = f"ALTER TABLE {quote(p.table)} DETACH PARTITION {quote(p.name)}"
        with connection.cursor() as cur:
            if p.detach_pending:
                cur.execute(f"{detach} FINALIZE")
            elif concurrently:
                cur.execute(f"{detach} CONCURRENTLY")
            else:
                cur.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
                cur.execute(detach)
            cur.execute(f"DROP TABLE {quote(p.name)}")
        dropped.append(p.name)
    for name in _detached_before(cutoff):
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE {quote(name)}")
        dropped.append(name)
    return dropped


def _detached_before(cutoff: datetime) -> list[str]:
    """Tables named as a history partition of a day before ``cutoff`` that are no partition (any more)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition"
            " AND relnamespace = current_schema()::regnamespace AND relname LIKE ANY(%s)",
            [[f"{table}\\_p%" for table in TABLES]],
        )
        names = [name for (name,) in cur.fetchall()]
    found = []
    for name in names:
        match = _NAME.match(name)
        if match and match["table"] in TABLES:
            day = datetime.strptime(match["day"], "%Y%m%d").date()
            if _start(day) + timedelta(days=1) <= cutoff:
                found.append(name)
    return found


def maintain(now: datetime | None = None) -> dict[str, list[str]]:
    """What beat runs hourly: partitions made ahead, and the days past the retention dropped. A run that finds
    another one in progress does nothing."""
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        if not cur.fetchone()[0]:
            return {"created": [], "dropped": []}
    try:
        created = ensure_ahead(now)
        dropped = drop_before(now - timedelta(days=settings.HISTORY_RETENTION_DAYS))
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return {"created": created, "dropped": dropped}


def is_missing_partition(exc: IntegrityError) -> bool:
    """Whether an insert failed because its row's day has no partition."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == "23514" and "no partition of relation" in str(cause)
