"""Cancelling and terminating sessions from the Pools page: operators only, keyed on (pid, backend_start), refusing
superusers, non-client backends and the sessions of the role Seamline connects as, every attempt logged before any
signal."""

from __future__ import annotations

import contextlib
import threading
from unittest import mock

import psycopg
import pytest
from django.db import DatabaseError, connection

from catalog.models import Cluster
from dashboard.models import ActionLog
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

from .conftest import pg, wait_for

ROLE = "seamline_sa_app"


@pytest.fixture(scope="module")
def app_role():
    with pg() as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone():
            admin.execute(f"CREATE ROLE {ROLE} LOGIN")
    yield ROLE
    with pg() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [ROLE])
        admin.execute(f"DROP ROLE IF EXISTS {ROLE}")


class Held:
    """A session of its own, running ``sql`` in a thread. ``close()`` ends it from the server side first (closing a
    connection another thread is using can crash the client library), then joins the thread."""

    def __init__(self, application_name: str, user: str, sql: str) -> None:
        self.conn = pg(user=user, application_name=application_name)
        self.pid = self.conn.info.backend_pid
        with pg() as admin:
            (self.start,) = admin.execute(
                "SELECT backend_start::text FROM pg_stat_activity WHERE pid = %s", [self.pid]
            ).fetchone()

        def run() -> None:
            with contextlib.suppress(psycopg.Error):
                self.conn.execute(sql)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        wait_for(lambda: state(self.pid) == "active", message="the session to run")

    def close(self) -> None:
        with pg() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [self.pid])
        self.thread.join(timeout=10)
        self.conn.close()


def session(application_name: str = "sa_app", user: str = ROLE, sql: str = "SELECT pg_sleep(60)"):
    """A held session: returns (handle, pid, backend_start); the caller closes the handle."""
    held = Held(application_name, user, sql)
    return held, held.pid, held.start


def state(pid: int) -> str | None:
    with pg() as admin:
        row = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return row[0] if row else None


def post(client, cluster, pid: int, start: str, action: str = "cancel", node: str = PRIMARY):
    return client.post(
        f"/pools/{cluster.pk}/sessions/{pid}/{action}",
        {"node": node, "backend_start": start, "reason": "stuck report"},
    )


def test_an_operator_cancels_a_query_and_terminates_a_session(app_role, pools_cluster, client, operator):
    client.force_login(operator)
    conn, pid, start = session()
    try:
        response = post(client, pools_cluster, pid, start, "cancel")
        assert response.status_code == 302
        wait_for(lambda: state(pid) == "idle", message="the query to be cancelled")
        response = post(client, pools_cluster, pid, start, "terminate")
        wait_for(lambda: state(pid) is None, message="the session to end")
    finally:
        conn.close()
    results = list(ActionLog.objects.order_by("pk").values_list("action", "result", "user", "reason"))
    assert results == [
        ("cancel", "requested", "olga", "stuck report"),
        ("cancel", "signalled", "olga", "stuck report"),
        ("terminate", "requested", "olga", "stuck report"),
        ("terminate", "signalled", "olga", "stuck report"),
    ]


def test_a_reused_pid_is_no_longer_running(app_role, pools_cluster, client, operator):
    client.force_login(operator)
    conn, pid, start = session()
    try:
        post(client, pools_cluster, pid, "2001-01-01 00:00:00+00")
        assert ActionLog.objects.order_by("-pk").first().result.startswith("no longer running")
        assert state(pid) == "active"  # untouched
    finally:
        conn.close()


def test_superusers_sessions_are_refused(app_role, pools_cluster, client, operator):
    client.force_login(operator)
    conn, pid, start = session("sa_app", "postgres")
    try:
        post(client, pools_cluster, pid, start, "terminate")
        assert ActionLog.objects.order_by("-pk").first().result == "refused: a superuser's session"
        assert state(pid) == "active"
    finally:
        conn.close()


def test_a_session_named_like_seamlines_own_can_be_cancelled(app_role, pools_cluster, client, operator):
    client.force_login(operator)
    conn, pid, start = session("seamline-x", ROLE)  # a name anyone can give a connection exempts nothing
    try:
        post(client, pools_cluster, pid, start, "cancel")
        assert ActionLog.objects.order_by("-pk").first().result == "signalled"
        wait_for(lambda: state(pid) == "idle", message="the query to be cancelled")
    finally:
        conn.close()


def test_sessions_of_the_role_seamline_connects_as_are_refused(app_role, pools_cluster, client, operator):
    """Seamline's own sessions are the role's it connects as, whatever their name."""
    Cluster.objects.filter(pk=pools_cluster.pk).update(dsn=pools_cluster.dsn.replace("user=postgres", f"user={ROLE}"))
    pools_cluster.refresh_from_db()
    client.force_login(operator)
    conn, pid, start = session("any-name", ROLE)
    try:
        post(client, pools_cluster, pid, start, "terminate")
        assert ActionLog.objects.order_by("-pk").first().result == "refused: a session of the role Seamline connects as"
        assert state(pid) == "active"
    finally:
        conn.close()


def test_a_wal_sender_is_refused(pools_cluster, client, operator):
    client.force_login(operator)
    with pg() as admin:
        pid, start = admin.execute(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE backend_type = 'walsender'"
        ).fetchone()
    post(client, pools_cluster, pid, start, "terminate")
    assert ActionLog.objects.order_by("-pk").first().result == "refused: a walsender backend, not a client session"


