"""Benchmark: the ownership map of a 200-service organisation (issue 15).

Seamline's tables in a database of their own on the dev stack (``seamline_bench_map``, created and migrated when
missing), holding bench/_org.py's generated organisation: 200 services in 25 teams owning a schema each in 4
databases, 2,000 cross-service views, foreign keys and grants. Served by gunicorn with the shipped configuration and
debug off (the load benchmark's settings, ``bench/_serving.py``, which add the ``Server-Timing`` header):

- the server time (``Server-Timing``: the request entering Django to the response leaving it) of the map page and of
  its data endpoint for three views, the team level, a team expanded and a focus at depth 2: the first request after
  a catalog change (every process computes and draws the view once per catalog version; information) and the p50 of
  ``--requests`` after it (goal ≤ 100 ms each);
- what the browser downloads to draw the team level: the page as gunicorn sends it and every file it loads as the
  shipped nginx configuration sends it (CSS and JavaScript gzipped, level 1 as nginx's default; the raw sizes too),
  goal ≤ 300 KB;
- the time from navigation start until every node of the drawing is in the page (Chromium through Playwright, a new
  browser context each time so that nothing is cached, static files answered from the app's files as nginx would;
  median of ``--runs``), goal ≤ 1 s.

Run: ``make bench``, or ``.venv/bin/python bench/map.py [--requests N] [--runs N] [--no-docs]`` with the dev stack
running (``make services``). The report is printed and written to this benchmark's section of docs/benchmarks.md
(``--no-docs`` skips that). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    Processes,
    argument_parser,
    connect_dev_stack,
    machine,
    median,
    paragraph,
    percentile,
    run_timed,
    setup_django,
    write_report,
)

NAME = "map"
PY = sys.executable
APP_DB = "seamline_bench_map"
SECRET_KEY = "seamline-bench-map-not-a-secret"
GOAL_SERVER_MS = 100.0
GOAL_BYTES = 300 * 1024
GOAL_DRAWN_MS = 1000.0
VIEWS = [
    ("team level", "cluster=org"),
    ("a team expanded", "cluster=org&expand=org-team-07"),
    ("a focus at depth 2", "cluster=org&focus=org-svc-042&depth=2"),
]
REPRODUCE = ".venv/bin/python bench/map.py [--requests N] [--runs N] [--no-docs]"


@dataclass
class Timed:
    label: str
    url: str
    first_ms: float = 0.0
    server_ms: list[float] = field(default_factory=list)
    body_bytes: int = 0


def bench_env(port: int) -> dict[str, str]:
    return {
        "SEAMLINE_DB_HOST": "127.0.0.1",
        "SEAMLINE_DB_PORT": str(port),
        "SEAMLINE_DB_NAME": APP_DB,
        "SEAMLINE_REDIS_URL": f"redis://127.0.0.1:{os.environ.get('SEAMLINE_REDIS_PORT', '6380')}/5",
        "SEAMLINE_DEBUG": "0",
        "SEAMLINE_SECRET_KEY": SECRET_KEY,  # the same here and in the web server: a session made here is valid there
        "PYTHONUNBUFFERED": "1",
    }


def prepare(port: int, env: dict[str, str]) -> None:
    with connect_dev_stack("127.0.0.1", port) as admin:
        admin.autocommit = True
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DB]).fetchone():
            admin.execute(f'CREATE DATABASE "{APP_DB}"')
    run_timed([PY, "manage.py", "migrate", "--noinput", "-v0"], env={**os.environ, **env})


def viewer_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user, _ = get_user_model().objects.update_or_create(username="bench-map", defaults={"is_superuser": False})
    user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name="Viewer")])
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def start_web(procs: Processes) -> int:
    from bench.pools import free_port

    port = free_port(18200)
    gunicorn = str(Path(PY).parent / "gunicorn")
    procs.start("web", gunicorn, "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        procs.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return port
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the web server did not answer in 60 s:\n{procs.tail('web')}")
        time.sleep(0.2)


def get(port: int, url: str, cookie: str) -> tuple[float, int]:
    """Server time (ms) and body size of one request, on a connection of its own (gunicorn's sync workers close it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", url, headers={"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"{url}: {response.status} {body[:300]!r}")
    timing = response.getheader("Server-Timing") or ""
    return float(timing.split("dur=", 1)[1]), len(body)


def serve(port: int, cookie: str, requests: int) -> list[Timed]:
    """Each view's page and data: the first request after a catalog change, then ``requests`` more. gunicorn's
    workers each keep their own drawing: each is warmed before the timed requests (a request per worker is not
    guaranteed to land on each, so a few rounds)."""
    from catalog import versioning

    versioning.bump()  # a catalog change: every process computes its views again
    timed = []
    for label, query in VIEWS:
        for what, path in (("page", "/map/"), ("data", "/map/data.json")):
            t = Timed(f"{label}: {what}", f"{path}?{query}")
            t.first_ms, t.body_bytes = get(port, t.url, cookie)
            for _ in range(12):  # every worker's first too
                get(port, t.url, cookie)
            t.server_ms = [get(port, t.url, cookie)[0] for _ in range(requests)]
            timed.append(t)
    return timed


def static_body(path: str) -> bytes | None:
    from django.contrib.staticfiles import finders

    found = finders.find(urllib.parse.unquote(path))
    return Path(found).read_bytes() if found else None


def browse(port: int, cookie: str, runs: int) -> tuple[list[float], list[tuple[str, int, int]], int]:
    """Times (ms) from navigation start to every node drawn, one a new context; what one load downloaded: (url, raw
    bytes, bytes as sent); the number of nodes."""
    from playwright.sync_api import sync_playwright

    from catalog.map_view import Query, view

    nodes = len(view(Query(cluster="org")).nodes)
    base = f"http://127.0.0.1:{port}"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"

    def static(route, request) -> None:  # noqa: ANN001 - Playwright's
        path = urllib.parse.urlsplit(request.url).path.removeprefix("/static/")
        body = static_body(path)
        if body is None:
            route.fulfill(status=404, body=b"")
            return
        kind = {"css": "text/css", "js": "application/javascript", "svg": "image/svg+xml"}.get(path.rsplit(".", 1)[-1])
        route.fulfill(status=200, body=body, headers={"Content-Type": kind or "application/octet-stream"})

    times: list[float] = []
    downloaded: list[tuple[str, int, int]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            for run in range(runs + 1):  # the first: untimed, it records what was downloaded
                context = browser.new_context()
                context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
                context.route("**/static/**", static)
                page = context.new_page()
                responses: list = []
                page.on("response", lambda r, into=responses: into.append(r))
                page.goto(f"{base}/map/?cluster=org", wait_until="commit")
                page.wait_for_function(
                    f"document.querySelectorAll('#map-canvas g.map-node').length >= {nodes}", timeout=30_000
                )
                drawn = page.evaluate("performance.now()")
                page.wait_for_load_state("load")
                if run == 0:
                    for r in responses:
                        body = r.body()
                        path = urllib.parse.urlsplit(r.url).path
                        gzipped = path.endswith((".css", ".js")) and path.startswith("/static/")
                        downloaded.append((path, len(body), len(gzip.compress(body, 1)) if gzipped else len(body)))
                else:
                    times.append(drawn)
                context.close()
        finally:
            browser.close()
    return times, downloaded, nodes


def report(timed: list[Timed], times: list[float], downloaded: list[tuple[str, int, int]], nodes: int) -> tuple[
    list[str], bool
]:  # fmt: skip
    holds = True
    served = [
        "| view and endpoint | first request after a change | body | server time p50 (p95) | goal | holds |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for t in timed:
        p50 = percentile(t.server_ms, 50)
        ok = p50 <= GOAL_SERVER_MS
        holds &= ok
        served.append(
            f"| {t.label} | {t.first_ms:.1f} ms | {t.body_bytes / 1024:.0f} KiB | {p50:.1f} ms "
            f"({percentile(t.server_ms, 95):.1f} ms) | ≤ {GOAL_SERVER_MS:.0f} ms | {'yes' if ok else '**no**'} |"
        )
    sent = sum(s for _, _, s in downloaded)
    raw = sum(r for _, r, _ in downloaded)
    drawn = median(times)
    browser = ["| figure | measured | goal | holds |", "| --- | ---: | --- | --- |"]
    for figure, measured, goal, ok in (
        (
            "downloaded to draw the team level",
            f"{sent / 1024:.0f} KB ({raw / 1024:.0f} KB raw)",
            f"≤ {GOAL_BYTES // 1024} KB",
            sent <= GOAL_BYTES,
        ),
        (
            f"navigation start to all {nodes} nodes of the team level drawn, median (range) of {len(times)}",
            f"{drawn:.0f} ms ({min(times):.0f}–{max(times):.0f} ms)",
            f"≤ {GOAL_DRAWN_MS / 1000:.0f} s",
            drawn <= GOAL_DRAWN_MS,
        ),
    ):
        holds &= ok
        browser.append(f"| {figure} | {measured} | {goal} | {'yes' if ok else '**no**'} |")
    files = ["| downloaded | raw | as sent |", "| --- | ---: | ---: |"] + [
        f"| `{path}` | {r / 1024:.1f} KB | {s / 1024:.1f} KB |" for path, r, s in downloaded
    ]
    return [*served, "", *browser, "", *files], holds


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per view and endpoint (default 50)")
    parser.add_argument("--runs", type=int, default=5, help="timed page loads in Chromium (default 5)")
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    port = int(os.environ.get("SEAMLINE_PG_PORT", "54329"))
    env = bench_env(port)
    prepare(port, env)
    setup_django(env)
    from bench import _org

    organisation = _org.build()
    cookie = viewer_cookie()
    print(
        f"map benchmark: {organisation.services} services in {organisation.teams} teams, {organisation.paths} paths "
        f"in {organisation.databases} databases (Seamline's tables in {APP_DB})"
    )
    with tempfile.TemporaryDirectory(prefix="seamline-bench-map-") as tmp:
        logs = Path(tmp)
        procs = Processes(logs, {**env, "DJANGO_SETTINGS_MODULE": "bench._serving", "SEAMLINE_WEB_LOGLEVEL": "warning"})
        try:
            web = start_web(procs)
            timed = serve(web, cookie, args.requests)
            times, downloaded, nodes = browse(web, cookie, args.runs)
        finally:
            procs.stop_all()
    lines, holds = report(timed, times, downloaded, nodes)
    print("\n" + "\n".join(lines))
    print("\n" + ("every goal holds" if holds else "GOAL MISSED: see the figures above"))
    print(f"reproduce: {REPRODUCE}  (this run: {time.perf_counter() - wall:.0f} s)")
    if not args.no_docs:
        body = [
            "## The ownership map of a 200-service organisation (issue 15)",
            "",
            paragraph(
                f"`bench/map.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. bench/_org.py's generated organisation "
                f"({organisation.services} services in {organisation.teams} teams owning a schema each in "
                f"{organisation.databases} databases, {organisation.paths} cross-service views, foreign keys and "
                f"grants) in Seamline's tables (`{APP_DB}` on the dev stack), served by gunicorn with the shipped "
                "configuration, debug off. Server time is Django's, from its Server-Timing header; the first request "
                "after a catalog change computes and draws the view (Graphviz) in the process that takes it, and each "
                "process does so once per view, language and catalog version; then p50 (p95) of "
                f"{args.requests} requests, one at a time. Downloads: one load of the team level in Chromium, static "
                "files as the shipped nginx configuration sends them (CSS and JavaScript gzipped at level 1); the "
                f"page itself as gunicorn sends it. Drawn: `performance.now()` when all {nodes} nodes are in the "
                f"page, each load in a new browser context, median (range) of {args.runs}."
            ),
            "",
            *lines,
        ]
        write_report(NAME, body, machine({"psycopg": psycopg.__version__}), REPRODUCE)
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
