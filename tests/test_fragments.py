"""dashboard/fragments.py: the live pages rendered once per snapshot and served to every viewer, on the real stack.

Nothing shown is staler than a page rendered for the request: a new sample and a catalog edit each appear on the
next request of every cached page; a viewer never gets the operator's fragment; a language switch shows at once; an
unchanged fragment is a 304, a new sample a 200 with a new ETag; ages are filled as the response leaves (and its
Content-Length follows); and what a fragment costs, rendered or served, does not grow with the catalog."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from catalog import ages
from catalog.models import Cluster, Service
from dashboard import fragments, snapshots
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

REPLICA = "pt-replica"


@pytest.fixture
def sampled(held_sessions, pools_cluster):
    sample_node(pools_cluster, PRIMARY)
    sample_node(pools_cluster, REPLICA)
    return pools_cluster


def live_urls(cluster: Cluster) -> dict[str, tuple[str, dict[str, str]]]:
    """Every cached view, as htmx (or an API client) asks for it."""
    hx = {"HTTP_HX_REQUEST": "true"}
    orders = Service.objects.get(name="pt_orders")
    return {
        "overview": ("/", hx),
        "pools": ("/pools/", hx),
        "cluster": (f"/pools/{cluster.pk}/", hx),
        "replica": (f"/pools/{cluster.pk}/?node={REPLICA}", hx),
        "replication": ("/replication/", hx),
        "service": (f"/services/{orders.pk}/live/?part=numbers", hx),
        "api pools": (f"/api/v1/pools/{cluster.name}", {}),
        "api health": ("/api/v1/health", {}),
    }


def get(client, url: str, headers: dict[str, str], **extra):
    response = client.get(url, **headers, **extra)
    assert response.status_code in (200, 304), (url, response.status_code)
    return response


def text(response) -> str:
    """What a reader sees: tags left out."""
    return re.sub(r"<[^>]+>", "", response.content.decode())


def rewrite(cluster: Cluster, node: str, change) -> None:
    """A new sample of the node, as the sampler would write it, with ``change(snapshot)`` applied."""
    snapshot = snapshots.read(cluster.pk, node)
    change(snapshot)
    snapshots.write(cluster.pk, node, snapshot, snapshots.read_queries(cluster.pk, node))


def test_a_new_sample_shows_on_the_next_request_of_every_cached_view(sampled, viewer_client):
    urls = live_urls(sampled)
    before = {name: get(viewer_client, *spec) for name, spec in urls.items()}
    again = {name: get(viewer_client, *spec) for name, spec in urls.items()}
    assert all(again[n]["ETag"] == before[n]["ETag"] for n in urls)  # served, not rendered again

    def busier(snapshot: dict) -> None:
        for row in snapshot["services"]:
            if row["service"] == "pt_orders":
                row["total"] = 77
        snapshot["total"] = 211

    def behind(snapshot: dict) -> None:
        snapshot["replication"]["replay_delay_seconds"] = 4242.0

    rewrite(sampled, PRIMARY, busier)
    rewrite(sampled, REPLICA, behind)
    after = {name: get(viewer_client, *spec) for name, spec in urls.items()}
    assert all(after[n]["ETag"] != before[n]["ETag"] for n in urls)
    usable = (
        after["api pools"].json()["nodes"][0]["max_connections"]
        - after["api pools"].json()["nodes"][0]["reserved_connections"]
    )
    assert f"{usable - 211} of {usable} free" in text(after["overview"])
    assert '<td class="num">211</td>' in after["pools"].content.decode()
    assert "77 / 6" in text(after["cluster"])
    assert '<td class="num">77</td>' in after["service"].content.decode()
    assert "pt-replica replays 4242 s" in text(after["replication"])
    assert "replays 4242 s" in " ".join(after["api health"].json()["clusters"][0]["reasons"])
    nodes = {n["node"]: n for n in after["api pools"].json()["nodes"]}
    assert next(s for s in nodes[PRIMARY]["services"] if s["service"] == "pt_orders")["total"] == 77


def test_a_catalog_edit_shows_on_the_next_request_of_every_cached_view(
    sampled, viewer_client, django_capture_on_commit_callbacks
):
    urls = live_urls(sampled)
    for spec in urls.values():
        get(viewer_client, *spec)
    with django_capture_on_commit_callbacks(execute=True):  # as committed in production
        Service.objects.filter(name="pt_orders").update(team="billing")
        Service.objects.get(name="pt_orders").save()  # the admin's save, which announces the change
        sampled.name = "pt-renamed"
        sampled.save()
    urls["api pools"] = ("/api/v1/pools/pt-renamed", {})
    after = {name: get(viewer_client, *spec) for name, spec in urls.items()}
    for name in ("overview", "pools", "replication", "service"):
        assert "pt-renamed" in text(after[name]), name
    # the services' table names the team the catalog says now (a listed session keeps its sample's)
    assert re.search(r"pt_orders</a></th>\s*<td>billing</td>", after["cluster"].content.decode())
    assert after["api health"].json()["clusters"][0]["cluster"] == "pt-renamed"
    teams = {s["team"] for n in after["api pools"].json()["nodes"] for s in n["services"]}
    assert "billing" in teams and "checkout" not in teams


def test_a_viewer_never_gets_the_operators_fragment(sampled, client, viewer, operator):
    url, hx = live_urls(sampled)["cluster"]
    for first, second in ((operator, viewer), (viewer, operator)):
        snapshots.catalog_changed()  # nothing rendered yet: the first one renders, the second may be served
        pages = {}
        for user in (first, second):
            client.force_login(user)
            pages[user.username] = get(client, url, hx)
        operators, viewers = pages[operator.username].content.decode(), pages[viewer.username].content.decode()
        assert "Cancel…" in operators and "Terminate…" in operators and "<details>" in operators
        assert "v + 2 WHERE id = 1" in operators  # the full query text
        assert "Cancel…" not in viewers and "Terminate…" not in viewers and "<details>" not in viewers
        assert "v + 2 WHERE id = 1" not in viewers
        assert pages[operator.username]["ETag"] != pages[viewer.username]["ETag"]


def test_a_language_switch_shows_at_once(sampled, viewer_client):
    url, hx = live_urls(sampled)["pools"]
    english = get(viewer_client, url, hx)
    assert "Cluster" in text(english)
    chinese = get(viewer_client, url, hx, HTTP_ACCEPT_LANGUAGE="zh-hans", HTTP_IF_NONE_MATCH=english["ETag"])
    assert chinese.status_code == 200 and chinese["ETag"] != english["ETag"]
    assert "集群" in text(chinese) and "Cluster" not in text(chinese)
    assert "Cluster" in text(get(viewer_client, url, hx))


def test_an_unchanged_fragment_is_a_304_and_a_new_sample_a_200(sampled, viewer_client):
    etags = {}
    for name, (url, headers) in live_urls(sampled).items():
        first = get(viewer_client, url, headers)
        etags[name] = first["ETag"]
        assert etags[name].startswith('W/"') and first["Cache-Control"] == "no-cache", name
        assert {"Cookie", "HX-Request"} <= {v.strip() for v in first["Vary"].split(",")}, name
        unchanged = get(viewer_client, url, headers, HTTP_IF_NONE_MATCH=etags[name])
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == etags[name], name
    rewrite(sampled, PRIMARY, lambda s: s.update(total=s["total"] + 1))
    for name, (url, headers) in live_urls(sampled).items():
        newer = get(viewer_client, url, headers, HTTP_IF_NONE_MATCH=etags[name])
        assert newer.status_code == 200 and newer.content and newer["ETag"] != etags[name], name


def test_ages_are_filled_as_the_response_leaves_and_its_length_follows(sampled, viewer_client):
    response = viewer_client.get(f"/pools/{sampled.pk}/")
    body = response.content.decode()
    assert "\x00" not in body
    assert int(response["Content-Length"]) == len(response.content)
    assert re.search(r'<time class="age" datetime="[^"]+" data-age="d">\d+ s</time>', body)
    assert re.search(r'<meta name="seamline-now" content="\d+\.\d{3}">', body)
    partial = get(viewer_client, *live_urls(sampled)["cluster"])
    assert "\x00" not in partial.content.decode() and float(partial["X-Seamline-Now"]) > 0


def test_the_pools_api_gives_each_node_its_age_at_the_answer(sampled, viewer_client):
    url, headers = live_urls(sampled)["api pools"]
    first = get(viewer_client, url, headers)
    time.sleep(1.1)  # the same fragment, served a second later: the age has moved with the clock
    later = get(viewer_client, url, headers)
    assert later["ETag"] == first["ETag"]
    assert later.json()["nodes"][0]["age_seconds"] >= first.json()["nodes"][0]["age_seconds"] + 1.0


def test_json_ages_are_numbers_and_text_that_looks_like_a_marker_stays_text():
    then = datetime(2026, 1, 1, tzinfo=UTC)
    mimic = '"age_seconds": "\\u0000j1.0\\u0000"'  # what a marker looks like encoded, as a service's name
    encoded = json.dumps({"age_seconds": ages.json_marker(then), "name": mimic}, ensure_ascii=False)
    filled = json.loads(ages.fill_json(encoded, now=then.timestamp() + 12.34))
    assert filled == {"age_seconds": 12.3, "name": mimic}
    assert json.loads(ages.fill_json(encoded, now=then.timestamp() - 5))["age_seconds"] == 0.0  # clocks apart


@pytest.mark.parametrize("name", ["overview", "replication", "api pools", "api health"])
def test_what_a_view_costs_does_not_grow_with_the_catalog(sampled, viewer_client, name):
    """Rendered (the fragment not current) and served (current): a fixed number of queries each, however many
    clusters, replicas and services the catalog holds."""
    url, headers = live_urls(sampled)[name]

    def cost() -> tuple[int, int]:
        snapshots.catalog_changed()
        with CaptureQueriesContext(connection) as rendered:
            get(viewer_client, url, headers)
        with CaptureQueriesContext(connection) as served:
            get(viewer_client, url, headers)
        return len(rendered), len(served)

    before = cost()
    assert before[1] == 1  # served: the session with its user, nothing else
    for i in range(10):
        other = Cluster.objects.create(name=f"grow-{i}", dsn="host=127.0.0.1 port=9 dbname=x")
        other.replicas.create(name="r1", dsn="host=127.0.0.1 port=9 dbname=x")
        Service.objects.create(name=f"grow-{i}", application_names=[f"grow-{i}"])
    assert cost() == before
    # replication health's views cost two queries more since issue 18: the catalog's version and its subscriptions
    # (logical replication: who subscribes through which slot, kept until the catalog changes)
    expected = {"overview": 7, "replication": 7, "api pools": 5, "api health": 5}[name]
    assert before[0] == expected, before


def test_markers_found_once_fill_as_a_search_of_the_text_would_at_any_instant():
    """A fragment's ages are found once (ages.Markers) and filled for every viewer: the same words as the text
    searched at that instant, every kind of marker, NUL-free, in the active language."""
    then = datetime(2026, 1, 1, tzinfo=UTC)
    text = f"<p>{ages.marker(then)} · {ages.marker(then, ages.SINCE)} · {ages.NOW}</p><td>é&lt;b&gt;</td>"
    markers = ages.Markers(text)
    for seconds in (0.4, 59, 61, 3 * 3600 + 65, 3 * 86400):
        now = then.timestamp() + seconds
        filled = markers.fill(now)
        assert "\x00" not in filled and filled.endswith("</p><td>é&lt;b&gt;</td>")
        assert f">{ages.duration(seconds)}</time>" in filled and f"{now:.3f}" in filled
    assert ages.Markers("no marker here").fill() == "no marker here"
    english = markers.fill(then.timestamp() + 61)
    with translation.override("zh-hans"):
        assert markers.fill(then.timestamp() + 61) != english


@pytest.fixture
def round_trips(monkeypatch):
    """Every command sent to Redis and every statement sent to Seamline's database, in the order sent."""
    sent: list[tuple[str, str]] = []
    send = redis.connection.AbstractConnection.send_command

    def logged(self, *args, **kwargs):
        sent.append(("redis", str(args[0])))
        return send(self, *args, **kwargs)

    def executed(execute, sql, params, many, context):
        sent.append(("postgresql", sql))
        return execute(sql, params, many, context)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", logged)
    with connection.execute_wrapper(executed):
        yield sent


