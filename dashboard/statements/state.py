"""What Seamline keeps in Redis about each node's statements sampling: its baseline (the counters at its last
sample, dashboard.statements.sampler), its state (what the last sample found: ok, a baseline, unreachable, or the
extension unavailable and why), and a counter per cluster moved by every sample, which the Workload page's fragments
are keyed on. Readable without touching a monitored server: the page imports this, never the sampler."""

from __future__ import annotations

import json
from typing import Any

import redis

from dashboard import snapshots

TTL = 7 * 86400  # a node's baseline and state outlive a week without samples; then a sample starts afresh


def baseline_key(cluster_id: int, node: str) -> str:
    return f"seamline:statements:{cluster_id}:{node}:baseline"


def state_key(cluster_id: int, node: str) -> str:
    return f"seamline:statements:{cluster_id}:{node}:state"


def version_key(cluster_id: int) -> str:
    """Moved by every statements sample of the cluster: the Workload page's fragments stay current while it stands."""
    return f"seamline:statements:{cluster_id}:version"


def write(cluster_id: int, node: str, state: dict[str, Any]) -> None:
    try:
        with snapshots.client().pipeline(transaction=True) as pipe:
            pipe.set(state_key(cluster_id, node), json.dumps(state), ex=TTL)
            pipe.incr(version_key(cluster_id))
            pipe.execute()
    except redis.RedisError as exc:
        raise snapshots.LiveDataUnavailable(str(exc)) from exc


def read_state(cluster_id: int, node: str) -> dict[str, Any] | None:
    """The node's last statements sample's state (None: never sampled, or Redis unreachable)."""
    try:
        raw = snapshots.client().get(state_key(cluster_id, node))
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None
