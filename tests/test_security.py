"""Web hardening: login throttling, cookies and headers, the Content-Security-Policy in a real browser, production
mode (`check --deploy` clean, HTTPS only), and the monitoring role exactly as docs/security.md creates it."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import path as route
from django.urls import reverse
from django.utils import timezone

from . import leakwatch
from .conftest import PASSWORD, ROOT, pg, role_member

# --- login throttling (django-axes) --------------------------------------------------------------------------------


def attempt(client: Client, password: str, username: str = "vera", address: str = "127.0.0.1", **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def test_it_locks_a_username_out_from_an_address_after_five_failed_logins(client, viewer):
    for _ in range(4):
        response = attempt(client, "wrong-horse-battery")
        assert response.status_code == 200  # the form again, with its error
        assert 'role="alert"' in response.content.decode()
    locked = attempt(client, "wrong-horse-battery")
    assert locked.status_code == 429
    assert "are refused after 5 failed attempts" in locked.content.decode()
    assert "Try again in 15 min 0 s" in locked.content.decode()
    assert "登录失败次数过多" in attempt(client, PASSWORD, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    # now even the right password is refused, before it is checked
    assert attempt(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_keyed_on_username_and_address_together(client, viewer, operator):
    for _ in range(5):
        attempt(client, "wrong-horse-battery")
    assert attempt(client, PASSWORD).status_code == 429
    # the same user from another address, and another user from the same address, still get in
    assert attempt(Client(), PASSWORD, address="192.0.2.7").status_code == 302
    assert attempt(Client(), PASSWORD, username=operator.username).status_code == 302


def test_the_lockout_ends_after_the_cool_off_time(client, viewer):
    from axes.models import AccessAttempt

    for _ in range(5):
        attempt(client, "wrong-horse-battery")
    assert attempt(client, PASSWORD).status_code == 429
    assert django_settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt(client, PASSWORD).status_code == 302


def test_a_successful_login_forgets_the_earlier_failures(client, viewer):
    for _ in range(4):
        attempt(client, "wrong-horse-battery")
    assert attempt(client, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert attempt(client, "wrong-horse-battery").status_code == 200


def test_a_failed_login_is_recorded_without_its_password(client, viewer):
    from axes.models import AccessAttempt

    attempt(client, "wrong-horse-battery")
    (recorded,) = AccessAttempt.objects.all()
    assert (recorded.username, recorded.ip_address, recorded.failures_since_start) == ("vera", "127.0.0.1", 1)
    assert "wrong-horse-battery" not in recorded.post_data


# --- headers and cookies in dev mode ---------------------------------------------------------------------------------


def test_every_page_carries_the_security_headers_in_dev_mode(viewer_client):
    response = viewer_client.get(reverse("overview"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    assert "Strict-Transport-Security" not in response  # dev mode is plain http


def test_dev_mode_cookies_are_httponly_and_lax_but_not_secure(client):
    """`make run` serves plain http on 127.0.0.1: a Secure cookie would never come back."""
    cookie = client.get(reverse("login")).cookies["csrftoken"]
    assert (cookie["httponly"], cookie["samesite"], cookie["secure"]) == (True, "Lax", "")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
EVAL_ONLY_HTMX = re.compile(r"hx-on|hx-vars|js:|javascript:|hx-trigger=\"[^\"]*\[", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_needs_inline_script_or_eval():
    """What the CSP forbids: inline scripts, event handler attributes, and the htmx features that need eval."""
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVAL_ONLY_HTMX, EVENT_HANDLER):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert offenders == []


# --- production mode -------------------------------------------------------------------------------------------------

STRONG_KEY = secrets.token_urlsafe(50)


def production_env(**overrides: str) -> dict[str, str]:
    # as a server's environment would be: without conftest's DJANGO_ALLOW_ASYNC_UNSAFE (for Playwright) either
    dropped = ("SEAMLINE_DEBUG", "SEAMLINE_SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        SEAMLINE_PRODUCTION="1",
        SEAMLINE_SECRET_KEY=STRONG_KEY,
        SEAMLINE_ALLOWED_HOSTS="seamline.example.com",
        # the test database, for the subprocess that logs in
        SEAMLINE_DB_NAME=django_settings.DATABASES["default"]["NAME"],
    )
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_mode_passes_the_deployment_checks():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SEAMLINE_SECRET_KEY": ""}, "SEAMLINE_SECRET_KEY must be set"),
        ({"SEAMLINE_SECRET_KEY": "dev-only-insecure-key"}, "too weak"),
        ({"SEAMLINE_SECRET_KEY": "short-but-secret"}, "too weak"),
        ({"SEAMLINE_SECRET_KEY": "django-insecure-" + STRONG_KEY}, "too weak"),
        ({"SEAMLINE_DEBUG": "1"}, "SEAMLINE_DEBUG cannot be on"),
        ({"SEAMLINE_ALLOWED_HOSTS": ""}, "SEAMLINE_ALLOWED_HOSTS must name"),
    ],
)
def test_production_mode_refuses_to_start_without_a_real_key_and_host_names(overrides, message):
    result = run([sys.executable, "-c", "import dashboard.settings"], production_env(**overrides))
    assert result.returncode != 0
    assert message in result.stderr


# Runs in production mode: what a browser would get over http, over https, and behind the TLS-terminating proxy.
PRODUCTION_CLIENT = """
import json, sys
import django
django.setup()
from django.test import Client

