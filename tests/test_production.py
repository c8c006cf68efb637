"""The production layout of docs/deploy.md, run locally against the test stack: the commands of the systemd units in
deploy/ (gunicorn, a sampling worker and an audits worker on queues of their own, one beat) with the environment of
deploy/seamline.env.example, reached the way nginx reaches gunicorn. Sampling, a sync and an audit complete, each on
its own worker. And the deployment files themselves: systemd-analyze, promtool, gunicorn --check-config."""

from __future__ import annotations

import getpass
import http.client
import importlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.test import RequestFactory

from dashboard.celery import QUEUE_SETTINGS
from dashboard.celery import app as celery_app

from .conftest import PASSWORD, free_port, role_member, wait_for

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROOT = DEPLOY.parent
INSTALL_DIR = "/opt/seamline/current"  # where the units, nginx and docs/deploy.md put a release
ENV_FILE = DEPLOY / "seamline.env.example"
HOST = "seamline.example.com"  # SEAMLINE_ALLOWED_HOSTS of the example environment
TAG = f"prodtest-{os.getpid()}"  # queues and worker names of this test only: the suite's own worker never takes them


def env_file() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if re.match(r"^[A-Z_]+=", line))
    return dict(pairs)


def exec_start(unit: str, env: dict[str, str], instance: str = "1") -> list[str]:
    """The unit's ExecStart as systemd would run it: specifiers and ${VARIABLES} expanded, the install directory
    replaced by this checkout."""
    text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
    (line,) = [line.removeprefix("ExecStart=") for line in text.splitlines() if line.startswith("ExecStart=")]
    line = line.replace("%i", instance).replace("%H", socket.gethostname())
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return [arg.replace(INSTALL_DIR, str(ROOT)) for arg in shlex.split(line)]


