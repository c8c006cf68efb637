"""The ownership map at organisation scale (catalog.map_view, catalog.map_layout, the map's views, command and API) on
bench/org.py's generated organisation: 200 services in 25 teams, 2,000 paths."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench import _org as org
from catalog import map_layout, ownership_map, versioning
from catalog.map_view import NO_TEAM, SERVICE, STYLES, TEAM, Arrow, Node, Query, View, style_of, view
from catalog.models import UNOWNED, Cluster, Contract, Database, Dependency, Ownership, Relation, Schema, Service
from catalog.paths import KINDS, cross_service_edges
from catalog.views.map import arrow_href

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def organisation(db):
    return org.build()


def service_paths() -> list:
    return cross_service_edges([Cluster.objects.get(name="org").pk])


def team_of(name: str) -> str:
    return UNOWNED if name == UNOWNED else Service.objects.get(name=name).team


def test_the_team_level_has_a_node_per_team_and_counts_that_add_up_to_the_paths(organisation):
    shown = view(Query(cluster="org"))
    teams = set(Service.objects.filter(name__startswith="org-").values_list("team", flat=True))
    assert {n.name for n in shown.nodes} == teams | {UNOWNED}
    assert len(teams) == 25 and all(len(n.services) == 8 for n in shown.nodes if n.kind == TEAM)
    paths = service_paths()
    assert len(paths) == 2000
    assert sum(a.count for a in shown.arrows) + sum(n.internal for n in shown.nodes) == 2000
    # each arrow counts exactly the paths of its kind between its two teams, declared and undeclared apart
    expected = Counter((team_of(p.consumer), team_of(p.provider), p.kind, p.declared) for p in paths)
    for a in shown.arrows:
        assert a.declared == expected[(a.consumer.name, a.provider.name, a.kind, True)]
        assert a.undeclared == expected[(a.consumer.name, a.provider.name, a.kind, False)]
    drawn = [(a.consumer.key, a.provider.key, a.kind) for a in shown.arrows]
    assert len(drawn) == len(set(drawn)) and {a.kind for a in shown.arrows} == {"view", "fk", "grant"}
    # the team document counts each pair of teams once, as before arrows were drawn per kind
    edges = shown.team_document()["edges"]
    assert len(edges) == len({(e["consumer"], e["provider"]) for e in edges}) == len({d[:2] for d in drawn})
    teams_of = dict(Service.objects.values_list("name", "team")) | {UNOWNED: UNOWNED}
    kinds = Counter((teams_of[p.consumer], teams_of[p.provider], p.kind) for p in paths)
    for pair, edge in zip(shown.pairs, edges, strict=True):
        assert pair.kinds == {k: n for (c, p, k), n in kinds.items() if (c, p) == (edge["consumer"], edge["provider"])}
        assert edge["count"] == sum(pair.kinds.values())
    inside = Counter(team_of(p.consumer) for p in paths if team_of(p.consumer) == team_of(p.provider))
    assert {n.name: n.internal for n in shown.nodes if n.internal} == dict(inside)


def test_expanding_a_team_shows_exactly_its_services_and_keeps_the_others_collapsed(organisation):
    shown = view(Query(cluster="org", expand=("org-team-07",)))
    services = set(Service.objects.filter(team="org-team-07").values_list("name", flat=True))
    assert {n.name for n in shown.nodes if n.kind == SERVICE} == services
    assert "org-team-07" not in {n.name for n in shown.nodes if n.kind == TEAM}
    assert len([n for n in shown.nodes if n.kind == TEAM]) == 24
    assert sum(a.count for a in shown.arrows) + sum(n.internal for n in shown.nodes) == 2000


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_focus_shows_the_neighbourhood_and_only_edges_from_one_distance_to_the_next(organisation, depth):
    focus = "org-svc-030"
    paths = service_paths()
    distance = {focus: 0}
    for k in range(1, depth + 1):  # breadth-first, both directions, never through (unowned)
        ring = {
            other
            for p in paths
            for here, other in ((p.consumer, p.provider), (p.provider, p.consumer))
            if distance.get(here) == k - 1 and here != UNOWNED and other not in distance
        }
        distance |= dict.fromkeys(ring, k)
    shown = view(Query(cluster="org", focus=focus, depth=depth))
    assert {n.name: n.distance for n in shown.nodes} == distance
    expected = [p for p in paths if {p.consumer, p.provider} <= distance.keys()
                and abs(distance[p.consumer] - distance[p.provider]) == 1]  # fmt: skip
    assert shown.paths == expected
    if depth == 1:
        direct = {p.provider for p in paths if p.consumer == focus} | {p.consumer for p in paths if p.provider == focus}
        assert {n.name for n in shown.nodes} == direct | {focus}


def test_an_arrow_lists_exactly_its_paths(organisation, viewer_client):
    shown = view(Query(cluster="org"))
    arrow = max(shown.arrows, key=lambda a: a.count)
    href = arrow_href(Query(cluster="org"))(arrow)
    assert f"arrow_kind={arrow.kind}" in href
    response = viewer_client.get(href, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    rows = body.count("<tr") - 1  # the header's
    assert rows == arrow.count
    paths = [p for p in service_paths() if (team_of(p.consumer), team_of(p.provider)) == (arrow.consumer.name,
             arrow.provider.name)]  # fmt: skip
    assert all(p.object in body for p in paths if p.kind == arrow.kind)
    assert not any(p.object in body for p in paths if p.kind != arrow.kind)
    # a cell of the matrix: every kind between the two teams
    pair = shown.arrow(arrow.consumer.key, arrow.provider.key)
    assert len(pair.arrows) > 1
    body = viewer_client.get(arrow_href(Query(cluster="org"))(pair), HTTP_HX_REQUEST="true").content.decode()
    assert body.count("<tr") - 1 == pair.count == len(paths)
    # without htmx (no script): a page of its own
    assert (
        "<html"
        in viewer_client.get(response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"]).content.decode()
    )


def test_the_downloads_are_what_the_page_draws(organisation, viewer_client):
    params = {"cluster": "org", "expand": "org-team-03"}
    data = viewer_client.get(reverse("map_data"), params).json()
    document = json.loads(viewer_client.get(reverse("map_download"), params | {"format": "json"}).content)
    assert [n["name"] for n in document["nodes"]] == [n["name"] for n in data["nodes"]]
    # the document: a pair of nodes once, its arrows (one per kind) summed
    pairs: dict[tuple[str, str], dict] = {}
    for e in data["edges"]:
        pair = pairs.setdefault((e["consumer"], e["provider"]), dict.fromkeys(("count", "declared", "undeclared"), 0))
        pair |= {k: pair[k] + e[k] for k in ("count", "declared", "undeclared")}
    assert document["edges"] == [{"consumer": c, "provider": p} | rest for (c, p), rest in pairs.items()]
    assert len(data["edges"]) > len(pairs)  # some pairs of nodes have paths of more than one kind
    dot = viewer_client.get(reverse("map_download"), params | {"format": "dot"}).content.decode()
    assert dot.count(" -> ") == len(data["edges"])
    mermaid = viewer_client.get(reverse("map_download"), params | {"format": "mermaid"}).content.decode()
    assert len(re.findall(r"^  n\d+ \S+\|", mermaid, re.MULTILINE)) == len(data["edges"])
    svg = ET.fromstring(_svg(viewer_client.get(reverse("map"), params).content.decode()))
    drawn = [g for g in svg.iter(SVG + "g") if "map-arrow" in g.get("class", "")]
    assert len(drawn) == len(data["edges"])
    nodes = [g for g in svg.iter(SVG + "g") if "map-node" in g.get("class", "")]
    assert len(nodes) == len(data["nodes"])


def _svg(page: str) -> str:
    start = page.index("<svg")
    return page[start : page.index("</svg>", start) + len("</svg>")]


def test_the_command_groups_by_team_and_focuses(organisation, capsys):
    call_command("ownership_map", "--cluster", "org", "--group-by", "team")
    teams = json.loads(capsys.readouterr().out)
    assert set(teams) == {"nodes", "edges"}
    assert set(teams["nodes"][0]) == {"name", "services", "internal"}
    assert set(teams["edges"][0]) == {"consumer", "provider", "count", "declared", "undeclared"}
    assert sum(e["count"] for e in teams["edges"]) + sum(n["internal"] for n in teams["nodes"]) == 2000
    call_command("ownership_map", "--cluster", "org", "--focus", "org-svc-030", "--depth", "1")
    around = json.loads(capsys.readouterr().out)
    assert set(around) == {"services", "edges"}
    assert all("org-svc-030" in (e["consumer"], e["provider"]) for e in around["edges"])
    assert {s["name"] for s in around["services"]} == {n.name for n in view(Query(cluster="org", focus="org-svc-030"))
                                                        .nodes} - {UNOWNED}  # fmt: skip
    with pytest.raises(CommandError, match="No service named nobody"):
        call_command("ownership_map", "--focus", "nobody")
    with pytest.raises(CommandError, match="depth"):
        call_command("ownership_map", "--focus", "org-svc-030", "--depth", "4")


def test_a_view_too_big_to_draw_asks_for_a_focus(organisation, viewer_client):
    body = viewer_client.get(reverse("map"), {"cluster": "org", "level": "service"}).content.decode()
    assert "<svg" not in body and "201 nodes" in body and "Focus on a service" in body


def test_the_empty_states_say_why(db, viewer_client):
    cluster = Cluster.objects.create(name="fresh", dsn="host=127.0.0.1 dbname=x")
    service = Service.objects.create(name="lonely", team="t")

    def body() -> str:
        return viewer_client.get(reverse("map"), {"cluster": "fresh"}).content.decode()

    assert "no synced database yet" in body()
    database = Database.objects.create(cluster=cluster, name="x")
    versioning.bump()  # as a sync does
    assert "no service declares ownership" in body()
    Ownership.objects.create(service=service, cluster=cluster, database="x", schema="s")
    Schema.objects.create(database=database, name="s", service=service)
    versioning.bump()
    assert "no service reaches into another" in body()
    assert "<svg" not in body()


def test_hostile_names_are_drawn_as_text(db, viewer_client):
    names = ['<script>alert("x")</script>', "a\\Nb & &amp; 'q'", "订" * 21, "bell\x07"]  # 63 bytes; no XML
    cluster = Cluster.objects.create(name="h", dsn="host=127.0.0.1 dbname=x")
    database = Database.objects.create(cluster=cluster, name="x")
    services = [Service.objects.create(name=n, team=f"team {n}") for n in names]
    tables = []
    for i, s in enumerate(services):
        schema = Schema.objects.create(database=database, name=f"s{i}", service=s)
        tables.append(Relation.objects.create(schema=schema, name="t", kind="table"))
    for i in range(len(services)):  # a ring: 0 reads 1, 1 reads 2, 2 reads 0
        view_ = Relation.objects.create(schema=tables[i].schema, name="v", kind="view")
        Dependency.objects.create(kind="view", consumer_relation=view_, source=tables[(i + 1) % len(services)])
    versioning.bump()
    for params in ({"cluster": "h"}, {"cluster": "h", "level": "service"}):
        page = viewer_client.get(reverse("map"), params).content.decode()
        assert "<script>alert" not in page
        texts = "\n".join(t.text or "" for t in ET.fromstring(_svg(page)).iter(SVG + "text"))
        for n in names:
            shown = n.replace("\x07", "\ufffd")  # XML cannot hold it
            assert (f"team {shown}" if params.get("level") is None else shown) in texts
    # a ring: one arrow closes the cycle, drawn apart
    shown = view(Query(level=SERVICE, cluster="h"))
    assert [a.closes_cycle for a in shown.arrows].count(True) == 1


def test_a_team_and_a_service_may_share_a_name(db):
    cluster = Cluster.objects.create(name="same", dsn="host=127.0.0.1 dbname=x")
    database = Database.objects.create(cluster=cluster, name="x")
    a = Service.objects.create(name="billing", team="payments")
    b = Service.objects.create(name="ledger", team="billing")
    schema_a = Schema.objects.create(database=database, name="a", service=a)
    schema_b = Schema.objects.create(database=database, name="b", service=b)
    table = Relation.objects.create(schema=schema_b, name="t", kind="table")
    reader = Relation.objects.create(schema=schema_a, name="v", kind="view")
    Dependency.objects.create(kind="view", consumer_relation=reader, source=table)
    shown = view(Query(cluster="same", expand=("payments",)))  # the service billing next to the team billing
    assert [(a.consumer.key, a.provider.key) for a in shown.arrows] == [("service:billing", "team:billing")]
    assert map_layout.dot_source(shown, lambda n: None, lambda a: "#").count(" -> ") == 1
    Service.objects.create(name="loner")  # no team: the (no team) node
    assert NO_TEAM in {n.name for n in view(Query()).nodes}


def test_bad_parameters_are_clear_errors(organisation, viewer_client):
    for params, message in (
        ({"depth": "9", "focus": "org-svc-001"}, "depth"),
        ({"kind": "telepathy"}, "telepathy"),
        ({"level": "galaxy"}, "galaxy"),
        ({"focus": "nobody"}, "nobody"),
        ({"expand": "no-such-team"}, "no-such-team"),
        ({"cluster": "nowhere"}, "nowhere"),
    ):
        page = viewer_client.get(reverse("map"), params)
        assert page.status_code == 400 and message in page.content.decode()
        assert viewer_client.get(reverse("map_data"), params).status_code == 400
        assert viewer_client.get(reverse("map_download"), params).status_code == 400


def test_a_page_already_drawn_costs_the_login_and_the_catalog_version(organisation, viewer_client):
    params = {"cluster": "org", "expand": "org-team-01"}
    assert viewer_client.get(reverse("map"), params).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get(reverse("map"), params).status_code == 200
    assert len(queries) == 2  # the session with its user, the catalog version
    Contract.objects.all().delete()  # a change of the catalog shows at once
    versioning.bump()
    page = viewer_client.get(reverse("map"), params).content.decode()
    assert ", 0 declared" in page or "0 declared" in page


def test_the_team_document_of_the_api_is_the_commands(organisation, viewer_client, capsys):
    call_command("ownership_map", "--cluster", "org", "--group-by", "team", "--expand", "org-team-02")
    cli = json.loads(capsys.readouterr().out)
    api = viewer_client.get("/api/v1/ownership-map", {"cluster": "org", "group_by": "team", "expand": "org-team-02"})
    assert api.json() == cli
    shown = Query(cluster="org", expand=("org-team-02",))
    assert ownership_map.render("json", shown) == json.dumps(cli, ensure_ascii=False, indent=2)


def test_each_language_gets_its_own_drawing(organisation, viewer_client):
    from django.conf import settings

    english = viewer_client.get(reverse("map"), {"cluster": "org"}).content.decode()
    viewer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = viewer_client.get(reverse("map"), {"cluster": "org"}).content.decode()
    assert "8 services" in _svg(english) and "8 个服务" in _svg(chinese)
    assert "谁在读取谁的数据" in chinese


def test_the_command_answers_in_one_language_whatever_the_process_has_active(db):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(CommandError, match="No service named nobody"):
        call_command("ownership_map", "--focus", "nobody")


def test_paths_all_inside_one_team_are_counted_on_it_and_no_matrix_is_offered(db, viewer_client):
    cluster = Cluster.objects.create(name="one", dsn="host=127.0.0.1 dbname=x")
    database = Database.objects.create(cluster=cluster, name="x")
    reader, owner = (Service.objects.create(name=n, team="solo") for n in ("reader", "owner"))
    table = Relation.objects.create(schema=Schema.objects.create(database=database, name="o", service=owner), name="t",
                                    kind="table")  # fmt: skip
    looking = Relation.objects.create(schema=Schema.objects.create(database=database, name="r", service=reader),
                                      name="v", kind="view")  # fmt: skip
    Dependency.objects.create(kind="view", consumer_relation=looking, source=table)
    versioning.bump()
    page = viewer_client.get(reverse("map"), {"cluster": "one"}).content.decode()
    assert "1 path inside" in page and 'table class="matrix"' not in page and "too many rows" not in page


def a_view_of(kinds: list[str]) -> View:
    """Two services with an arrow of each kind between them (every other one undeclared), and one back (a cycle)."""
    a, b = Node("a", SERVICE, ("a",)), Node("b", SERVICE, ("b",))
    arrows = [Arrow(a, b, kind, i + 1, (i + 1) * (i % 2), (i + 1) * (1 - i % 2)) for i, kind in enumerate(kinds)]
    arrows.append(Arrow(b, a, "view", 1, 1, 0, closes_cycle=True))
    return View(Query(level=SERVICE), [a, b], arrows, [], {"a": a, "b": b})


def test_every_kind_has_a_style_of_its_own():
    nine = {"view", "fk", "grant", "function", "fdw", "dblink", "replication", "event", "runtime"}
    assert set(KINDS) <= set(STYLES) and nine <= set(STYLES)
    drawn = [(s.dot_style, s.arrowhead) for s in STYLES.values()]
    mermaid = [(s.mermaid_arrow, s.dash) for s in STYLES.values()]
    assert len(set(drawn)) == len(drawn) and len(set(mermaid)) == len(mermaid)
    unknown = style_of("telepathy")  # a kind added before its style: drawn plain, named by its code
    assert (unknown.dot_style, unknown.arrowhead) not in drawn and unknown.name == "telepathy"


def test_the_drawing_gives_each_kind_its_line_and_arrowhead():
    shown = a_view_of([*STYLES, "telepathy", 'we"ird <k>'])
    svg = ET.fromstring(map_layout.svg(map_layout.dot_source(shown, lambda n: None, lambda a: "#")))
    groups = {g.get("id"): g for g in svg.iter(SVG + "g")}
    looks = {}
    for i, arrow in enumerate(shown.arrows):
        group = groups[f"a{i}"]
        classes = group.get("class").split()
        assert [c for c in classes if c.startswith("map-kind-")] == [
            "map-kind-weirdk" if arrow.kind.startswith("we") else f"map-kind-{arrow.kind}"
        ]
        assert ("map-undeclared" in classes) == bool(arrow.undeclared) != ("map-declared" in classes)
        assert ("map-cycle" in classes) == arrow.closes_cycle
        line = group.find(f".//{SVG}path")
        assert line.get("stroke") == arrow.colour
        dash = {"solid": None, "dashed": "5,2", "dotted": "1,5"}[arrow.style.dot_style]  # Graphviz's
        assert line.get("stroke-dasharray") == dash
        assert arrow.style.dash.replace(" ", ",") == (dash or "")  # the legend's sample and Mermaid's are the same
        head = tuple(sorted((e.tag.removeprefix(SVG), e.get("fill") == "none") for e in group.iter()
                            if e.tag in (SVG + "polygon", SVG + "ellipse", SVG + "polyline")))  # fmt: skip
        if not arrow.kind.startswith("we"):  # two kinds without a style look alike
            looks.setdefault(arrow.kind, (dash, head))
        title = group.find(SVG + "a").get(f"{{{map_layout.XLINK}}}title")
        assert f"{arrow.style.name} · " in title
    assert len(set(looks.values())) == len(looks)  # no two kinds look alike


def _legend(page: str) -> list[str]:
    start = page.index('<div class="map-legend"')
    return re.findall(r'<li data-kind="([^"]+)"', page[start : page.index("</div>", start)])


def _checkboxes(page: str) -> dict[str, tuple[bool, str]]:
    found = re.findall(r'<input type="checkbox" name="kind" value="([^"]+)" (checked)?> ([^<]+)</label>', page)
    return {value: (bool(checked), label) for value, checked, label in found}


def _kinds_drawn(page: str) -> set[str]:
    return {
        c.removeprefix("map-kind-")
        for g in ET.fromstring(_svg(page)).iter(SVG + "g")
        for c in g.get("class", "").split()
        if c.startswith("map-kind-")
    }


def test_the_legend_explains_exactly_the_kinds_drawn_and_the_filter_keeps_one(organisation, viewer_client):
    page = viewer_client.get(reverse("map"), {"cluster": "org"}).content.decode()
    assert _legend(page) == ["view", "fk", "grant"] and _kinds_drawn(page) == {"view", "fk", "grant"}
    assert "a table of the consumer references the provider&#x27;s table" in page
    boxes = _checkboxes(page)
    assert list(boxes) == list(KINDS) and all(checked for checked, _ in boxes.values())
    assert boxes["fk"] == (True, "foreign key") and boxes["fdw"] == (True, "foreign table")
    page = viewer_client.get(reverse("map"), {"cluster": "org", "kind": "grant"}).content.decode()
    assert _legend(page) == ["grant"] and _kinds_drawn(page) == {"grant"}
    assert [k for k, (checked, _) in _checkboxes(page).items() if checked] == ["grant"]
    data = viewer_client.get(reverse("map_data"), {"cluster": "org", "kind": "grant"}).json()
    assert data["edges"] and {e["kind"] for e in data["edges"]} == {"grant"}


def test_the_legend_and_the_filter_speak_chinese(organisation, viewer_client):
    from django.conf import settings

    viewer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = viewer_client.get(reverse("map"), {"cluster": "org"}).content.decode()
    legend = page[page.index('<div class="map-legend"') :]
    legend = legend[: legend.index("</div>")]
    assert "<strong>外键</strong>" in legend and "foreign key" not in legend and "references" not in legend
    assert _checkboxes(page)["fk"] == (True, "外键")
    assert "外键 · " in _svg(page)  # an arrow's title
