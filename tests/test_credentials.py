"""Cluster credentials: encrypted at rest with Fernet, or named by an environment variable; never shown."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from catalog import catalog_file
from catalog.credentials import decrypt_password, password_for
from catalog.errors import CredentialsError
from catalog.models import Cluster
from catalog.monitored import connection_params

from . import leakwatch

SECRET = leakwatch.secret("pa55-w0rd-that-must-never-show")


@pytest.fixture
def keys(settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="lab", dsn="host=127.0.0.1 port=9 user=monitor dbname=postgres")


def test_it_stores_a_password_encrypted_and_reads_it_back(keys, cluster):
    call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET + "\n"))
    cluster.refresh_from_db()
    assert SECRET not in cluster.encrypted_password
    assert password_for(cluster) == SECRET


def test_it_rotates_to_a_new_key(keys, cluster):
    call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET))
    old_key = keys.FERNET_KEYS[0]
    new_key = Fernet.generate_key().decode()
    keys.FERNET_KEYS = [new_key, old_key]
    call_command("rotate_credentials")
    keys.FERNET_KEYS = [new_key]  # the old key is gone: the rotated token must still open
    cluster.refresh_from_db()
    assert decrypt_password(cluster.encrypted_password) == SECRET


def test_rotation_with_a_wrong_key_changes_nothing(keys, cluster):
    call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET))
    cluster.refresh_from_db()
    token = cluster.encrypted_password
    keys.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_credentials")
    cluster.refresh_from_db()
    assert cluster.encrypted_password == token


def test_storing_without_a_key_fails_closed(settings, cluster):
    settings.FERNET_KEYS = []
    with pytest.raises(CommandError, match="SEAMLINE_FERNET_KEYS"):
        call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET))


def test_a_password_from_the_environment(monkeypatch, cluster):
    monkeypatch.setenv("LAB_PGPASSWORD", SECRET)
    cluster.password_env = "LAB_PGPASSWORD"
    assert password_for(cluster) == SECRET
    monkeypatch.delenv("LAB_PGPASSWORD")
    with pytest.raises(CredentialsError, match="LAB_PGPASSWORD"):
        password_for(cluster)


def test_the_password_never_shows_in_errors_pages_or_exports(keys, cluster, admin_user, client, monkeypatch):
    call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET))
    cluster.refresh_from_db()
    assert cluster.encrypted_password
    # an unreachable server: the error names the server, not the password
    with pytest.raises(CommandError) as info:
        call_command("sync", "lab")
    assert SECRET not in str(info.value)
    assert SECRET not in catalog_file.dump(catalog_file.export())
    client.force_login(admin_user)
    for url in (reverse("cluster", args=[cluster.pk]), reverse("admin:catalog_cluster_change", args=[cluster.pk])):
        body = client.get(url).content.decode()
        assert SECRET not in body
        assert cluster.encrypted_password not in body


def test_monitored_sessions_are_read_only_with_timeouts(settings):
    params = connection_params("host=db port=5432 dbname=app options='-c work_mem=4MB'", "pw")
    assert params["connect_timeout"] == settings.MONITOR_CONNECT_TIMEOUT
    assert "-c work_mem=4MB" in params["options"]
    for guard in ("default_transaction_read_only=on", "statement_timeout=", "lock_timeout="):
        assert guard in params["options"]
    assert params["application_name"] == "seamline"


SAMPLING_AND_THRESHOLDS = (
    "sample_interval",
    "idle_in_transaction_threshold",
    "long_query_threshold",
    "statements_interval",
    "statements_database",
    "lag_warn_seconds",
    "lag_crit_seconds",
    "lag_warn_bytes",
    "lag_crit_bytes",
    "slot_crit_bytes",
    "prepared_warn_seconds",
    "prepared_crit_seconds",
    "horizon_warn_seconds",
    "horizon_crit_seconds",
    "horizon_warn_xids",
    "horizon_crit_xids",
    "wraparound_warn_pct",
    "wraparound_crit_pct",
)


def test_an_admin_sets_and_clears_the_password_without_seeing_it(keys, cluster, admin_user, client):
    client.force_login(admin_user)
    url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
    form = {
        "name": "lab",
        "dsn": cluster.dsn,
        "password_env": "",
        "databases": "",
        **{f: getattr(cluster, f) for f in SAMPLING_AND_THRESHOLDS},
        "new_password": SECRET,
        "replicas-TOTAL_FORMS": "0",
        "replicas-INITIAL_FORMS": "0",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    cluster.refresh_from_db()
    assert password_for(cluster) == SECRET
    body = client.get(url).content.decode()
    assert SECRET not in body and cluster.encrypted_password not in body
    client.post(url, {**form, "new_password": "", "clear_password": "on"})
    cluster.refresh_from_db()
    assert cluster.encrypted_password == ""


def test_an_admin_edits_the_sampling_interval_and_the_thresholds(cluster, admin_user, client):
    client.force_login(admin_user)
    url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
    form = {
        "name": cluster.name,
        "dsn": cluster.dsn,
        "password_env": "",
        "databases": "",
        **{f: getattr(cluster, f) for f in SAMPLING_AND_THRESHOLDS},
        "sample_interval": 15,
        "lag_warn_seconds": 45,
        "prepared_warn_seconds": 120,
        "replicas-TOTAL_FORMS": "0",
        "replicas-INITIAL_FORMS": "0",
    }
    assert client.post(url, form).status_code == 302
    cluster.refresh_from_db()
    assert (cluster.sample_interval, cluster.lag_warn_seconds, cluster.prepared_warn_seconds) == (15, 45, 120)
    form["sample_interval"] = 0  # at least a second
    assert client.post(url, form).status_code == 200
    form["sample_interval"], form["wraparound_warn_pct"] = 15, 101  # a percentage
    assert client.post(url, form).status_code == 200


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("host=x password=s3cret-value dbname=y", "carries a password"),
        ("postgresql://u:s3cret-value@h/db", "carries a password"),
        ("host=x sslpassword=s3cret-value", "carries a sslpassword"),
        ("host=x frobnicate=1", 'invalid connection option "frobnicate"'),
        ("host=x dbname='unterminated", "unterminated quoted string"),
        ("host=x password=s3cret-value dbname='unterminated", "unterminated quoted string"),  # unparsable and secret
    ],
)
def test_a_dsn_with_a_secret_or_unparsable_is_refused_everywhere_without_echoing_it(
    cluster, admin_user, client, tmp_path, capsys, dsn, problem
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    client.force_login(admin_user)
    url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
    form = {
        "name": cluster.name,
        "dsn": dsn,
        "password_env": "",
        "databases": "",
        **{f: getattr(cluster, f) for f in SAMPLING_AND_THRESHOLDS},
        "replicas-TOTAL_FORMS": "0",
        "replicas-INITIAL_FORMS": "0",
    }
    response = client.post(url, form)
    from html import escape

    page = response.content.decode()
    assert response.status_code == 200 and escape(problem) in page
    assert "s3cret-value" not in page and cluster.dsn in page  # the stored DSN is shown again, not the refused one
    cluster.refresh_from_db()
    assert cluster.dsn != dsn
    replica = client.post(
        url,
        form
        | {
            "dsn": cluster.dsn,
            "replicas-TOTAL_FORMS": "1",
            "replicas-0-name": "r1",
            "replicas-0-dsn": dsn,
        },
    ).content.decode()
    assert escape(problem) in replica and "s3cret-value" not in replica and not cluster.replicas.exists()
    path = tmp_path / "catalog.yaml"
    path.write_text(f'clusters:\n  - {{name: c, dsn: "{dsn}"}}\nservices: []\n')
    with pytest.raises(CommandError):
        call_command("import_catalog", str(path))
    err = capsys.readouterr().err
    assert problem in err and "s3cret-value" not in err