def test_a_live_request_reads_redis_while_postgresql_reads_its_session(sampled, viewer_client, round_trips):
    for name, (url, headers) in live_urls(sampled).items():
        first = get(viewer_client, url, headers)  # this process learns which keys the URL reads
        round_trips.clear()
        again = get(viewer_client, url, headers)
        assert again["ETag"] == first["ETag"] and again.content, name
        session = next(i for i, (to, sql) in enumerate(round_trips) if "seamline_session" in sql)
        mgets = [i for i, (to, command) in enumerate(round_trips) if to == "redis" and command == "MGET"]
        assert len(mgets) == 1 and mgets[0] < session, (name, round_trips)


def test_a_prefetch_nobody_asks_for_is_read_and_its_connection_given_back(sampled, client, viewer, round_trips):
    url, headers = live_urls(sampled)["replication"]
    client.force_login(viewer)
    get(client, url, headers)
    client.logout()
    round_trips.clear()
    assert client.get(url, **headers).status_code == 302  # to the login page: the view never asked
    assert ("redis", "MGET") in round_trips
    pool = snapshots.client().connection_pool
    assert not pool._in_use_connections  # given back, its answer read: the next command gets its own answer
    r = snapshots.client()
    for n in range(5):
        r.set("seamline:test:prefetch", n)
        assert r.get("seamline:test:prefetch") == str(n).encode()


def test_a_prefetch_that_times_out_is_not_waited_for_twice(sampled, viewer_client, monkeypatch, round_trips):
    url, headers = live_urls(sampled)["replication"]
    get(viewer_client, url, headers)

    def times_out(self, *args, **kwargs):
        raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", times_out)
    round_trips.clear()
    response = get(viewer_client, url, headers)
    assert "Live data unavailable" in response.content.decode()
    assert [c for to, c in round_trips if to == "redis"] == ["MGET"]  # the view did not ask again
    assert not snapshots.client().connection_pool._in_use_connections


def test_the_urls_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(fragments, "_seen", {})
    for n in range(fragments.SEEN_MAX + 10):
        fragments.Prefetch((f"/pools/{n}/", "", "en")).remember([f"k{n}"])
    assert len(fragments._seen) == fragments.SEEN_MAX and ("/pools/0/", "", "en") not in fragments._seen
    many = fragments.Prefetch(("/", "", "en"))
    for n in range(fragments.KEYS_MAX + 5):
        many.remember([f"variant{n}", "version"])
    assert len(fragments._seen[("/", "", "en")]) == fragments.KEYS_MAX