def cookie(response, name):
    morsel = response.cookies[name]
    return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]), "samesite": morsel["samesite"]}

client = Client(HTTP_HOST="seamline.example.com")
out = {}
plain = client.get("/accounts/login/")
out["plain"] = [plain.status_code, plain.get("Location", "")]
out["healthz"] = client.get("/healthz").status_code
page = client.get("/accounts/login/", secure=True)
out["page"] = {
    "status": page.status_code,
    "hsts": page.get("Strict-Transport-Security", ""),
    "csp": page.get("Content-Security-Policy", ""),
    "frame": page.get("X-Frame-Options", ""),
    "csrf": cookie(page, "csrftoken"),
}
login = client.post("/accounts/login/", {"username": "vera", "password": sys.argv[1]}, secure=True)
out["login"] = {"status": login.status_code, "session": cookie(login, "sessionid")}
out["proxied"] = Client(HTTP_HOST="seamline.example.com").get(
    "/accounts/login/", HTTP_X_FORWARDED_PROTO="https"
).status_code
print(json.dumps(out))
"""


@pytest.mark.django_db(transaction=True)
def test_production_mode_sends_cookies_only_over_https_and_redirects_http(settings, django_user_model):
    # the viewer fixture's user, with its password hashed as production hashes it (MD5 would not verify there)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    role_member(django_user_model, "vera", "Viewer")
    result = run([sys.executable, "-c", PRODUCTION_CLIENT, PASSWORD], production_env())
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plain"] == [301, "https://seamline.example.com/accounts/login/"]
    assert out["healthz"] == 200  # load balancers check over plain http
    page = out["page"]
    assert page["status"] == 200
    assert page["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self';" in page["csp"] and page["frame"] == "DENY"
    assert page["csrf"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert out["login"] == {"status": 302, "session": {"secure": True, "httponly": True, "samesite": "Lax"}}
    assert out["proxied"] == 200  # X-Forwarded-Proto from the proxy counts as https: no redirect loop


# --- the monitoring role of docs/security.md ------------------------------------------------------------------------

MONITOR_ROLE = "seamline_monitor"
MONITOR_DB = "seamline_sec_test"
PASSWORD_PLACEHOLDER = "REPLACE-WITH-A-LONG-RANDOM-PASSWORD"
DATABASE_PLACEHOLDER = "your_database"


def sql_blocks(heading: str) -> list[str]:
    """The ```sql blocks of docs/security.md under the given `##`/`###` heading, up to the next heading."""
    text = (ROOT / "docs" / "security.md").read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/security.md has no heading {heading!r}"
    return re.findall(r"^```sql\n(.*?)^```$", match.group(1), re.MULTILINE | re.DOTALL)


def drop_monitor_role() -> None:
    with pg() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {MONITOR_DB} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {MONITOR_ROLE}")


@pytest.fixture
def monitor_role(db):
    """The role created exactly as docs/security.md says, with CONNECT on a database revoked from PUBLIC."""
    create, grant_connect, grant_signal = sql_blocks("The monitoring role")
    assert create.count(PASSWORD_PLACEHOLDER) == 1 and DATABASE_PLACEHOLDER in grant_connect
    drop_monitor_role()
    with pg() as admin:
        admin.execute(f"CREATE DATABASE {MONITOR_DB}")
        admin.execute(f"REVOKE CONNECT ON DATABASE {MONITOR_DB} FROM PUBLIC")
    with pg(dbname=MONITOR_DB) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute("CREATE TABLE app.items (id int PRIMARY KEY, secret text)")
    try:
        with pg() as admin:
            admin.execute(create.replace(PASSWORD_PLACEHOLDER, leakwatch.secret(secrets.token_urlsafe(24))))
            admin.execute(grant_connect.replace(DATABASE_PLACEHOLDER, MONITOR_DB))
        yield grant_signal
    finally:
        drop_monitor_role()


