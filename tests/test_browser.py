"""In headless Chromium (the system's, driven by Playwright): log in, see the services, switch to 中文, log out."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's services at start, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_user_logs_in_sees_the_services_switches_to_chinese_and_logs_out(page, live_server, demo_catalog, viewer):
    page.goto(live_server.url + "/services/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/services/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Services")).to_be_visible()
    table = page.locator("#service-table")
    for name in ("user_service", "order_service", "product_service", "payment_service"):
        expect(table.locator("th[scope=row] strong", has_text=name)).to_be_visible()

    page.get_by_role("button", name="简体中文").click()
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="服务")).to_be_visible()
    expect(nav.get_by_role("link", name="概览")).to_be_visible()
    expect(nav.get_by_role("link", name="复制")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录 Seamline")).to_be_visible()
    page.goto(live_server.url + "/services/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/services/")


def test_the_team_filter_refreshes_the_table_in_place(page, live_server, demo_catalog, viewer):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/services/")
    page.get_by_label("Team").select_option("payments")
    table = page.locator("#service-table")
    expect(table.locator("th[scope=row] strong")).to_have_text(["payment_service"])
    expect(page).to_have_url(live_server.url + "/services/?team=payments")


def test_an_operator_syncs_a_cluster_and_reads_the_ownership_map(
    page, live_server, demo_catalog, celery_worker_process, operator
):
    from catalog.models import Cluster

    cluster = Cluster.objects.get(name="demo")
    page.goto(live_server.url + f"/clusters/{cluster.pk}/")
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_text("Never synced.")).to_be_visible()
    page.get_by_role("button", name="Sync now").click()
    # htmx swaps the panel in place and polls it until the worker is done
    # the panel's status line ("Synced 0 minutes ago."), not the databases table's "Last synced" that comes with it
    expect(page.locator("#sync-status [role=status]", has_text="Synced")).to_be_visible(timeout=60_000)
    expect(page.locator("#sync-status table")).to_contain_text("shop")

    page.get_by_role("link", name="Ownership map").click()
    graph = page.locator("#map-canvas svg")
    expect(graph).to_be_visible(timeout=20_000)
    expect(graph).to_contain_text("(unowned)")  # teams at first: the demo's, and the data no service owns
    expect(graph).to_contain_text("identity")
    page.get_by_role("link", name="Every service").click()
    expect(graph).to_contain_text("user_service")
    expect(page.locator("table.matrix")).to_contain_text("order_service")
    with page.expect_download() as download:
        page.get_by_role("link", name="mermaid").click()
    assert download.value.suggested_filename == "ownership-map.mmd"


def test_the_pools_page_refreshes_itself_pauses_and_draws_its_history(
    page, live_server, held_sessions, pools_cluster, viewer, monkeypatch
):
    from dashboard import snapshots
    from dashboard.nodes import PRIMARY
    from dashboard.sampling import sample_node

    monkeypatch.setattr(snapshots, "REFRESH_SECONDS", 1)
    sample_node(pools_cluster, PRIMARY)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    refreshes: list[str] = []
    responses: list = []
    page.on("request", lambda r: refreshes.append(r.url) if r.headers.get("hx-request") else None)
    page.on("response", lambda r: responses.append(r) if r.request.headers.get("hx-request") else None)
    page.goto(f"{live_server.url}/pools/{pools_cluster.pk}/")
    row = page.locator("#live tr", has=page.locator("th > a", has_text="pt_orders"))  # the services table's row
    expect(row).to_contain_text("3 / 6")
    expect(page.locator(".figure .main-svg").first).to_be_visible()  # plotly drew the history
    expect(page.locator(".figure.error")).to_have_count(0)
    page.wait_for_timeout(2500)
    assert len(refreshes) >= 2  # the live panel polled
    # no new sample: the browser revalidated its copy (If-None-Match) and the server confirmed it, with a 304 and no
    # body (the browser's cache then hands the page its copy, as a 200)
    assert any(
        r.request.all_headers().get("if-none-match") == r.all_headers()["etag"]
        and r.all_headers()["content-length"] == "0"
        for r in responses
    )
    age = page.locator("#live time.age").first
    shown = age.text_content()
    page.get_by_role("button", name="Pause auto-refresh").click()
    expect(page.get_by_role("button", name="Resume auto-refresh")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(300)  # a request already on its way may land
    paused_at = len(refreshes)
    page.wait_for_timeout(2500)
    assert len(refreshes) == paused_at
    assert age.text_content() != shown  # the sample's age ticks on in the browser, paused or not
    expect(row).to_contain_text("3 / 6")  # still shown while paused
    page.get_by_role("button", name="Resume auto-refresh").click()
    page.wait_for_timeout(2500)
    assert len(refreshes) > paused_at


def test_the_replication_page_shows_a_paused_replica_go_crit_with_its_reason(
    page, live_server, pools_cluster, viewer, settings
):
    from dashboard.nodes import nodes_of
    from dashboard.sampling import sample_node

    from .conftest import pg, wait_for

    pools_cluster.lag_warn_bytes, pools_cluster.lag_crit_bytes = 1024**2, 4 * 1024**2
    pools_cluster.save()

    def sample() -> None:
        for node in nodes_of(pools_cluster):
            sample_node(pools_cluster, node.name)

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    with pg(port=settings.REPLICA_PORT) as standby, pg() as primary:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            primary.execute(
                "CREATE TEMP TABLE wal_writer AS SELECT repeat(md5(g::text), 32) FROM generate_series(1, 0) g"
            )
            primary.execute("CREATE TABLE IF NOT EXISTS public.seamline_browser_wal (payload text)")
            primary.execute(
                "INSERT INTO public.seamline_browser_wal"
                " SELECT repeat(md5(g::text), 32) FROM generate_series(1, 8192) g"
            )
            sample()
            page.goto(live_server.url + "/replication/")
            card = page.locator(f"#cluster-{pools_cluster.pk}")
            expect(card.locator(".status").first).to_have_text("CRIT")
            expect(card).to_contain_text("replay is paused on pt-replica")
            expect(card).to_contain_text("(CRIT at")
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
            primary.execute("DROP TABLE IF EXISTS public.seamline_browser_wal")
    from dashboard import health, pools

    def caught_up() -> bool:
        sample()
        return health.assess(pools_cluster, pools.load([pools_cluster], node=None)[pools_cluster.pk])["status"] == "OK"

    wait_for(caught_up, timeout=60, message="the replica to catch up")
    page.reload()
    expect(page.locator(f"#cluster-{pools_cluster.pk} .status").first).to_have_text("OK")


XSS = ('<script>alert("x1")</script>', '"><img src=x onerror=alert("x2")>', "<svg onload=alert('x3')>")


@pytest.fixture
def hostile_world(db, settings):
    """A database whose schema, table, column and comment carry markup, a service named with markup owning it, a
    session whose application_name and query carry markup; synced, sampled and audited."""
    from catalog import audits
    from catalog.models import Cluster, Ownership, Service
    from catalog.sync import sync_cluster
    from dashboard.nodes import PRIMARY
    from dashboard.sampling import sample_node

    from .conftest import pg

    name = "seamline_xss_test"
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    schema, table, column = XSS
    quoted = [x.replace('"', '""') for x in XSS]
    with pg(dbname=name) as conn:
        conn.execute(f'CREATE SCHEMA "{quoted[0]}"')
        conn.execute(f'CREATE TABLE "{quoted[0]}"."{quoted[1]}" ("{quoted[2]}" int)')
        comment = XSS[2].replace("'", "''")
        conn.execute(f'COMMENT ON TABLE "{quoted[0]}"."{quoted[1]}" IS \'{comment}\'')
        conn.execute(f'CREATE VIEW public.v AS SELECT * FROM "{quoted[0]}"."{quoted[1]}"')
    cluster = Cluster.objects.create(
        name=XSS[1], dsn=f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
        databases=[name],
    )  # fmt: skip
    service = Service.objects.create(name=XSS[0], team=XSS[2], application_names=[XSS[1]])
    Ownership.objects.create(service=service, cluster=cluster, database=name, schema=schema)
    sync_cluster(cluster)
    session = pg(dbname=name, application_name=XSS[1])
    literal = XSS[0].replace("'", "''")
    session.execute(f"SELECT 1 AS \"{quoted[2]}\", '{literal}' AS x")
    sample_node(cluster, PRIMARY)
    audits.run_audit(audits.start_audit(cluster, "manual", enqueue=lambda run: None).pk)
    yield cluster, service
    session.close()
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_markup_from_the_database_never_runs_in_any_page(page, live_server, hostile_world, admin_user):
    from catalog.models import Relation, Schema

    cluster, service = hostile_world
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    schema = Schema.objects.get(database__cluster=cluster, name=XSS[0])
    relation = Relation.objects.get(schema=schema)
    _plant_statement(cluster, service.name, f"SELECT {XSS[1]} FROM {XSS[2]}")  # what the Workload pages show
    urls = [
        "/", "/services/", f"/services/{service.pk}/", "/schemas/", f"/schemas/{schema.pk}/",
        f"/relations/{relation.pk}/", "/paths/", "/map/", "/pools/", f"/pools/{cluster.pk}/", "/replication/",
        f"/audits/?cluster={cluster.name}", f"/clusters/{cluster.pk}/", "/api/v1/services", "/workload/",
        f"/workload/{cluster.pk}/", f"/workload/{cluster.pk}/statements/-7/", f"/workload/{cluster.pk}/?window=6h",
    ]  # fmt: skip
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        for layer in page.locator(".figure .nsewdrag").all()[:2]:
            layer.hover()  # plotly's hover text, where names show up too
    assert dialogs == []


def _plant_statement(cluster, service: str, text: str, queryid: int = -7) -> None:
    """A statement of ``service`` in the last minutes, as the statements sampler stores one."""
    from datetime import timedelta

    from django.utils import timezone

    from dashboard import partitions
    from dashboard.models import StatementSample, StatementText

    now = timezone.now()
    partitions.ensure({partitions.day_of(now)})
    StatementText.objects.create(cluster=cluster, queryid=queryid, command="SELECT", utility=False, text=text)
    for minutes in (1, 2, 3):
        StatementSample.objects.create(
            cluster=cluster, node="primary", ended_at=now - timedelta(minutes=minutes), service=service,
            database="db", role="r", queryid=queryid, calls=3, total_ms=4.5, rows=3, shared_blks_hit=1,
            shared_blks_read=0, temp_blks_written=0, wal_bytes=0,
        )  # fmt: skip


def test_the_workload_page_draws_its_charts_and_filters_by_service(page, live_server, db, viewer):
    from catalog.models import Cluster, Service

    cluster = Cluster.objects.create(name="wl-browser", dsn="host=127.0.0.1 port=9 dbname=x")
    for queryid, name in enumerate(("orders", "billing"), start=1):
        Service.objects.create(name=name, team=f"team-{name}")
        _plant_statement(cluster, name, f"SELECT * FROM {name}_table WHERE id = $1", -queryid)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/workload/{cluster.pk}/")
    expect(page.locator(".figure:has(.main-svg)")).to_have_count(2)  # by service and by team, drawn by plotly
    expect(page.locator(".figure.error")).to_have_count(0)
    expect(page.locator("#live")).to_contain_text("orders")
    expect(page.locator("#live")).to_contain_text("billing")
    page.get_by_label("Service").select_option("billing")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#live table").first).to_contain_text("billing")
    expect(page.locator("#live table").first).not_to_contain_text("orders")
