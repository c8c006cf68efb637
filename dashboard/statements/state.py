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


GLOBAL_VERSION = "seamline:statements:version"  # moved by every statements sample of any node


def version_key(cluster_id: int) -> str:
    """Moved by every statements sample of the cluster: the Workload page's fragments stay current while it stands."""
    return f"seamline:statements:{cluster_id}:version"


def write(cluster_id: int, node: str, state: dict[str, Any]) -> None:
    try:
        with snapshots.client().pipeline(transaction=True) as pipe:
            pipe.set(state_key(cluster_id, node), json.dumps(state), ex=TTL)
            pipe.incr(version_key(cluster_id))
            pipe.incr(GLOBAL_VERSION)
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


def totals_key(cluster_id: int) -> str:
    """Running totals of the cluster's deltas per node and service: the counters /metrics exposes."""
    return f"seamline:statements:{cluster_id}:totals"


def attribution(service: str, shared: bool) -> str:
    return "shared" if shared else ("service" if service else "none")


def add_totals(cluster_id: int, node: str, sums: dict[tuple[str, bool], tuple[int, float]]) -> None:
    """Add an interval's calls and time (ms) per (service, shared) to the running totals (after its rows are
    committed: a total may miss an interval Redis could not take, never count one twice)."""
    try:
        with snapshots.client().pipeline(transaction=True) as pipe:
            for (service, shared), (calls, ms) in sums.items():
                field = json.dumps([node, service, attribution(service, shared)])
                pipe.hincrby(totals_key(cluster_id), f"calls {field}", int(calls))
                pipe.hincrbyfloat(totals_key(cluster_id), f"ms {field}", float(ms))
            pipe.execute()
    except redis.RedisError as exc:
        raise snapshots.LiveDataUnavailable(str(exc)) from exc


def read_totals(cluster_ids: list[int]) -> dict[int, dict[tuple[str, str, str], tuple[int, float]]]:
    """Each cluster's totals: (node, service, attribution) -> (calls, ms), in one round trip."""
    with snapshots.client().pipeline(transaction=False) as pipe:
        for cluster_id in cluster_ids:
            pipe.hgetall(totals_key(cluster_id))
        answers = pipe.execute()
    found: dict[int, dict[tuple[str, str, str], tuple[int, float]]] = {}
    for cluster_id, fields in zip(cluster_ids, answers, strict=True):
        calls, ms = {}, {}
        for raw, value in fields.items():
            kind, _, key = raw.decode().partition(" ")
            (calls if kind == "calls" else ms)[tuple(json.loads(key))] = float(value)
        found[cluster_id] = {k: (int(calls.get(k, 0)), ms.get(k, 0.0)) for k in calls.keys() | ms.keys()}
    return found


def read_states(nodes: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any] | None]:
    """Several nodes' states in one round trip (None each when Redis cannot be reached)."""
    if not nodes:
        return {}
    try:
        raws = snapshots.client().mget([state_key(cluster_id, node) for cluster_id, node in nodes])
    except redis.RedisError:
        return dict.fromkeys(nodes)
    return {node: (json.loads(raw) if raw else None) for node, raw in zip(nodes, raws, strict=True)}
