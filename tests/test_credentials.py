"""Cluster credentials: encrypted at rest with Fernet, or named by an environment variable; never shown."""

from __future__ import annotations

import io
import re
import socket
import struct
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from psycopg.conninfo import conninfo_to_dict

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
    monkeypatch.setenv("SEAMLINE_CLUSTER_PASSWORD_LAB", SECRET)
    cluster.password_env = "SEAMLINE_CLUSTER_PASSWORD_LAB"
    assert password_for(cluster) == SECRET
    monkeypatch.delenv("SEAMLINE_CLUSTER_PASSWORD_LAB")
    with pytest.raises(CredentialsError, match="SEAMLINE_CLUSTER_PASSWORD_LAB"):
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
    "auth",
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
        ("host=x s3cret-value=1", "not a valid libpq connection string (an unknown connection option)"),
        ("host=x s3cret-value", 'not a valid libpq connection string (a keyword without "=")'),
        ("host=x oauth_client_secret=s3cret-value", "carries a oauth_client_secret"),
        ("host=x hostaddr=10.9.9.9", "uses hostaddr: name the server with host and port only"),
        ("host=x service=s3cret-value", "uses service: name the server with host and port only"),
        ("host=x passfile=/tmp/s3cret-value", "uses passfile: name the server with host and port only"),
        ("host=x,y port=5432", "names several hosts: give each node its own DSN with one host and port"),
        ("postgresql://x:5432,y:5433/db", "names several hosts"),
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


def admin_form(cluster: Cluster, **changes) -> dict:
    """The cluster's change form as the admin posts it, with ``changes``; replicas as ``replicas=[(name, dsn)]``."""
    replicas = changes.pop("replicas", [])
    form = {
        "name": cluster.name,
        "dsn": cluster.dsn,
        "password_env": "",
        "databases": "",
        **{f: getattr(cluster, f) for f in SAMPLING_AND_THRESHOLDS},
        "replicas-TOTAL_FORMS": str(len(replicas)),
        "replicas-INITIAL_FORMS": "0",
        **changes,
    }
    for i, (name, dsn) in enumerate(replicas):
        form[f"replicas-{i}-name"], form[f"replicas-{i}-dsn"] = name, dsn
    return form


@pytest.mark.parametrize(
    "change",
    [
        {"dsn": "host=203.0.113.9 port=9 user=monitor dbname=postgres"},  # the host
        {"dsn": "host=127.0.0.1 port=6543 user=monitor dbname=postgres"},  # the port
        {"dsn": "host=127.0.0.1 port=9 user=someone dbname=postgres"},  # the user
        {"dsn": "host=127.0.0.1 port=9 user=monitor dbname=other"},  # the database
        {"replicas": [("r1", "host=203.0.113.9 port=9 user=monitor dbname=postgres")]},  # a node added
    ],
    ids=["host", "port", "user", "database", "node added"],
)
def test_a_stored_password_is_removed_when_a_node_changes_in_the_admin(keys, cluster, admin_user, client, change):
    client.force_login(admin_user)
    url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
    assert client.post(url, admin_form(cluster, new_password=SECRET)).status_code == 302
    unchanged = client.post(url, admin_form(cluster, sample_interval=7), follow=True)  # not a destination
    cluster.refresh_from_db()
    assert password_for(cluster) == SECRET and "was removed" not in unchanged.content.decode()
    response = client.post(url, admin_form(cluster, **change), follow=True)
    cluster.refresh_from_db()
    assert cluster.encrypted_password == "" and password_for(cluster) is None
    assert "The stored password of lab was removed: its nodes changed" in response.content.decode()
    # a password entered with the change is the new destination's
    client.post(url, admin_form(cluster, **{k: v for k, v in change.items() if k != "replicas"}, new_password=SECRET))
    cluster.refresh_from_db()
    assert password_for(cluster) == SECRET


def test_a_stored_password_is_removed_when_an_import_changes_a_node(keys, cluster, capsys, tmp_path):
    call_command("set_cluster_password", "lab", "--stdin", input_stream=io.StringIO(SECRET))
    same = "clusters: [{name: lab, dsn: 'host=127.0.0.1 port=9 user=monitor dbname=postgres'}]\nservices: []\n"
    catalog_file.apply(catalog_file.load(same))
    cluster.refresh_from_db()
    assert password_for(cluster) == SECRET
    moved = tmp_path / "moved.yaml"
    moved.write_text(same.replace("host=127.0.0.1", "host=203.0.113.9"))
    call_command("import_catalog", str(moved))
    cluster.refresh_from_db()
    assert cluster.encrypted_password == ""
    assert "warning: the stored password of cluster lab was removed: its nodes changed" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["SEAMLINE_SECRET_KEY", "SEAMLINE_FERNET_KEYS", "SEAMLINE_DB_PASSWORD", "PGPASSWORD",
                                  "SEAMLINE_CLUSTER_PASSWORD_", "SEAMLINE_CLUSTER_PASSWORD_lab"])  # fmt: skip
