"""dashboard/snapshots.py on the test stack's Redis: each node's latest snapshot and its query texts, many nodes in
one round trip, claims that hand a node to one dispatcher per interval, and a clear error when Redis is gone."""

from __future__ import annotations

import time

import pytest

from dashboard import snapshots

CLUSTER = 990_001  # an id no test cluster has: these keys are this module's


@pytest.fixture(autouse=True)
def clean():
    def drop() -> None:
        for key in snapshots.client().scan_iter(f"seamline:pools:{CLUSTER}:*"):
            snapshots.client().delete(key)

    drop()
    yield
    drop()


def calls(command: str) -> int:
    return snapshots.client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_a_written_snapshot_and_its_queries_read_back_as_written():
    snapshot = {"cluster": "c", "node": "primary", "status": "ok", "total": 3, "名": "<b>ok</b>"}
    snapshots.write(CLUSTER, "primary", snapshot, {4711: "SELECT 'secret'"})
    assert snapshots.read(CLUSTER, "primary") == snapshot
    assert snapshots.read_queries(CLUSTER, "primary") == {4711: "SELECT 'secret'"}  # pids back as ints
    ttl = snapshots.client().ttl(snapshots.key(CLUSTER, "primary"))
    assert snapshots.TTL_SECONDS - 60 < ttl <= snapshots.TTL_SECONDS  # kept long: an old one shows as stale


def test_a_node_never_sampled_reads_as_none_and_has_no_queries():
    assert snapshots.read(CLUSTER, "r9") is None
    assert snapshots.read_queries(CLUSTER, "r9") == {}


def test_many_nodes_are_read_in_one_round_trip():
    snapshots.write(CLUSTER, "primary", {"n": 1}, {})
    snapshots.write(CLUSTER, "r1", {"n": 2}, {})
    before = calls("mget")
    found = snapshots.read_many([(CLUSTER, "primary"), (CLUSTER, "r1"), (CLUSTER, "r2")])
    assert calls("mget") == before + 1
    assert found == {(CLUSTER, "primary"): {"n": 1}, (CLUSTER, "r1"): {"n": 2}, (CLUSTER, "r2"): None}
    assert snapshots.read_many([]) == {}


def test_a_node_is_claimed_once_per_interval_whoever_asks():
    nodes = [(CLUSTER, "primary"), (CLUSTER, "r1")]
    assert snapshots.due(nodes) == [True, True]
    assert snapshots.claim([(CLUSTER, "primary", 1), (CLUSTER, "r1", 60)]) == [True, True]
    assert snapshots.claim([(CLUSTER, "primary", 1)]) == [False]  # a second dispatcher gets nothing
    assert snapshots.due(nodes) == [False, False]
    # held for the interval less the margin (here the margin's floor, 0.5 s), then due again
    deadline = time.monotonic() + 5
    while not snapshots.due(nodes)[0]:
        assert time.monotonic() < deadline, "the claim of a 1 s interval never lapsed"
        time.sleep(0.1)
    assert snapshots.due(nodes) == [True, False]


def test_redis_gone_is_live_data_unavailable_within_the_timeout(settings):
    from django.test import override_settings

    from .conftest import free_port

    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    attempts = (
        lambda: snapshots.read(CLUSTER, "primary"),
        lambda: snapshots.read_queries(CLUSTER, "primary"),
        lambda: snapshots.write(CLUSTER, "primary", {}, {}),
        lambda: snapshots.due([(CLUSTER, "primary")]),
        lambda: snapshots.claim([(CLUSTER, "primary", 5)]),
    )
    started = time.monotonic()
    with override_settings(REDIS_URL=nowhere), pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshots, "client", snapshots.client.__wrapped__)  # a client for that URL, not the cached one
        for attempt in attempts:
            with pytest.raises(snapshots.LiveDataUnavailable):
                attempt()
    assert time.monotonic() - started < len(attempts) * (settings.LIVE_REDIS_TIMEOUT + 1)