def test_the_documented_monitoring_role_is_limited_as_the_docs_say(monitor_role):
    import psycopg

    with pg() as admin:
        row = admin.execute(
            "SELECT rolsuper, rolconnlimit, rolconfig, pg_has_role(oid, 'pg_monitor', 'member')"
            " FROM pg_roles WHERE rolname = %s",
            [MONITOR_ROLE],
        ).fetchone()
    assert row == (
        False,
        10,
        [
            "statement_timeout=30s",
            "lock_timeout=1s",
            "idle_in_transaction_session_timeout=60s",
            "default_transaction_read_only=on",
        ],
        True,
    )
    # even a client that asks for nothing is read-only
    with pg(dbname=MONITOR_DB, user=MONITOR_ROLE) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("CREATE TABLE app.sneaky (id int)")
    with pg(dbname=MONITOR_DB, user=MONITOR_ROLE) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM app.items")


def test_seamline_samples_and_syncs_with_the_documented_monitoring_role(monitor_role):
    from catalog.models import Cluster, Relation
    from catalog.sync import sync_cluster
    from dashboard.nodes import PRIMARY
    from dashboard.sampling import sample_node

    cluster = Cluster.objects.create(
        name="sec",
        dsn=f"host={django_settings.PG_HOST} port={django_settings.PG_PORT} user={MONITOR_ROLE} dbname=postgres",
        databases=[MONITOR_DB],
    )
    snapshot = sample_node(cluster, PRIMARY)
    assert snapshot["status"] == "ok", snapshot.get("message")
    assert snapshot["sees_all_sessions"] is True  # pg_monitor: every role's sessions and queries
    sync_cluster(cluster)
    cluster.refresh_from_db()
    assert (cluster.monitor_role, cluster.monitor_role_is_superuser) == (MONITOR_ROLE, False)
    assert Relation.objects.filter(schema__database__cluster=cluster, schema__name="app", name="items").exists()