def test_a_viewer_is_refused_and_the_refusal_is_logged(app_role, pools_cluster, viewer_client):
    conn, pid, start = session()
    try:
        assert post(viewer_client, pools_cluster, pid, start).status_code == 403
        row = ActionLog.objects.get()
        assert (row.user, row.result) == ("vera", "denied: the user may not signal sessions")
        assert (
            viewer_client.get(
                f"/pools/{pools_cluster.pk}/sessions/{pid}/cancel", {"node": "primary", "backend_start": start}
            ).status_code
            == 403
        )
        assert state(pid) == "active"
    finally:
        conn.close()


def test_no_log_no_signal(app_role, pools_cluster, client, operator):
    client.force_login(operator)
    conn, pid, start = session()
    try:
        with (
            mock.patch.object(ActionLog.objects, "create", side_effect=DatabaseError("log unavailable")),
            pytest.raises(DatabaseError),
        ):
            post(client, pools_cluster, pid, start, "terminate")
        assert state(pid) == "active"
    finally:
        conn.close()


def test_the_log_is_append_only(pools_cluster, operator):
    row = ActionLog.objects.create(
        user="x", cluster="c", node="n", pid=1, backend_start="t", action="cancel", result="r"
    )
    for sql in ("UPDATE dashboard_actionlog SET result = 'edited'", "DELETE FROM dashboard_actionlog"):
        with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cur:
            from django.db import transaction

            with transaction.atomic():
                cur.execute(sql)
    assert ActionLog.objects.get(pk=row.pk).result == "r"


def test_the_confirmation_shows_what_will_be_signalled(held_sessions, pools_cluster, client, operator):
    client.force_login(operator)
    snapshot = sample_node(pools_cluster, PRIMARY)
    listed = next(s for s in snapshot["idle_in_transaction"] if s["pid"] == held_sessions.pids["idle_in_xact"])
    page = client.get(f"/pools/{pools_cluster.pk}/").content.decode()
    assert f"/pools/{pools_cluster.pk}/sessions/{listed['pid']}/terminate?node=primary" in page
    confirm = client.get(
        f"/pools/{pools_cluster.pk}/sessions/{listed['pid']}/terminate",
        {"node": "primary", "backend_start": listed["backend_start"]},
    ).content.decode()
    assert "pt_orders" in confirm and "UPDATE pt_items SET v = v + ? WHERE id = ?" in confirm
    assert 'name="csrfmiddlewaretoken"' in confirm and 'name="reason"' in confirm


def test_the_action_log_page_and_csv(pools_cluster, client, operator, viewer_client):
    ActionLog.objects.create(
        user="olga", cluster="pt", node="primary", pid=7, backend_start="t", action="cancel",
        reason="=HYPERLINK(\"x\")", result="signalled", query="SELECT ?",
    )  # fmt: skip
    assert viewer_client.get("/actions/").status_code == 403
    client.force_login(operator)
    assert "signalled" in client.get("/actions/").content.decode()
    csv = client.get("/actions.csv")
    assert csv.streaming  # rows sent as they are read, however long the log
    body = b"".join(csv.streaming_content).decode()
    assert body.splitlines()[0].startswith("at,user,cluster,node,pid")
    assert "'=HYPERLINK" in body  # a formula is not run by a spreadsheet


@pytest.mark.parametrize(
    ("pid", "backend_start", "reason", "message"),
    [
        (0, "2026-01-01 00:00:00+00", "", "The pid must be a whole number from 1 to 2147483647."),
        (2**31, "2026-01-01 00:00:00+00", "", "The pid must be a whole number from 1 to 2147483647."),
        (99999999999999999999, "2026-01-01 00:00:00+00", "", "The pid must be a whole number"),
        (7, "yesterday", "", "backend_start must be the session's start with its time zone"),
        (7, "2026-01-01 00:00:00", "", "backend_start must be the session's start with its time zone"),
        (7, "2026-01-01 00:00:00+00", "x" * 501, "The reason may be at most 500 characters."),
    ],
    ids=["pid 0", "pid past int4", "pid past int8", "not a time", "no time zone", "reason too long"],
)
def test_every_field_is_checked_on_the_server_and_answered_400(
    pools_cluster, client, operator, pid, backend_start, reason, message
):
    client.force_login(operator)
    url = f"/pools/{pools_cluster.pk}/sessions/{pid}/cancel"
    for response in (
        client.get(url, {"node": PRIMARY, "backend_start": backend_start}),
        client.post(url, {"node": PRIMARY, "backend_start": backend_start, "reason": reason}),
    ):
        if reason and response.request["REQUEST_METHOD"] == "GET":
            continue  # the reason is only posted
        assert response.status_code == 400 and message in response.content.decode()
    assert not ActionLog.objects.exists()  # nothing was attempted


def test_refused_attempts_are_throttled(pools_cluster, client, viewer):
    client.force_login(viewer)  # may not signal sessions
    answers = [post(client, pools_cluster, 4242, "2026-01-01 00:00:00+00").status_code for _ in range(12)]
    assert answers == [403] * 10 + [429] * 2
    assert ActionLog.objects.filter(result__startswith="denied").count() == 10  # the log is not flooded
