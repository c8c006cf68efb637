"""Outbox tables' row counts, read at the slow cadence (with the primary's statements sample): one short statement
per database holding a declared outbox (``publishes`` in the catalog file), on the primary, from
``pg_stat_user_tables`` — counts the statistics system keeps, never a row of the table. Stored as
catalog.models.OutboxSample; catalog.outbox judges them (``outbox_not_drained``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from catalog import outbox
from catalog.credentials import password_for
from catalog.errors import CredentialsError, UnreachableError
from catalog.models import Cluster, EventPublication, OutboxSample
from catalog.monitored import connect

from .nodes import PRIMARY, nodes_of
from .readers import outbox as outbox_reader

log = logging.getLogger(__name__)


def sample(cluster: Cluster) -> int:
    """Read and store the row counts of the cluster's declared outbox tables; return how many were read. A database
    that cannot be reached is skipped (logged): its tables have no sample this time, never a zero."""
    wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for database, schema, table in EventPublication.objects.filter(cluster=cluster).values_list(
        "database", "schema", "table"
    ):
        wanted[database].add((schema, table))
    if not wanted:
        return 0
    primary = next(n for n in nodes_of(cluster) if n.name == PRIMARY)
    at = timezone.now()
    rows = []
    for database, tables in sorted(wanted.items()):
        try:
            with connect(
                primary.dsn,
                password_for(cluster),
                dbname=database,
                target=f"{cluster.name}/{PRIMARY}/{database}",
                statement_timeout_ms=settings.SAMPLE_STATEMENT_TIMEOUT_MS,
                auth=cluster.auth,
            ) as conn:
                found = outbox_reader.counts(conn, sorted(tables))
        except (UnreachableError, CredentialsError) as exc:
            log.warning("outbox tables of %s/%s: %s", cluster.name, database, exc)
            continue
        rows += [
            OutboxSample(
                cluster=cluster,
                database=database,
                schema=c.schema,
                table=c.name,
                sampled_at=at,
                live_rows=c.live_rows,
                inserted=c.inserted,
                removed=c.removed,
            )
            for c in found
        ]
    OutboxSample.objects.bulk_create(rows)
    OutboxSample.objects.filter(sampled_at__lt=at - timedelta(days=outbox.KEEP_DAYS)).delete()
    return len(rows)
