"""The ownership map in headless Chromium on bench/org.py's generated organisation (200 services, 25 teams, 2,000
paths): teams, a team expanded, a focus by search and by click, an arrow's paths, the empty state, the downloads."""

from __future__ import annotations

import json
import re
from itertools import combinations
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from bench import _org as org
from catalog.models import Cluster, Service

from .conftest import PASSWORD
from .test_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def organisation(db):
    org.build()
    Cluster.objects.create(name="empty", dsn="host=127.0.0.1 dbname=nothing")


def log_in(page, live_server, username: str, path: str) -> None:  # noqa: F811
    page.goto(live_server.url + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: url == live_server.url + path)  # and loaded: the drawing is read whole


def node_names(page) -> list[str]:  # noqa: F811
    """The first line of every node's label: its name."""
    return page.locator("#map-canvas g.map-node").evaluate_all(
        "nodes => nodes.map(n => n.querySelector('text').textContent)"
    )


def test_the_team_level_draws_every_team_with_counts_that_add_up(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=org")
    canvas = page.locator("#map-canvas")
    expect(canvas.locator("g.map-team")).to_have_count(25)
    expect(canvas.locator("g.map-unowned")).to_have_count(1)
    arrows = canvas.locator("g.map-arrow text").all_text_contents()
    labels = canvas.locator("g.map-team").all_text_contents()
    inside = sum(int(m[1]) for t in labels if (m := re.search(r"(\d+) paths? inside", t)))
    assert sum(int(n) for n in arrows) + inside == 2000
    # no two nodes' labels overlap (each label: the box around its lines)
    boxes = canvas.locator("g.map-node").evaluate_all(
        """nodes => nodes.map(n => {
            const rs = [...n.querySelectorAll('text')].map(t => t.getBoundingClientRect());
            return [Math.min(...rs.map(r => r.left)), Math.min(...rs.map(r => r.top)),
                    Math.max(...rs.map(r => r.right)), Math.max(...rs.map(r => r.bottom))];
        })"""
    )
    overlapping = [
        (a, b) for a, b in combinations(boxes, 2) if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]
    assert overlapping == []
    expect(page.locator("table.matrix tbody tr")).not_to_have_count(0)


def test_a_click_expands_a_team_and_another_focuses_a_service(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=org")
    page.locator("#map-canvas g.map-team", has_text="org-team-05").locator("a").click()
    expect(page).to_have_url(re.compile(r"expand=org-team-05"))
    members = sorted(Service.objects.filter(team="org-team-05").values_list("name", flat=True))
    expect(page.locator("#map-canvas g.map-service")).to_have_count(len(members))
    shown = sorted(n for n in node_names(page) if n.startswith("org-svc-"))
    assert shown == members
    page.locator("#map-canvas g.map-service", has_text=members[0]).locator("a").click()
    expect(page).to_have_url(re.compile(rf"focus={members[0]}"))
    expect(page.locator("#map-canvas g.map-focus")).to_have_count(1)


def test_the_search_box_focuses_a_service_on_its_direct_neighbours(page, live_server, organisation, viewer):  # noqa: F811
    from catalog.paths import cross_service_edges

    log_in(page, live_server, viewer.username, "/map/?cluster=org")
    page.get_by_label("Focus on a service").fill("org-svc-042")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#map-canvas g.map-focus")).to_have_count(1)
    paths = cross_service_edges([Cluster.objects.get(name="org").pk])
    direct = {p.provider for p in paths if p.consumer == "org-svc-042"}
    direct |= {p.consumer for p in paths if p.provider == "org-svc-042"}
    assert set(node_names(page)) == direct | {"org-svc-042"}  # (unowned) is drawn as in English


def test_a_click_on_an_arrow_lists_exactly_its_paths(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=org")
    arrow = page.locator("#map-canvas g.map-arrow").first
    count = int(arrow.locator("text").text_content())
    url = page.url
    arrow.locator("text").click()
    listed = page.locator("#arrow-paths table.paths tbody tr")
    expect(listed).to_have_count(count)
    assert page.url == url  # the page stayed


def test_an_empty_cluster_says_so(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=empty")
    expect(page.get_by_text("this catalog has no synced database yet")).to_be_visible()
    expect(page.locator("#map-canvas")).to_have_count(0)


def test_the_downloads_are_what_is_drawn(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=org&expand=org-team-02")
    drawn = node_names(page)
    arrows = page.locator("#map-canvas g.map-arrow").count()
    with page.expect_download() as download:
        page.get_by_role("link", name="json").click()
    document = json.loads(download.value.path().read_text())
    assert sorted(n["name"] for n in document["nodes"]) == sorted(drawn)
    # an edge of the document per pair of nodes, drawn as an arrow per kind of path between them
    links = page.locator("#map-canvas g.map-arrow > a").evaluate_all(
        "links => links.map(a => a.getAttribute('href') || a.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))"
    )
    pairs = {(q["consumer"][0], q["provider"][0]) for q in (parse_qs(urlsplit(link).query) for link in links)}
    assert len(document["edges"]) == len(pairs) < arrows
    with page.expect_download() as download:
        page.get_by_role("link", name="dot").click()
    assert download.value.path().read_text().count(" -> ") == arrows


def test_the_legend_shows_a_sample_of_each_kind_drawn(page, live_server, organisation, viewer):  # noqa: F811
    log_in(page, live_server, viewer.username, "/map/?cluster=org")
    legend = page.locator("#map-legend li")
    expect(legend).to_have_count(3)
    assert [item.get_attribute("data-kind") for item in legend.all()] == ["view", "fk", "grant"]
    expect(legend.nth(1)).to_contain_text("foreign key")
    for item in legend.all():
        box = item.locator("svg.kind-sample").bounding_box()
        assert box and box["width"] > 20 and box["height"] > 5  # drawn, not collapsed
    dashes = [item.locator("svg line").first.get_attribute("stroke-dasharray") for item in legend.all()]
    assert dashes == [None, None, "1 5"]
    page.get_by_label("foreign key").uncheck()
    page.get_by_label("view", exact=True).uncheck()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"kind=grant"))
    expect(legend).to_have_count(1)
    classes = page.locator("#map-canvas g.map-arrow").evaluate_all("gs => gs.map(g => g.getAttribute('class'))")
    assert classes and all("map-kind-grant" in c.split() for c in classes)
