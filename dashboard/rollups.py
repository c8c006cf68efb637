"""The history's 5-minute rollups: each sample added to its bucket's row as it is written, and the same rows
recomputed from the samples on demand.

A rollup row holds the sums of its bucket's samples under the samples' own column names, with the count of samples
and the peaks, so an average over any number of whole buckets is a sum over a count, exactly what the samples
themselves give (tests/test_history_scale.py holds the two equal). ``add`` runs in the sampler's transaction: the
samples and their rollups are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection

from . import states
from .models import NodeSample, ReplicaSample, ServiceSample

BUCKET = timedelta(minutes=5)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # buckets start at whole multiples of their size since then
STATES = (*states.STATES, "total")  # the counters a service's rollup sums

# One statement per table, in this order in every transaction (node, then services by name, then the replica), so
# that two overlapping samples of one node wait for each other instead of deadlocking.
_ADD_NODE = """
INSERT INTO dashboard_noderollup AS r (cluster_id, node, bucket, samples, reachable, total, total_max,
                                       horizon_xmin_age_max, horizon_seconds_max)
VALUES (%(cluster)s, %(node)s, date_bin(%(size)s, %(at)s, %(origin)s), 1, %(reachable)s, %(total)s, %(total)s,
        %(horizon_xmin_age)s, %(horizon_seconds)s)
ON CONFLICT (cluster_id, node, bucket) DO UPDATE SET
    samples = r.samples + 1,
    reachable = r.reachable + excluded.reachable,
    total = r.total + excluded.total,
    total_max = greatest(r.total_max, excluded.total_max),
    horizon_xmin_age_max = greatest(r.horizon_xmin_age_max, excluded.horizon_xmin_age_max),
    horizon_seconds_max = greatest(r.horizon_seconds_max, excluded.horizon_seconds_max)
"""
_ADD_SERVICES = f"""
INSERT INTO dashboard_servicerollup AS r (cluster_id, node, service, bucket, {", ".join(STATES)}, total_max)
SELECT %(cluster)s, %(node)s, s.service, date_bin(%(size)s, %(at)s, %(origin)s), {", ".join(f"s.{c}" for c in STATES)},
       s.total
FROM unnest(%(service)s::text[], {", ".join(f"%({c})s::int[]" for c in STATES)})
    AS s(service, {", ".join(STATES)})
ON CONFLICT (cluster_id, node, service, bucket) DO UPDATE SET
    {", ".join(f"{c} = r.{c} + excluded.{c}" for c in STATES)},
    total_max = greatest(r.total_max, excluded.total_max)
"""
_ADD_REPLICA = """
INSERT INTO dashboard_replicarollup AS r (cluster_id, node, bucket, samples, receiving, replay_lag_seconds_max,
                                          replay_lag_bytes_sum, replay_lag_bytes_samples)
VALUES (%(cluster)s, %(node)s, date_bin(%(size)s, %(at)s, %(origin)s), 1, %(receiving)s, %(seconds)s,
        coalesce(%(bytes)s::bigint, 0), (%(bytes)s::bigint IS NOT NULL)::int)
ON CONFLICT (cluster_id, node, bucket) DO UPDATE SET
    samples = r.samples + 1,
    receiving = r.receiving + excluded.receiving,
    replay_lag_seconds_max = greatest(r.replay_lag_seconds_max, excluded.replay_lag_seconds_max),
    replay_lag_bytes_sum = r.replay_lag_bytes_sum + excluded.replay_lag_bytes_sum,
    replay_lag_bytes_samples = r.replay_lag_bytes_samples + excluded.replay_lag_bytes_samples