def test_password_env_names_only_variables_of_its_own(cluster, admin_user, client, monkeypatch, name):
    client.force_login(admin_user)
    url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
    response = client.post(url, admin_form(cluster, password_env=name))
    assert response.status_code == 200 and "Name an environment variable whose name starts with" in (
        response.content.decode()
    )
    with pytest.raises(catalog_file.CatalogFileError) as refused:
        catalog_file.load(f"clusters: [{{name: lab, dsn: 'host=x', password_env: {name}}}]\nservices: []\n")
    assert any("clusters[0].password_env: must name" in p for p in refused.value.problems)
    monkeypatch.setenv(name, SECRET)
    Cluster.objects.filter(pk=cluster.pk).update(password_env=name)  # stored before the rule
    cluster.refresh_from_db()
    with pytest.raises(CredentialsError, match="password_env must name"):
        password_for(cluster)


def test_a_dsn_stored_before_the_rules_is_refused_at_connection_and_shown_without_its_secret(cluster, viewer_client):
    Cluster.objects.filter(pk=cluster.pk).update(dsn=f"host=127.0.0.1 port=9 sslpassword={SECRET} dbname=postgres")
    with pytest.raises(CredentialsError, match="the DSN is refused: carries a sslpassword"):
        connection_params(Cluster.objects.get(pk=cluster.pk).dsn)
    page = viewer_client.get(f"/clusters/{cluster.pk}/").content.decode()
    api = viewer_client.get("/api/v1/clusters").json()["items"][0]["dsn"]
    for body in (page, api):
        assert SECRET not in body
    shown = re.search(r"<code>([^<]*)</code>", page).group(1)
    for dsn in (shown, api):
        assert conninfo_to_dict(dsn) == {"host": "127.0.0.1", "port": "9", "dbname": "postgres"}


class CleartextServer:
    """A server on this machine that answers every connection as a PostgreSQL server configured for ``password``
    authentication would: no TLS, then a request for the password in clear. It records what each client sent after
    that request (a password message begins with b"p")."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.startups = 0
        self.after_request: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                while True:
                    head = conn.recv(8)
                    if len(head) < 8:
                        break
                    length, code = struct.unpack("!ii", head)
                    if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not here
                        conn.sendall(b"N")
                        continue
                    conn.recv(length - 8)  # the startup message's parameters
                    self.startups += 1
                    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                    try:
                        self.after_request.append(conn.recv(1024))
                    except OSError:
                        self.after_request.append(b"")
                    break

    def close(self) -> None:
        self.listener.close()


def test_no_password_is_sent_to_a_server_that_asks_for_it_in_clear(keys, cluster, admin_user, client, monkeypatch):
    """An admin points the cluster at another server (here one that asks for the password in clear): the stored
    password is removed, and even a password from the environment is never sent, SCRAM being required."""
    server = CleartextServer()
    try:
        client.force_login(admin_user)
        url = reverse("admin:catalog_cluster_change", args=[cluster.pk])
        assert client.post(url, admin_form(cluster, new_password=SECRET)).status_code == 302
        # a name of this machine, not the loopback literally: to Seamline, a server on another host
        elsewhere = f"host={socket.gethostname()} port={server.port} user=monitor dbname=postgres"
        client.post(url, admin_form(cluster, dsn=elsewhere))
        cluster.refresh_from_db()
        assert cluster.encrypted_password == ""
        monkeypatch.setenv("SEAMLINE_CLUSTER_PASSWORD_LAB", SECRET)
        Cluster.objects.filter(pk=cluster.pk).update(password_env="SEAMLINE_CLUSTER_PASSWORD_LAB")
        with pytest.raises(CommandError, match="cleartext password"):
            call_command("sync", "lab", verbosity=0)
        assert server.startups >= 1  # it did reach the server
        assert all(not sent.startswith(b"p") for sent in server.after_request)
        assert all(SECRET.encode() not in sent for sent in server.after_request)
        # `auth: any` is the cluster's explicit choice: then the server's request is answered
        Cluster.objects.filter(pk=cluster.pk).update(auth="any")
        with pytest.raises(CommandError):
            call_command("sync", "lab", verbosity=0)
        assert server.after_request[-1].startswith(b"p")
    finally:
        server.close()