def test_the_documented_grant_lets_the_monitoring_role_cancel_another_roles_query(monitor_role):
    import threading

    import psycopg

    from catalog.monitored import connect

    from .conftest import wait_for

    with pg() as admin:
        admin.execute(monitor_role)  # GRANT pg_signal_backend
        admin.execute("DROP ROLE IF EXISTS seamline_sec_app")
        admin.execute("CREATE ROLE seamline_sec_app LOGIN")
    try:
        app = pg(user="seamline_sec_app")
        outcome: list[type] = []

        def sleep() -> None:
            try:
                app.execute("SELECT pg_sleep(60)")
            except psycopg.Error as exc:
                outcome.append(type(exc))

        thread = threading.Thread(target=sleep, daemon=True)
        thread.start()
        pid = app.info.backend_pid
        dsn = f"host={django_settings.PG_HOST} port={django_settings.PG_PORT} user={MONITOR_ROLE} dbname=postgres"
        with connect(dsn) as conn:  # Seamline's own read-only session
            wait_for(
                lambda: (
                    conn.execute("SELECT wait_event FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
                    == ("PgSleep",)
                ),
                message="the query to start",
            )
            assert conn.execute("SELECT pg_cancel_backend(%s)", [pid]).fetchone() == (True,)
        thread.join(timeout=10)
        assert outcome == [psycopg.errors.QueryCanceled]
        app.close()
    finally:
        with pg() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'seamline_sec_app'")
            admin.execute("DROP ROLE IF EXISTS seamline_sec_app")


# --- the Content-Security-Policy in Chromium -------------------------------------------------------------------------

# Records every CSP violation the page reports, from before its first script runs.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""
FIGURES_SETTLED = """() => [...document.querySelectorAll("[data-figure-url]")].every(
  (el) => el.querySelector("svg.main-svg") || el.classList.contains("error"))"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from .test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_work_under_the_csp_without_a_single_violation(
    browser, live_server, demo_catalog, pools_cluster, viewer, monkeypatch
):
    from catalog import audits
    from catalog.models import Cluster
    from dashboard import snapshots
    from dashboard.nodes import nodes_of
    from dashboard.sampling import sample_node

    monkeypatch.setattr(snapshots, "REFRESH_SECONDS", 1)  # so that an htmx refresh swaps in during each visit
    demo = Cluster.objects.get(name="demo")
    audits.run_audit(audits.start_audit(demo, "manual", enqueue=lambda run: None).pk)  # syncs: the map has a graph
    for node in nodes_of(pools_cluster):
        sample_node(pools_cluster, node.name)

    context = browser.new_context(locale="en-US")
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"{page.url}: uncaught {e}"))
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Username").fill("vera")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(live_server.url + "/")

        violations: dict[str, list[str]] = {}
        for path in ("/", f"/pools/{pools_cluster.pk}/", "/replication/", "/map/", "/audits/"):
            page.goto(live_server.url + path)
            page.wait_for_function(FIGURES_SETTLED)
            page.wait_for_timeout(1500)  # a refresh or two
            violations[path] = page.evaluate("window.__cspViolations")
            assert page.locator("[data-figure-url].error").count() == 0, path
        drawn = page.locator("[data-figure-url] svg.main-svg")
        assert drawn.count() >= 1  # /audits/ drew its chart: plotly ran under the policy
        # the modebar's camera: plotly renders the figure through an image of its own, then downloads it
        page.locator("[data-figure-url]").first.hover()
        with page.expect_download() as download:
            page.locator("[data-figure-url] .modebar-btn[data-title='Download plot as a PNG']").first.click()
        assert download.value.suggested_filename.endswith(".png")
        violations["png download"] = page.evaluate("window.__cspViolations")
        assert violations == dict.fromkeys(violations, [])
        assert console == []

        # the control: an inline script is refused, and reported as the pages' violations would have been
        page.evaluate("""() => { const s = document.createElement("script");
                                 s.textContent = "window.__inlineRan = true"; document.head.append(s); }""")
        page.wait_for_function("window.__cspViolations.length > 0")
        assert page.evaluate("window.__inlineRan") is None
        assert page.evaluate("window.__cspViolations")[0].startswith("script-src")
        assert any("Content Security Policy" in line for line in console)
    finally:
        context.close()


# --- safe defaults (issue 19) -------------------------------------------------------------------------------------

SETTINGS_PROBE = "import json, dashboard.settings as s; print(json.dumps([s.DEBUG, s.SECRET_KEY, s.PASSWORD_RESET]))"


def test_without_production_mode_debug_is_off_and_a_random_key_is_made_once_in_the_state_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SEAMLINE_DEBUG", "SEAMLINE_SECRET_KEY")}
    env["SEAMLINE_STATE_DIR"] = str(tmp_path / "state")
    first = run([sys.executable, "-c", SETTINGS_PROBE], env)
    assert first.returncode == 0, first.stderr
    debug, key, reset = json.loads(first.stdout)
    assert debug is False and reset is False and len(key) >= 50 and key != "dev-only-insecure-key"
    kept = tmp_path / "state" / "secret-key"
    assert kept.read_text() == key and (kept.stat().st_mode & 0o777) == 0o600
    assert json.loads(run([sys.executable, "-c", SETTINGS_PROBE], env).stdout)[1] == key  # read, not made again
    assert not [p for p in kept.parent.iterdir() if p.name != "secret-key"]  # no draft left behind
    other = run([sys.executable, "-c", SETTINGS_PROBE], env | {"SEAMLINE_STATE_DIR": str(tmp_path / "other")})
    assert json.loads(other.stdout)[1] != key  # each installation its own
    env["SEAMLINE_DEBUG"] = "1"  # opt-in, as `make run` does
    assert json.loads(run([sys.executable, "-c", SETTINGS_PROBE], env).stdout)[0] is True
    unwritable = env | {"SEAMLINE_DEBUG": "0", "SEAMLINE_STATE_DIR": "/proc/seamline-state"}
    refused = run([sys.executable, "-c", SETTINGS_PROBE], unwritable)
    assert refused.returncode != 0 and "set SEAMLINE_SECRET_KEY" in refused.stderr


@pytest.fixture
def redis_with_a_password(settings):
    """Redis's URL, the broker's and the result backend's, with a password in them (set outside the failing frame,
    whose source lines and locals a debug page shows)."""
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = (
        "redis://:" + "hunter2" + "-redis@127.0.0.1:6381/0"
    )
    return settings


def test_an_error_report_hides_every_setting_that_can_carry_a_secret(rf, redis_with_a_password):
    redis_with_a_password.DEBUG = True
    from django.views import debug

    try:
        raise RuntimeError("forced")
    except RuntimeError:
        page = debug.technical_500_response(rf.get("/"), *sys.exc_info()).content.decode()
    assert "REDIS_URL" in page and "CELERY_BROKER_URL" in page  # listed, their values hidden
    password = "hunter2" + "-redis"  # named after the page was made: not among the frame's variables it shows
    assert password not in page


def _forced_500(request):
    raise RuntimeError("forced")


urlpatterns = [route("forced-500", _forced_500)]  # this module as a URLconf: a view that fails


def test_a_forced_500_with_debug_off_shows_nothing_of_the_settings(viewer_client, redis_with_a_password):
    redis_with_a_password.ROOT_URLCONF = __name__
    viewer_client.raise_request_exception = False
    response = viewer_client.get("/forced-500")
    assert response.status_code == 500
    body = response.content.decode()
    assert "hunter2-redis" not in body and "REDIS_URL" not in body and "Traceback" not in body


def test_password_reset_is_served_only_when_mail_is_configured(client):
    from dashboard.urls import RESET, account_urls

    assert not django_settings.PASSWORD_RESET  # no mail server named here
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.get(reverse("login")).status_code == 200
    assert {p.name for p in account_urls(reset=True)} >= RESET
    assert not RESET & {p.name for p in account_urls(reset=False)}


def test_the_application_role_cannot_rewrite_the_action_log(django_db_setup):
    """docs/security.md's layout, run as written: the application's role inserts and reads the log, and nothing else."""
    (layout,) = sql_blocks("The action log, append-only for real")
    import psycopg

    database = django_settings.DATABASES["default"]["NAME"]
    with pg(dbname=database) as admin:
        admin.execute("DROP ROLE IF EXISTS seamline_audit")
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'seamline'").fetchone():
            admin.execute("CREATE ROLE seamline LOGIN")
        admin.execute(layout)
    try:
        with pg(dbname=database, user="seamline") as app:
            app.execute(
                'INSERT INTO dashboard_actionlog (at, "user", cluster, node, pid, backend_start, service, query,'
                " action, reason, result) VALUES (now(), 'olga', 'pt', 'primary', 7, 't', '', '', 'cancel', '', 'x')"
            )
            assert app.execute("SELECT count(*) FROM dashboard_actionlog").fetchone()[0] >= 1
            for statement in (
                "UPDATE dashboard_actionlog SET result = 'rewritten'",
                "DELETE FROM dashboard_actionlog",
                "TRUNCATE dashboard_actionlog",
                "ALTER TABLE dashboard_actionlog DISABLE TRIGGER dashboard_actionlog_append_only",
                "ALTER TABLE dashboard_actionlog OWNER TO seamline",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(statement)
        with pg(dbname=database) as admin:
            results = [r for (r,) in admin.execute("SELECT result FROM dashboard_actionlog").fetchall()]
        assert "x" in results and "rewritten" not in results
    finally:
        with pg(dbname=database) as admin:
            admin.execute("TRUNCATE dashboard_actionlog")  # the row this test committed (only an owner may)
            admin.execute("ALTER TABLE dashboard_actionlog OWNER TO CURRENT_USER")
            admin.execute("ALTER FUNCTION dashboard_actionlog_append_only() OWNER TO CURRENT_USER")
            admin.execute("REVOKE ALL ON dashboard_actionlog FROM seamline")
            admin.execute("REVOKE ALL ON SEQUENCE dashboard_actionlog_id_seq FROM seamline")
            admin.execute("DROP OWNED BY seamline_audit")
            admin.execute("DROP ROLE IF EXISTS seamline_audit")
            admin.execute("DROP OWNED BY seamline")
            admin.execute("DROP ROLE IF EXISTS seamline")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://x.test/"])
def test_only_http_links_are_made_of_catalog_data(viewer_client, url):
    from catalog import catalog_file
    from catalog.models import Service

    service = Service.objects.create(name="linked", repository_url=url)  # stored before the rule, or by the ORM
    page = viewer_client.get(f"/services/{service.pk}/").content.decode()
    assert 'href="javascript' not in page and 'href="data:' not in page and 'href="ftp:' not in page
    with pytest.raises(catalog_file.CatalogFileError) as refused:
        catalog_file.load(f"clusters: []\nservices: [{{name: s, repository_url: '{url}'}}]\n")
    assert "services[0].repository_url: must be an http:// or https:// URL" in refused.value.problems
    Service.objects.filter(pk=service.pk).update(repository_url="https://git.example.com/linked")
    assert 'href="https://git.example.com/linked"' in viewer_client.get(f"/services/{service.pk}/").content.decode()