class Browser:
    """A browser on https://seamline.example.com as gunicorn sees it through nginx (deploy/nginx/seamline.conf): the
    proxy's Host, X-Forwarded-Proto and X-Real-IP headers. Cookies are kept by hand: they are Secure, and the browser
    is on https even though this hop is plain http."""

    def __init__(self, port: int, address: str = "198.51.100.10", https: bool = True) -> None:
        self.port, self.address, self.https = port, address, https
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        sent = {"Host": HOST, "X-Real-IP": self.address, **(headers or {})}
        if self.https:
            sent["X-Forwarded-Proto"] = "https"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            body = urlencode(data or {}).encode()
            sent.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{HOST}"})
            sent.setdefault("X-CSRFToken", self.cookies.get("csrftoken", ""))
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body, sent)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response, text

    def get(self, path: str, **headers: str):
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict | None = None):
        return self.request("POST", path, data)

    def log_in(self, username: str, password: str):
        page, _ = self.get("/accounts/login/")
        assert page.status == 200
        response, _ = self.post("/accounts/login/", {"username": username, "password": password})
        return response


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """deploy/seamline.env.example with its placeholders filled in for the test stack, as a server's environment:
    none of the test run's own SEAMLINE_* variables, nor conftest's DJANGO_ALLOW_ASYNC_UNSAFE."""
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(env_file())
    env.update(
        SEAMLINE_SECRET_KEY=secrets.token_urlsafe(50),
        SEAMLINE_DB_HOST=db["HOST"],
        SEAMLINE_DB_PORT=str(db["PORT"]),
        SEAMLINE_DB_NAME=db["NAME"],
        SEAMLINE_DB_USER=db["USER"],
        SEAMLINE_DB_PASSWORD=db["PASSWORD"],
        SEAMLINE_REDIS_URL=settings.REDIS_URL,
        SEAMLINE_SAMPLING_QUEUE=f"{TAG}-sampling",
        SEAMLINE_AUDIT_QUEUE=f"{TAG}-audits",
        SEAMLINE_SYNC_QUEUE=f"{TAG}-audits",
        SEAMLINE_STATEMENTS_QUEUE=f"{TAG}-statements",
        SEAMLINE_SAMPLING_CONCURRENCY="2",
        SEAMLINE_AUDITS_CONCURRENCY="1",
        SEAMLINE_FERNET_KEYS="",
        SEAMLINE_METRICS_TOKEN=secrets.token_urlsafe(32),
        SEAMLINE_WEB_WORKERS="2",
        SEAMLINE_STATIC_ROOT=str(tmp_path / "static"),
        PYTHONUNBUFFERED="1",
    )
    assert not [k for k, v in env.items() if "REPLACE-" in v], "a placeholder of the example environment is left"
    return env


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def tails(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-2000:]}" for name in self.procs)

    def alive(self) -> None:
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        assert not dead, f"{dead} exited early\n{self.tails()}"

    def stop(self) -> None:
        print(self.tails())  # shown by pytest when the test fails
        # beat first, so that nothing new is queued; TERM is what systemd sends (warm shutdown, graceful for gunicorn)
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(transactional_db, tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


def start_web(processes: Processes, env: dict[str, str]) -> int:
    port = free_port()
    processes.start("web", [*exec_start("seamline-web.service", env), "--bind", f"127.0.0.1:{port}"], env)

    def healthy() -> bool:
        processes.alive()
        try:
            return Browser(port, https=False).get("/healthz")[0].status == 200
        except OSError:
            return False

    wait_for(healthy, timeout=30, message="gunicorn to answer /healthz")
    return port


def worker_stats(name: str) -> dict:
    """The worker's own count of the tasks it ran, by task name (Celery's remote control)."""
    replies = celery_app.control.inspect(destination=[name], timeout=2).stats() or {}
    return (replies.get(name) or {}).get("total", {})


def create_operator(django_user_model, settings) -> None:
    """The operator fixture's user, with its password hashed as production hashes it (the fixture's fast MD5 hash
    would not verify under production settings)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # what production checks
    role_member(django_user_model, "olga", "Operator")


# --- the production layout at work ---------------------------------------------------------------------------------


def test_the_production_layout_samples_syncs_and_audits_on_workers_of_their_own(
    processes, production_env, demo_databases, demo_catalog, django_user_model, settings
):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from catalog.models import AuditRun, Cluster, SyncRun
    from dashboard.models import NodeSample

    env = production_env
    create_operator(django_user_model, settings)
    # the schedule the migrations create (an earlier transactional test's flush may have removed it)
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="Sample every node that is due",
        defaults={"task": "dashboard.tasks.dispatch_sampling", "interval": every_second, "expire_seconds": 2},
    )
    cluster = Cluster.objects.get(name="demo")
    # as docs/deploy.md does it: seamline-manage, with the environment file (here as the test's own user)
    env_path = processes.logs / "seamline.env"
    env_path.write_text("".join(f"{k}={v}\n" for k, v in env.items() if k.startswith("SEAMLINE_")))
    manage_env = {k: v for k, v in env.items() if not k.startswith("SEAMLINE_")}
    manage_env.update(SEAMLINE_RELEASE=str(ROOT), SEAMLINE_ENV_FILE=str(env_path), SEAMLINE_USER=getpass.getuser())
    collected = subprocess.run(
        [str(DEPLOY / "seamline-manage"), "collectstatic", "--noinput", "-v0"], env=manage_env, capture_output=True
    )
    assert collected.returncode == 0, collected.stderr

    port = start_web(processes, env)
    host = socket.gethostname()
    sampler, auditor = f"sampling-1@{host}", f"audits-1@{host}"
    processes.start("worker-sampling", exec_start("seamline-worker-sampling@.service", env), env)
    processes.start("worker-audits", exec_start("seamline-worker-audits@.service", env), env)
    processes.start("beat", exec_start("seamline-beat.service", env), env)

    browser = Browser(port)
    login = browser.log_in("olga", PASSWORD)
    assert (login.status, login.getheader("Location")) == (302, "/"), processes.tails()
    response, _ = browser.post(f"/clusters/{cluster.pk}/sync")
    assert response.status == 302, processes.tails()
    response, _ = browser.post(f"/clusters/{cluster.pk}/audit")
    assert response.status == 302, processes.tails()

    # sampling: beat -> dispatch on the sampling worker -> a sample of each node, history rows and a fresh snapshot
    def sampled() -> bool:
        processes.alive()
        nodes = set(NodeSample.objects.filter(cluster=cluster, reachable=True).values_list("node", flat=True))
        return nodes == {"primary", "demo-replica-1"}

    wait_for(sampled, timeout=40, message="beat and the sampling worker to sample both nodes")

    def finished(model):
        def done():
            processes.alive()
            return model.objects.filter(cluster=cluster, finished_at__isnull=False).first()

        return done

    sync = wait_for(finished(SyncRun), timeout=40, message="the audits worker to run the sync")
    assert sync.status == SyncRun.Status.OK, sync.error
    audit = wait_for(finished(AuditRun), timeout=40, message="the audits worker to run the audit")
    assert audit.status == AuditRun.Status.SUCCEEDED, audit.error

    # each job ran on the worker of its queue, and only there
    sampling_ran = wait_for(lambda: worker_stats(sampler), timeout=20, message="the sampling worker's stats")
    audits_ran = wait_for(lambda: worker_stats(auditor), timeout=20, message="the audits worker's stats")
    assert {"dashboard.tasks.dispatch_sampling", "dashboard.tasks.sample_node"} <= set(sampling_ran), sampling_ran
    assert {"catalog.tasks.sync_task", "catalog.tasks.audit_task"} <= set(audits_ran), audits_ran
    assert not any(name.startswith("catalog.") for name in sampling_ran)
    # the audits workers take the statements samples too (their own queue: deploy/seamline.env.example)
    assert not any(name.startswith("dashboard.") for name in audits_ran if name != "dashboard.tasks.sample_statements")

    # what Prometheus scrapes (deploy/prometheus/prometheus.yml): the fresh snapshots of both nodes
    job = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"][0]
    metrics, body = browser.get(job["metrics_path"], Authorization=f"Bearer {env['SEAMLINE_METRICS_TOKEN']}")
    assert metrics.status == 200
    for node in ("primary", "demo-replica-1"):
        assert f'seamline_node_up{{cluster="demo",node="{node}"}} 1.0' in body
        age = re.search(rf'seamline_snapshot_age_seconds{{cluster="demo",node="{node}"}} (\S+)', body)
        assert age and float(age.group(1)) < 30

    # the pages say so too
    _, page = browser.get(f"/clusters/{cluster.pk}/")
    assert "Synced" in page
    response, page = browser.get(f"/audits/?cluster={cluster.name}")
    assert response.status == 200 and cluster.name in page

    # static files: gunicorn serves none (debug is off), nginx serves them from what collectstatic wrote
    response, page = browser.get(f"/pools/{cluster.pk}/")
    assert response.status == 200
    static = set(re.findall(r'(?:src|href)="/static/([^"?#]+)', page))
    assert {"css/seamline.css", "vendor/plotly/plotly.min.js"} <= static
    assert [path for path in static if not (Path(env["SEAMLINE_STATIC_ROOT"]) / path).is_file()] == []
    assert browser.get("/static/css/seamline.css")[0].status == 404
    alias = re.search(r"location /static/ \{\s*alias (\S+);", (DEPLOY / "nginx" / "seamline.conf").read_text())
    assert alias and Path(alias.group(1).replace(INSTALL_DIR, str(ROOT))) == ROOT / "staticfiles"

    # production mode: plain http is sent to https (but /healthz), https pages carry HSTS
    plain = Browser(port, https=False)
    assert plain.get("/accounts/login/")[0].getheader("Location") == f"https://{HOST}/accounts/login/"
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=300;")
    secrets_in_env = [env["SEAMLINE_SECRET_KEY"], env["SEAMLINE_METRICS_TOKEN"], PASSWORD]
    processes.stop()
    for name in processes.procs:
        log = processes.log(name)
        assert not [s for s in secrets_in_env if s in log], f"a secret in the {name} log"
        assert "Traceback" not in log, log[-3000:]


def test_behind_the_proxy_a_lockout_is_the_attackers_address_not_everyones(
    processes, production_env, django_user_model, settings
):
    create_operator(django_user_model, settings)
    port = start_web(processes, production_env)
    attacker, colleague = Browser(port, address="203.0.113.66"), Browser(port, address="198.51.100.10")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attacker.log_in("olga", "wrong password").status == 200
    assert attacker.log_in("olga", "wrong password").status == 429
    assert attacker.log_in("olga", PASSWORD).status == 429
    # without the proxy's X-Real-IP, every request would come from the same address: the colleague locked out too
    assert colleague.log_in("olga", PASSWORD).status == 302


# --- routing -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "setting"),
    [
        ("dashboard.tasks.dispatch_sampling", "SAMPLING_QUEUE"),
        ("dashboard.tasks.sample_node", "SAMPLING_QUEUE"),
        ("dashboard.tasks.prune_history", "SAMPLING_QUEUE"),
        ("dashboard.tasks.sample_statements", "STATEMENTS_QUEUE"),
        ("catalog.tasks.sync_task", "SYNC_QUEUE"),
        ("catalog.tasks.sync_all_clusters", "SYNC_QUEUE"),
        ("catalog.tasks.audit_task", "AUDIT_QUEUE"),
        ("catalog.tasks.audit_all_clusters", "AUDIT_QUEUE"),
    ],
)
def test_sampling_syncs_and_audits_are_sent_to_the_queues_the_settings_name(task, setting, settings):
    setattr(settings, setting, f"{TAG}-{setting.lower()}")
    importlib.import_module(task.rsplit(".", 1)[0])  # as a worker's autodiscovery would
    assert task in celery_app.tasks and QUEUE_SETTINGS[task] == setting
    assert celery_app.amqp.router.route({}, task, (), {})["queue"].name == f"{TAG}-{setting.lower()}"


def test_other_tasks_go_to_celerys_default_queue_which_the_sampling_workers_consume():
    assert celery_app.amqp.router.route({}, "dashboard.tasks.ping", (), {})["queue"].name == "celery"
    args = exec_start("seamline-worker-sampling@.service", env_file())
    assert args[args.index("--queues") + 1].split(",") == ["sampling", "celery"]
    args = exec_start("seamline-worker-audits@.service", env_file())
    assert args[args.index("--queues") + 1].split(",") == ["audits", "audits", "statements"]


def test_by_default_syncs_share_the_audits_queue_and_its_workers_take_statements_samples():
    queues = (settings.SAMPLING_QUEUE, settings.AUDIT_QUEUE, settings.SYNC_QUEUE, settings.STATEMENTS_QUEUE)
    assert queues == ("sampling", "audits", "audits", "statements")


# --- the client's address behind the proxy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "remote_addr"),
    [("203.0.113.5", "203.0.113.5"), ("2001:db8::1", "2001:db8::1"), ("", "10.0.0.1"), ("not an address", "10.0.0.1")],
)
def test_the_client_address_header_becomes_remote_addr_when_it_holds_an_address(header, remote_addr, settings):
    from dashboard.middleware import ClientAddressMiddleware

    settings.CLIENT_IP_HEADER = "X-Real-IP"
    seen = []
    middleware = ClientAddressMiddleware(lambda request: seen.append(request.META["REMOTE_ADDR"]))
    middleware(RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP=header))
    assert seen == [remote_addr]


def test_without_a_client_address_header_the_middleware_stays_out(settings):
    from django.core.exceptions import MiddlewareNotUsed

    from dashboard.middleware import ClientAddressMiddleware

    settings.CLIENT_IP_HEADER = ""
    with pytest.raises(MiddlewareNotUsed):
        ClientAddressMiddleware(lambda request: None)


# --- the deployment files ------------------------------------------------------------------------------------------


def test_every_variable_of_the_example_environment_is_read_by_seamline_or_a_unit():
    readers = "".join(
        p.read_text() for p in [ROOT / "dashboard" / "settings.py", DEPLOY / "gunicorn.conf.py"]
    ) + "".join(p.read_text() for p in (DEPLOY / "systemd").iterdir())
    documented = (ROOT / "docs" / "deploy.md").read_text()
    for name in env_file():
        assert f'"{name}"' in readers or "${" + name + "}" in readers, f"{name} is read by nothing"
        assert f"`{name}`" in documented, f"{name} is not in docs/deploy.md"


def test_the_monitoring_role_sql_is_the_one_docs_security_tests():
    security = (ROOT / "docs" / "security.md").read_text()
    blocks = re.findall(r"^```sql\n(.*?)^```$", (ROOT / "docs" / "deploy.md").read_text(), re.MULTILINE | re.DOTALL)
    monitor = [block for block in blocks if "seamline_monitor" in block]
    assert monitor and all(block in security for block in monitor)


def test_the_systemd_units_pass_systemd_analyze(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: `make test` installs it (package systemd)"
    units = []
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace(INSTALL_DIR, str(ROOT)).replace("/etc/seamline/seamline.env", str(ENV_FILE))
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name.replace("@.", "@1.")))
        if "@." in unit.name:
            (tmp_path / unit.name.replace("@.", "@1.")).symlink_to(tmp_path / unit.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    beat = [u.name for u in (DEPLOY / "systemd").iterdir() if "beat" in u.name]
    assert beat == ["seamline-beat.service"]  # one unit, not a template: exactly one beat


def test_the_prometheus_configuration_passes_promtool(tmp_path):
    token = tmp_path / "token"
    token.write_text("a-token\n")
    for path in (DEPLOY / "prometheus").iterdir():
        text = path.read_text().replace("/etc/prometheus/seamline-metrics-token", str(token))
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "rules found" in result.stdout


def test_the_gunicorn_configuration_checks(production_env):
    result = subprocess.run(
        [*exec_start("seamline-web.service", production_env), "--check-config"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_loading_the_wsgi_application_does_what_a_first_request_would(production_env):
    """gunicorn preloads the application and forks its workers from it: the views, the URL index, the templates and
    both languages are ready in the parent, so no worker's first request pays for them (550-740 ms measured)."""
    probe = (
        "import sys, dashboard.wsgi\n"
        "from django.template import engines\n"
        "from django.urls import get_resolver\n"
        "loader = engines['django'].engine.template_loaders[0]\n"
        "print('catalog.views.map' in sys.modules, get_resolver()._populated, len(loader.get_template_cache))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=production_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    imported, indexed, templates = result.stdout.split()
    assert imported == indexed == "True"
    assert int(templates) >= len(list((ROOT / "templates").rglob("*.html")))
