"""History writes: one sample of a node as rows of the history tables (the node, each service with sessions, a
standby's lag) and their 5-minute rollups, in one transaction (dashboard.rollups, dashboard.partitions)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from catalog.models import Cluster

from . import partitions, rollups
from .models import NodeSample, ReplicaSample, ServiceSample
from .states import STATES

log = logging.getLogger(__name__)


def record_history(cluster: Cluster, node: str, at: datetime, snapshot: dict[str, Any] | None) -> None:
    """Write one sample's history rows and add them to their rollups, in one transaction: the node's row, a row per
    service with sessions, and a standby's lag. ``snapshot`` None: the node could not be reached."""

    def write() -> None:
        if snapshot is None:
            sample = NodeSample.objects.create(cluster=cluster, node=node, sampled_at=at, reachable=False)
            rollups.add(sample)
            return
        services = [
            ServiceSample(
                cluster=cluster,
                node=node,
                sampled_at=at,
                service=name,
                total=counters["total"],
                **{state: counters[state] for state in STATES},
            )
            for name, counters in [(s["service"], s) for s in snapshot["services"]] + [("", snapshot["unattributed"])]
            if counters["total"]
        ]
        rep = snapshot.get("replication") or {}
        replica = None
        if rep.get("role") == "standby":
            replica = ReplicaSample.objects.create(
                cluster=cluster,
                node=node,
                sampled_at=at,
                receiving=rep.get("receiver_status") == "streaming",
                replay_lag_bytes=rep.get("replay_lag_bytes"),
                replay_lag_seconds=rep.get("replay_delay_seconds"),
            )
        sample = NodeSample.objects.create(
            cluster=cluster,
            node=node,
            sampled_at=at,
            reachable=True,
            total=snapshot["total"],
            max_connections=snapshot["max_connections"],
            reserved_connections=snapshot["reserved_connections"],
            **_horizon(snapshot),
        )
        ServiceSample.objects.bulk_create(services)
        rollups.add(sample, services, replica)

    try:
        with transaction.atomic():
            write()
    except IntegrityError as exc:
        if not partitions.is_missing_partition(exc):
            raise
        # the day has no partition yet: maintenance has not run in days (is beat's entry disabled?)
        log.warning("history: no partition for %s, creating it", partitions.day_of(at))
        partitions.ensure([partitions.day_of(at)])
        with transaction.atomic():
            write()


def _horizon(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The node's oldest horizon holder (the first listed): by how many transactions, and how long (where known)."""
    holders = snapshot.get("horizon") or []
    if not holders:
        return {"horizon_xmin_age": None, "horizon_seconds": None}
    return {"horizon_xmin_age": holders[0]["xmin_age"], "horizon_seconds": holders[0]["age_seconds"]}
