"""After the rest of the suite: no password it gave Seamline shows in what Seamline logged or served.

Runs last (the ``last`` marker). It first makes traffic of its own — a cluster with a stored password and one whose
password comes from the environment, both unreachable so that their errors are logged, then every page, export and
API view that names them — so that it checks something even when run alone, and proves the record is being kept.
"""

from __future__ import annotations

import io
import os

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from catalog.models import Cluster
from catalog.sync_runs import run_sync, start_sync
from dashboard.models import ApiToken
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

from . import leakwatch
from .conftest import ROOT

pytestmark = [pytest.mark.last, pytest.mark.django_db]

STORED = leakwatch.secret("stored-Pa55word-never-to-be-seen")
FROM_ENV = leakwatch.secret("env-Pa55word-never-to-be-seen")


def test_no_password_shows_in_any_log_page_or_export(admin_user, client, settings, monkeypatch):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    settings.MONITOR_CONNECT_TIMEOUT = 1
    monkeypatch.setenv("SEAMLINE_CLUSTER_PASSWORD_LEAK_TEST", FROM_ENV)
    stored = Cluster.objects.create(name="leak-stored", dsn="host=127.0.0.1 port=9 user=monitor dbname=postgres")
    call_command("set_cluster_password", "leak-stored", "--stdin", input_stream=io.StringIO(STORED))
    env = Cluster.objects.create(
        name="leak-env",
        dsn="host=127.0.0.1 port=9 user=monitor dbname=postgres",
        password_env="SEAMLINE_CLUSTER_PASSWORD_LEAK_TEST",
    )
    stored.refresh_from_db()
    token = stored.encrypted_password  # the ciphertext is not for showing either
    for cluster in (stored, env):
        sample_node(cluster, PRIMARY)  # unreachable: logged with its error
        with monkeypatch.context() as mp:
            mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: None)  # run here, not queued
            run_sync(start_sync(cluster, requested_by="leak-test").pk)
    client.force_login(admin_user)
    bearer = leakwatch.secret(ApiToken.objects.issue(admin_user, "leak-test")[1])  # a token is a password too
    api = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"}
    exports = io.StringIO()
    call_command("export_catalog", stdout=exports)
    (leakwatch.folder() / "export_catalog.yaml").write_text(exports.getvalue(), encoding="utf-8")
    for cluster in (stored, env):
        for url in (
            "/",
            f"/clusters/{cluster.pk}/",
            "/pools/",
            f"/pools/{cluster.pk}/",
            "/replication/",
            "/audits/",
            "/actions.csv",
            f"/admin/catalog/cluster/{cluster.pk}/change/",
            "/admin/catalog/cluster/",
            "/admin/catalog/syncrun/",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            if response.streaming:  # read, so that the leak check sees it
                b"".join(response.streaming_content)
        for url in ("/api/v1/clusters", f"/api/v1/pools/{cluster.name}", "/api/v1/health", "/metrics"):
            assert client.get(url, **api).status_code == 200, url

    kept = {path.name: path.read_text(encoding="utf-8", errors="replace") for path in leakwatch.folder().iterdir()}
    kept.pop("secrets.txt")
    kept |= postgres_logs()
    # the record is being kept: this test's own traffic and errors are in it
    assert "/admin/catalog/cluster/" in kept["responses.txt"] and "leak-env" in kept["responses.txt"]
    assert "sampling leak-stored/primary: unreachable" in kept["test-process.log"]
    assert "leak-stored" in kept["export_catalog.yaml"]
    secrets = leakwatch.secrets() | {token}
    assert {STORED, FROM_ENV} <= secrets
    leaks = {(secret, name) for secret in secrets for name, text in kept.items() if secret in text}
    assert not leaks, f"passwords found in: {sorted(name for _, name in leaks)}"


def postgres_logs() -> dict[str, str]:
    """The test stack's server logs: Seamline never puts a password into a statement, not even one that fails."""
    state = ROOT / os.environ.get("SEAMLINE_STATE_DIR", ".teststack")  # an absolute path stays itself
    return {
        f"postgres/{log.name}": log.read_text(encoding="utf-8", errors="replace")
        for log in (state / "pg" / "log").glob("*.log")
    }
