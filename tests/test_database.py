"""Seamline's own database engine (dashboard.database): Django's, its health check without a round trip while the
connection is sound, and Django's own check (and a new connection) once the server has ended it."""

from __future__ import annotations

import pytest
from django.db import close_old_connections, connection, connections
from django.test.utils import CaptureQueriesContext

from .conftest import pg, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # a connection of its own, outside the test's transaction


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def last_statement(pid: int) -> str:
    with pg(dbname=connection.settings_dict["NAME"]) as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def test_a_sound_connection_is_usable_without_a_statement_sent():
    assert connection.vendor == "postgresql" and type(connections["default"]).__module__ == "dashboard.database.base"
    pid = backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement' AS marker")
    for _ in range(3):
        assert connection.is_usable()
    assert last_statement(pid) == "SELECT 'the last statement' AS marker"  # no SELECT 1 went to the server


def test_a_connection_the_server_ended_is_replaced_before_the_next_request():
    pid = backend_pid()
    with pg(dbname=connection.settings_dict["NAME"]) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    wait_for(lambda: not connection.is_usable(), message="the ended connection seen as unusable")

    close_old_connections()  # what a request's start does; the first query then checks the connection (Django's)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    assert backend_pid() != pid  # a new connection, and no error on the way


def test_a_closed_connection_is_not_usable():
    backend_pid()
    connection.connection.close()
    assert not connection.is_usable()
    connection.close()
    assert backend_pid() > 0


def test_the_session_read_is_prepared_once_per_connection(client, django_user_model):
    """The statement nearly every request sends (the session with its user, dashboard.auth) is bound by the server
    and prepared on the connection: PostgreSQL parses it once, not per request. It is
    still logged and counted as Django's own statements are."""
    client.force_login(django_user_model.objects.create_user("prepared-session-user"))
    for _ in range(3):
        assert client.get("/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        prepared = cursor.fetchall()
    (executions,) = [executions for statement, executions in prepared if "FROM seamline_session s" in statement]
    assert executions >= 2  # one statement prepared, and run as prepared
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    session_key = client.cookies["sessionid"].value
    assert any("FROM seamline_session s" in q["sql"] and session_key in q["sql"] for q in queries)
