"""The Audits screen, "Run audit now" with its progress, the findings' filters and badges, the service scorecard and
the overview's last audit result."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import audits
from catalog.models import AuditRun, Cluster, Service

from .test_rules import DB, EXPECTED, planted, planted_db  # noqa: F401 (fixtures)


def audited(cluster: Cluster) -> AuditRun:
    return audits.run_audit(audits.start_audit(cluster, "manual", enqueue=lambda run: None).pk)


def test_the_page_shows_each_clusters_last_audit_and_its_findings(planted, viewer_client):  # noqa: F811
    run = audited(planted)
    html = viewer_client.get("/audits/?cluster=rt").content.decode()
    assert f"Run #{run.pk}" in html
    for rule, obj, _ in EXPECTED:
        assert obj in html and rule in html
    assert "Run audit now" not in html  # viewers may not trigger one
    assert html.count('<span class="sev critical">critical</span>') == 1


def test_filters_narrow_the_findings_in_place(planted, viewer_client):  # noqa: F811
    audited(planted)
    partial = viewer_client.get("/audits/?cluster=rt&severity=low", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section class="card" id="findings">')
    assert "<code>table_without_primary_key</code>" in partial and "<code>cross_service_fk</code>" not in partial
    by_service = viewer_client.get("/audits/?cluster=rt&service=svc_c").content.decode()
    assert "v_all" in by_service and "a.orders" not in by_service
    rule = viewer_client.get("/audits/?cluster=rt&rule=owner_mismatch").content.decode()
    assert "a.misowned" in rule and "b.events" not in rule


def test_running_an_audit_needs_the_permission_and_shows_progress(planted, client, viewer):  # noqa: F811
    client.force_login(viewer)
    assert client.post(f"/clusters/{planted.pk}/audit").status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="add_auditrun"))
    response = client.post(f"/clusters/{planted.pk}/audit")
    assert response.status_code == 302 and response["Location"] == "/audits/?cluster=rt"
    run = AuditRun.objects.get(cluster=planted)
    assert (run.status, run.trigger, run.user) == ("queued", "manual", viewer)
    assert client.get("/audits/?cluster=rt").content.decode().count("Run audit now") >= 1
    progress = client.get("/audits/?cluster=rt&part=progress", HTTP_HX_REQUEST="true").content.decode()
    assert "Queued, waiting for a worker" in progress and 'hx-trigger="every 1s"' in progress
    AuditRun.objects.filter(pk=run.pk).update(status="running", phase="checking")
    assert (
        "Checking the rules" in client.get("/audits/?cluster=rt&part=progress", HTTP_HX_REQUEST="true").content.decode()
    )
    AuditRun.objects.filter(pk=run.pk).update(status="queued", phase="")
    audits.run_audit(run.pk)  # the worker's part, done here: the run ends
    done = client.get("/audits/?cluster=rt&part=progress", HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Refresh"] == "true"
    again = client.post(f"/clusters/{planted.pk}/audit", HTTP_HX_REQUEST="true")
    assert again.status_code == 204 and again["HX-Location"] == "/audits/?cluster=rt"


def test_the_page_query_count_does_not_grow_with_findings(planted, viewer_client):  # noqa: F811
    audited(planted)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            viewer_client.get("/audits/?cluster=rt")
        return len(queries)

    before = count()
    audited(planted)
    Cluster.objects.create(name="another", dsn="host=127.0.0.1 port=9 dbname=x")
    assert count() == before


def test_the_history_and_the_scorecard_are_figures(planted, viewer_client):  # noqa: F811
    audited(planted)
    audited(planted)
    history = viewer_client.get(f"/clusters/{planted.pk}/audits.json").json()
    assert [t["name"] for t in history["data"]] == ["low", "medium", "high", "critical"]
    assert len(history["data"][0]["x"]) == 2
    svc_b = Service.objects.get(name="svc_b")
    card = viewer_client.get(f"/services/{svc_b.pk}/scorecard.json").json()
    high = next(t for t in card["data"] if t["name"] == "high")
    assert high["y"] == [4, 4]  # the FK into it, the view and the function reading it undeclared, the full exposure
    assert f"/services/{svc_b.pk}/scorecard.json" in viewer_client.get(f"/services/{svc_b.pk}/").content.decode()


def test_the_overview_shows_the_last_audit(planted, viewer_client):  # noqa: F811
    audited(planted)
    html = viewer_client.get("/").content.decode()
    assert "succeeded" in html and '<span class="sev critical">1 critical</span>' in html


def test_names_from_the_database_are_escaped(planted, viewer_client):  # noqa: F811
    from .conftest import pg

    with pg(dbname=DB) as conn:
        conn.execute('CREATE TABLE public."<script>x</script>" (id int)')
    try:
        from catalog.sync import sync_cluster

        sync_cluster(planted)
        audited(planted)
        html = viewer_client.get("/audits/?cluster=rt").content.decode()
        assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    finally:
        with pg(dbname=DB) as conn:
            conn.execute('DROP TABLE public."<script>x</script>"')


def test_thousands_of_findings_are_shown_a_page_at_a_time(viewer_client, db):
    from django.utils import timezone

    from catalog.models import AuditFinding

    cluster = Cluster.objects.create(name="many", dsn="host=127.0.0.1 dbname=postgres")
    run = AuditRun.objects.create(cluster=cluster, status=AuditRun.Status.SUCCEEDED, finished_at=timezone.now())
    AuditFinding.objects.bulk_create(
        AuditFinding(run=run, rule="no_primary_key", severity="low", object=f"db.s.t{n:04}", message="m")
        for n in range(450)
    )
    first = viewer_client.get("/audits/", {"cluster": "many", "severity": "low"}).content.decode()
    assert '<span class="pill">450</span>' in first and first.count("<code>db.s.t") == 200
    assert "page 1 of 3 (450 in all)" in first and "severity=low" in first and "page=2" in first
    last = viewer_client.get("/audits/", {"cluster": "many", "page": 3}).content.decode()
    assert last.count("<code>db.s.t") == 50 and "db.s.t0449" in last
