"""The permission matrix: every URL of the site, requested by an anonymous visitor, a viewer, an operator and an
admin, answers with the status its role calls for. A URL added without a row here fails the coverage test."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver

from catalog.models import (
    AuditRun,
    Cluster,
    Contract,
    Database,
    Ownership,
    Relation,
    RuleSeverity,
    Schema,
    Service,
    Suppression,
    SyncRun,
)
from dashboard.models import ApiToken

from .conftest import PASSWORD, redis_stopped

ROLES = ("anonymous", "viewer", "operator", "admin")
LOGIN = 302  # to the login page
PAGE = {"anonymous": LOGIN, "viewer": 200, "operator": 200, "admin": 200}
OPERATOR_GET = {"anonymous": LOGIN, "viewer": 403, "operator": 200, "admin": 200}
OPERATOR_POST = {"anonymous": LOGIN, "viewer": 403, "operator": 302, "admin": 302}
API = {"anonymous": 401, "viewer": 200, "operator": 200, "admin": 200}
PUBLIC = {"anonymous": 200, "viewer": 200, "operator": 200, "admin": 200}

# name -> (method, expected by role); admin site URLs are judged by _admin_expectation
MATRIX = {
    "overview": ("GET", PAGE),
    "healthz": ("GET", PUBLIC),
    "metrics": ("GET", dict.fromkeys(ROLES, 401)),  # a bearer token, never a session
    "pools": ("GET", PAGE),
    "pools_cluster": ("GET", PAGE),
    "pools_history": ("GET", PAGE),
    "service_live": ("GET", PAGE),
    "session_action": ("POST", OPERATOR_POST),
    "action_log": ("GET", OPERATOR_GET),
    "action_log_csv": ("GET", OPERATOR_GET),
    "workload_index": ("GET", PAGE),
    "workload": ("GET", PAGE),
    "workload_history": ("GET", PAGE),
    "statement": ("GET", {**PAGE, "viewer": 404, "operator": 404, "admin": 404}),  # no such statement stored
    "statement_history": ("GET", PAGE),
    "service_statements": ("GET", PAGE),
    "replication": ("GET", PAGE),
    "replication_history": ("GET", PAGE),
    "transactions": ("GET", PAGE),
    "horizon_history": ("GET", PAGE),
    "services": ("GET", PAGE),
    "service": ("GET", PAGE),
    "schemas": ("GET", PAGE),
    "schema": ("GET", PAGE),
    "relation": ("GET", PAGE),
    "paths": ("GET", PAGE),
    "map": ("GET", PAGE),
    "map_data": ("GET", PAGE),
    "map_paths": ("GET", {**PAGE, "viewer": 404, "operator": 404, "admin": 404}),  # no arrow named: none to list
    "map_download": ("GET", PAGE),
    "cluster": ("GET", PAGE),
    "cluster_sync": ("POST", OPERATOR_POST),
    "audits": ("GET", PAGE),
    "audit_now": ("POST", OPERATOR_POST),
    "audit_history": ("GET", PAGE),
    "service_scorecard": ("GET", PAGE),
    "api-v1:openapi-json": ("GET", API),
    "api-v1:list_clusters": ("GET", API),
    "api-v1:list_services": ("GET", API),
    "api-v1:get_service": ("GET", API),
    "api-v1:list_schemas": ("GET", API),
    "api-v1:list_relations": ("GET", API),
    "api-v1:list_paths": ("GET", API),
    "api-v1:ownership_map": ("GET", API),
    "api-v1:cluster_pools": ("GET", API),
    "api-v1:pool_history": ("GET", API),
    "api-v1:health_status": ("GET", API),
    "api-v1:cluster_workload": ("GET", API),
    "api-v1:cluster_transactions": ("GET", API),
    "api-v1:api-root": ("GET", dict.fromkeys(ROLES, 404)),  # nothing there, for anybody
    "login": ("GET", PUBLIC),
    "logout": ("POST", dict.fromkeys(ROLES, 302)),
    "password_change": ("GET", PAGE),
    "password_change_done": ("GET", PAGE),
    "set_language": ("POST", dict.fromkeys(ROLES, 302)),
}


def routes() -> list[tuple[str, str]]:
    """(name, pattern) of every URL of the site, namespaces included."""
    found = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = f"{namespace}:{p.namespace}" if namespace and p.namespace else (p.namespace or namespace)
                walk(p.url_patterns, prefix + str(p.pattern), inner)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name or '?'}" if namespace else (p.name or "?")
                found.append((name, prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


@pytest.fixture
def world(db, viewer, operator, admin_user):
    cluster = Cluster.objects.create(name="perm", dsn="host=127.0.0.1 port=9 user=postgres dbname=postgres")
    service = Service.objects.create(name="perm-svc", team="perm")
    Ownership.objects.create(service=service, cluster=cluster, database="d", schema="s")
    other = Service.objects.create(name="perm-other")
    cluster.replicas.create(name="perm-r", dsn="host=127.0.0.1 port=9 dbname=x")
    database = Database.objects.create(cluster=cluster, name="d")
    schema = Schema.objects.create(database=database, name="s", service=service)
    relation = Relation.objects.create(schema=schema, name="t", kind="table")
    users = {"viewer": viewer, "operator": operator, "admin": admin_user}
    objects = {
        "contract": Contract.objects.create(consumer=service, provider=other),
        "syncrun": SyncRun.objects.create(cluster=cluster),
        "auditrun": AuditRun.objects.create(cluster=cluster, trigger="manual", status="failed"),
        "ruleseverity": RuleSeverity.objects.create(rule="table_without_primary_key", severity="high"),
        "suppression": Suppression.objects.create(
            cluster=cluster, rule="r", object="o", reason="x", expires_at="2099-01-01T00:00:00Z"
        ),
        "apitoken": ApiToken.objects.issue(users["admin"])[0],
        "cluster": cluster,
        "service": service,
        "ownership": Ownership.objects.first(),
        "group": Group.objects.get(name="Viewer"),
        "user": users["viewer"],
    }
    from django_celery_beat.models import PeriodicTask

    objects["periodictask"] = PeriodicTask.objects.first()
    return {"cluster": cluster, "service": service, "schema": schema, "relation": relation, "users": users,
            "objects": objects}  # fmt: skip


def concrete(name: str, pattern: str, w: dict) -> str:
    """A URL with real objects in its parameters."""
    pk = {
        "pools": w["cluster"].pk, "replication": w["cluster"].pk, "clusters": w["cluster"].pk,
        "workload": w["cluster"].pk, "transactions": w["cluster"].pk,
        "services": w["service"].pk, "schemas": w["schema"].pk, "relations": w["relation"].pk,
    }  # fmt: skip
    path = pattern.replace("^", "").replace("$", "")
    first = path.split("/")[0]
    model = re.match(r"admin/(\w+)/(\w+)/", path)
    obj = w["objects"].get(model.group(2)) if model else None
    replacements = [
        (r"<int:pk>", str(pk.get(first, 0))),
        (r"<int:pid>", "1"),
        (r"<signed:queryid>", "-1"),  # statement ids are signed
        (r"<str:action>", "cancel"),
        (r"<path:name>", w["service"].name),
        (r"<cluster>", w["cluster"].name),
        (r"<uidb64>", "MQ"),
        (r"<token>", "set-password"),
        (r"<id>", str(w["users"]["viewer"].pk)),
        (r"<path:object_id>", str(obj.pk) if obj else "1"),
        (r"<path:content_type_id>", "1"),
        (r"\(\?P<app_label>[^)]*\)", "catalog"),
        (r"\(\?P<url>\.\*\)", "nothing-here/"),
    ]
    for pattern_part, value in replacements:
        path = re.sub(pattern_part, value, path)
    query = {"replication_history": "?replica=perm-r"}.get(name, "")
    return "/" + path + query


def _admin_expectation(name: str, role: str) -> set[int]:
    if name in ("admin:login", "admin:logout"):
        return {200, 302, 405}  # the login form (or a redirect to the site's), logout only by POST
    if role == "anonymous" or role in ("viewer", "operator"):
        return {302}  # not staff: to the login page
    if name in ("admin:view_on_site", "admin:?"):
        return {200, 302, 404}  # redirects and the catch-all; judged by the other rows
    if name in ("admin:index", "admin:app_list", "admin:jsi18n", "admin:password_change", "admin:autocomplete"):
        return {200, 302, 403}  # autocomplete needs its own parameters
    # the admin's own pages for a model: shown, refused, or (no such object) back to the index; which one for
    # which model and role is pinned by test_admins_edit_the_catalog_and_credentials_others_do_not
    return {200, 302, 403}


def test_every_url_is_in_the_matrix():
    names = {name for name, _ in routes() if not name.startswith("admin:")}
    assert names == set(MATRIX)


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_matrix_says(world, client, role):
    if role != "anonymous":
        client.force_login(world["users"][role])
    unexpected = []
    for name, pattern in routes():
        url = concrete(name, pattern, world)
        if name.startswith("admin:"):
            method, allowed = "GET", _admin_expectation(name, role)
        else:
            method, expected = MATRIX[name]
            allowed = {expected[role]}
        data = {"node": "primary", "backend_start": "2000-01-01 00:00:00+00", "reason": "matrix"}
        response = client.post(url, data) if method == "POST" else client.get(url)
        status = response.status_code
        if name == "logout" and role != "anonymous":
            client.force_login(world["users"][role])  # and carry on as that role
        if name == "audit_now" and status == 302 and role in ("operator", "admin"):
            AuditRun.objects.filter(cluster=world["cluster"], status="queued").update(status="failed")
        if status not in allowed:
            unexpected.append(f"{method} {url} ({name}): {status}, expected {sorted(allowed)}")
        login_required = not name.startswith("admin:") and MATRIX[name][1] in (PAGE, OPERATOR_GET, OPERATOR_POST)
        if role == "anonymous" and status == LOGIN and login_required:
            assert response["Location"].startswith("/accounts/login/"), url
    assert unexpected == []


def test_admins_edit_the_catalog_and_credentials_others_do_not(world, client):
    admin = world["users"]["admin"]
    client.force_login(admin)
    for model in ("cluster", "service", "ownership", "contract", "suppression", "ruleseverity"):
        assert client.get(f"/admin/catalog/{model}/").status_code == 200, model
        assert client.get(f"/admin/catalog/{model}/add/").status_code == 200, model
    assert client.get("/admin/dashboard/apitoken/").status_code == 200  # tokens: issued by a command, revoked here
    assert client.get("/admin/auth/user/").status_code == 200  # manages users
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200  # the schedules
    assert client.get(f"/admin/catalog/syncrun/{world['objects']['syncrun'].pk}/change/").status_code == 200
    assert client.get("/admin/catalog/syncrun/add/").status_code == 403  # runs are written by the system only
    operator = world["users"]["operator"]
    operator.is_staff = True  # even as staff, an operator edits nothing
    operator.save()
    client.force_login(operator)
    assert client.get("/admin/catalog/cluster/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403


def test_with_redis_stopped_no_page_answers_a_server_error(world, client):
    """Every URL the matrix knows, as an admin (who may reach all of them), while Redis is stopped: live parts say
    their data is unavailable, the API answers 503, nothing answers 500, logging out and in works; and everything
    serves again once it is back, refilling its caches."""
    client.force_login(world["users"]["admin"])
    gets = [(name, concrete(name, pattern, world)) for name, pattern in routes()]
    gets = [(name, url) for name, url in gets if name.startswith("admin:") or MATRIX[name][0] == "GET"]
    with redis_stopped():
        answers = {(name, url): client.get(url).status_code for name, url in gets}
        answers |= {("htmx", url): client.get(url, HTTP_HX_REQUEST="true").status_code for url in ("/", "/pools/")}
        assert "Live data unavailable" in client.get("/pools/", HTTP_HX_REQUEST="true").content.decode()
        # logging out and in needs no Redis either (sessions and login throttling are in Seamline's database)
        assert client.post("/accounts/logout/").status_code == 302
        assert client.get("/").status_code == 302
        login = {"username": world["users"]["viewer"].username, "password": PASSWORD}
        assert client.post("/accounts/login/", login).status_code == 302
        assert client.get("/pools/").status_code == 200
        client.force_login(world["users"]["admin"])
    # the live API says it cannot answer (503, as documented); nothing else fails
    failed = [f"{url} ({name}): {status}" for (name, url), status in answers.items()
              if status >= 500 and not (name.startswith("api-v1:") and status == 503)]  # fmt: skip
    assert answers[("api-v1:health_status", "/api/v1/health")] == 503
    assert failed == []
    assert client.get("/api/v1/health").status_code == 200
    assert "Live data unavailable" not in client.get("/pools/", HTTP_HX_REQUEST="true").content.decode()