"""


def add(node: NodeSample, services: Sequence[ServiceSample] = (), replica: ReplicaSample | None = None) -> None:
    """Add one sample of a node (its service rows, and its standby row if any) to the rollups of its bucket."""
    common = {"cluster": node.cluster_id, "node": node.node, "at": node.sampled_at, "size": BUCKET, "origin": ORIGIN}
    with connection.cursor() as cur:
        cur.execute(
            _ADD_NODE,
            {
                **common,
                "reachable": int(node.reachable),
                "total": node.total,
                "horizon_xmin_age": node.horizon_xmin_age,
                "horizon_seconds": node.horizon_seconds,
            },
        )
        if services:
            rows = sorted(services, key=lambda s: s.service)
            columns = {c: [getattr(s, c) for s in rows] for c in STATES}
            cur.execute(_ADD_SERVICES, {**common, "service": [s.service for s in rows], **columns})
        if replica is not None:
            cur.execute(
                _ADD_REPLICA,
                {
                    **common,
                    "at": replica.sampled_at,
                    "receiving": int(replica.receiving),
                    "seconds": replica.replay_lag_seconds,
                    "bytes": replica.replay_lag_bytes,
                },
            )


# Recomputed from the samples: each bucket of [start, end) replaced by what its samples sum to.
_REBUILD = (
    """
    INSERT INTO dashboard_noderollup AS r (cluster_id, node, bucket, samples, reachable, total, total_max,
                                           horizon_xmin_age_max, horizon_seconds_max)
    SELECT cluster_id, node, date_bin(%(size)s, sampled_at, %(origin)s), count(*), count(*) FILTER (WHERE reachable),
           sum(total), max(total), max(horizon_xmin_age), max(horizon_seconds)
    FROM dashboard_nodesample WHERE sampled_at >= %(start)s AND sampled_at < %(end)s
    GROUP BY 1, 2, 3
    ON CONFLICT (cluster_id, node, bucket) DO UPDATE SET samples = excluded.samples, reachable = excluded.reachable,
        total = excluded.total, total_max = excluded.total_max, horizon_xmin_age_max = excluded.horizon_xmin_age_max,
        horizon_seconds_max = excluded.horizon_seconds_max
    """,
    f"""
    INSERT INTO dashboard_servicerollup AS r (cluster_id, node, service, bucket, {", ".join(STATES)}, total_max)
    SELECT cluster_id, node, service, date_bin(%(size)s, sampled_at, %(origin)s),
           {", ".join(f"sum({c})" for c in STATES)}, max(total)
    FROM dashboard_servicesample WHERE sampled_at >= %(start)s AND sampled_at < %(end)s
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (cluster_id, node, service, bucket) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in STATES)}, total_max = excluded.total_max
    """,
    """
    INSERT INTO dashboard_replicarollup AS r (cluster_id, node, bucket, samples, receiving, replay_lag_seconds_max,
                                              replay_lag_bytes_sum, replay_lag_bytes_samples)
    SELECT cluster_id, node, date_bin(%(size)s, sampled_at, %(origin)s), count(*), count(*) FILTER (WHERE receiving),
           max(replay_lag_seconds), coalesce(sum(replay_lag_bytes), 0), count(replay_lag_bytes)
    FROM dashboard_replicasample WHERE sampled_at >= %(start)s AND sampled_at < %(end)s
    GROUP BY 1, 2, 3
    ON CONFLICT (cluster_id, node, bucket) DO UPDATE SET samples = excluded.samples, receiving = excluded.receiving,
        replay_lag_seconds_max = excluded.replay_lag_seconds_max, replay_lag_bytes_sum = excluded.replay_lag_bytes_sum,
        replay_lag_bytes_samples = excluded.replay_lag_bytes_samples
    """,
)


def rebuild(start: datetime, end: datetime) -> None:
    """Recompute the rollups of every bucket in [start, end) from the samples (after samples were written some
    other way than through ``add``, e.g. a bulk load). ``start`` and ``end`` are whole multiples of BUCKET."""
    if (start - ORIGIN) % BUCKET or (end - ORIGIN) % BUCKET:
        raise ValueError("rollups are rebuilt by whole buckets")
    params = {"size": BUCKET, "origin": ORIGIN, "start": start, "end": end}
    with connection.cursor() as cur:
        for sql in _REBUILD:
            cur.execute(sql, params)
