"""GET /metrics on the real test stack: only for a bearer token (the metrics token or an API token), made from the
snapshots the sampler wrote, with the held sessions' real counts, and valid for `promtool check metrics`."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from dashboard import snapshots
from dashboard.metrics import GAUGES
from dashboard.models import ApiToken
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

METRICS_TOKEN = "metrics-token-for-the-tests"


def scrape(client, token: str | None = None, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get("/metrics", **headers)


def samples(body: str) -> dict[tuple[str, frozenset], float]:
    """Every sample, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def promtool_check(body: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs it (Debian package prometheus)")
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": f"Basic {METRICS_TOKEN}"},
        {"HTTP_AUTHORIZATION": "Bearer"},
        {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}x"},
    ],
    ids=["anonymous", "wrong-token", "not-bearer", "empty-token", "longer-token"],
)
def test_without_a_valid_token_it_answers_401(db, client, settings, headers):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="seamline"'
    assert response.content.decode("ascii").startswith("Authentication required")
    assert "seamline_" not in response.content.decode()


def test_with_no_metrics_token_set_an_empty_token_or_a_session_is_not_enough(db, viewer_client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(viewer_client).status_code == 401  # logged in, but a scraper's endpoint: bearer tokens only
    assert scrape(viewer_client, "").status_code == 401
    assert scrape(viewer_client, "anything").status_code == 401


def test_the_metrics_token_or_an_api_token_is_accepted(pools_cluster, client, settings, viewer):
    settings.METRICS_TOKEN = METRICS_TOKEN
    response = scrape(client, METRICS_TOKEN)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    for name, (doc, _labels) in GAUGES.items():
        assert f"# HELP {name} {doc}" in body and f"# TYPE {name} gauge" in body
    settings.METRICS_TOKEN = ""  # API tokens work with or without a metrics token
    _row, token = ApiToken.objects.issue(viewer, "prometheus")
    assert scrape(client, token).status_code == 200
    ApiToken.objects.all().delete()
    assert scrape(client, token).status_code == 401  # revoked
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").status_code == 405


def test_it_exports_the_sampled_pools_and_replication(held_sessions, pools_cluster, client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    sample_node(pools_cluster, PRIMARY)
    primary = sample_node(pools_cluster, PRIMARY)  # a second sample: the WAL rate is known
    replica = sample_node(pools_cluster, "pt-replica")
    assert primary["status"] == replica["status"] == "ok"
    response = scrape(client, METRICS_TOKEN)
    assert response.status_code == 200
    body = response.content.decode()
    found = samples(body)

    assert 'seamline_connections{cluster="pt",node="primary",service="pt_orders",state="waiting"} 1.0' in body
    orders = {
        state: value(found, "seamline_connections", cluster="pt", node="primary", service="pt_orders", state=state)
        for state in ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "waiting", "unknown")
    }
    assert orders == {
        "active": 0,
        "idle": 0,
        "idle_in_transaction": 1,
        "idle_in_transaction_aborted": 1,
        "waiting": 1,
        "unknown": 0,
    }
    assert sum(orders.values()) == 3
    assert value(found, "seamline_connections", cluster="pt", node="primary", service="pt_reports", state="active") == 1
    stranger = value(found, "seamline_connections", cluster="pt", node="primary", service="", state="idle")
    assert stranger >= 1  # pt_stranger: no service claims it
    # every session is counted once: the states add up to the snapshot's total
    node_total = sum(
        v
        for (name, labels), v in found.items()
        if name == "seamline_connections" and ("node", "primary") in labels and ("cluster", "pt") in labels
    )
    assert node_total == primary["total"]

    for node in (PRIMARY, "pt-replica"):
        assert value(found, "seamline_node_up", cluster="pt", node=node) == 1
        assert 0 <= value(found, "seamline_snapshot_age_seconds", cluster="pt", node=node) < 60
    assert value(found, "seamline_max_connections", cluster="pt", node="primary") == primary["max_connections"]
    usable = primary["max_connections"] - primary["reserved_connections"]
    assert value(found, "seamline_usable_connections", cluster="pt", node="primary") == usable

    assert value(found, "seamline_replica_replay_lag_bytes", cluster="pt", replica="pt-replica") >= 0
    assert value(found, "seamline_replica_replay_lag_seconds", cluster="pt", replica="pt-replica") >= 0
    assert value(found, "seamline_replica_status", cluster="pt", replica="pt-replica") in (0, 1, 2)
    assert value(found, "seamline_cluster_replication_status", cluster="pt") in (0, 1, 2)
    assert value(found, "seamline_primary_wal_bytes_per_second", cluster="pt") >= 0
    # the test stack's replica streams through the physical slot seamline_replica
    assert value(found, "seamline_slot_active", cluster="pt", slot="seamline_replica", service="") == 1
    assert value(found, "seamline_slot_retained_bytes", cluster="pt", slot="seamline_replica", service="") >= 0
    assert value(found, "seamline_slot_status", cluster="pt", slot="seamline_replica", service="") == 0
    assert "NaN" not in body

    promtool_check(body)


def test_an_unreachable_node_is_down_with_no_connection_figures(pools_cluster, client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    gone = pools_cluster.replicas.create(name="gone", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    pools_cluster.replicas.create(name="never", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    assert sample_node(pools_cluster, gone.name)["status"] == "unreachable"
    sample_node(pools_cluster, PRIMARY)
    body = scrape(client, METRICS_TOKEN).content.decode()
    found = samples(body)
    assert value(found, "seamline_node_up", cluster="pt", node="gone") == 0
    assert value(found, "seamline_node_up", cluster="pt", node="primary") == 1
    assert value(found, "seamline_snapshot_age_seconds", cluster="pt", node="gone") >= 0
    for name, labels in found:
        if ("node", "gone") in labels:
            assert name in ("seamline_node_up", "seamline_snapshot_age_seconds")
        assert ("node", "never") not in labels  # never sampled: nothing is known, nothing is said
    assert value(found, "seamline_replica_status", cluster="pt", replica="gone") == 2  # CRIT: cannot be reached
    assert value(found, "seamline_replica_replay_lag_bytes", cluster="pt", replica="gone") is None
    assert value(found, "seamline_cluster_replication_status", cluster="pt") == 2
    promtool_check(body)


def test_redis_down_answers_503(pools_cluster, client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    snapshots.client.cache_clear()
    try:
        response = scrape(client, METRICS_TOKEN)
        assert response.status_code == 503
        assert response.content.decode("ascii") == "Live data unavailable: Redis cannot be reached.\n"
        assert scrape(client, "wrong").status_code == 401  # authentication first, whatever the state of Redis
    finally:
        snapshots.client.cache_clear()
