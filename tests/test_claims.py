"""Attribution scoped to the cluster (catalog.claims): a session is matched among the services that own something on
its cluster first, so two clusters whose services reuse one application name each count the session as their own
service's; two services on one cluster claiming one name is a conflict, said by import, the admin and the services
page."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command

from catalog import claims
from catalog.models import Cluster, Ownership, Service
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node

DSN = f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres"


@pytest.fixture
def two_clusters(db):
    east = Cluster.objects.create(name="east", dsn=DSN)
    west = Cluster.objects.create(name="west", dsn=DSN)
    a = Service.objects.create(name="a_checkout", application_names=["api"])
    b = Service.objects.create(name="b_billing", application_names=["api"])
    Ownership.objects.create(service=a, cluster=east, database="postgres")
    Ownership.objects.create(service=b, cluster=west, database="postgres")
    return east, west


def test_each_cluster_counts_a_shared_application_name_as_its_own_services(two_clusters):
    east, west = two_clusters
    with psycopg.connect(f"{DSN} application_name=api") as held:
        held.execute("SELECT 1")
        pid = held.info.backend_pid
        seen = {}
        for cluster in (east, west):
            snap = sample_node(cluster, PRIMARY)
            seen[cluster.name] = {s["service"] for s in snap["services"] if s["total"]}
    assert "a_checkout" in seen["east"] and "b_billing" not in seen["east"]
    assert "b_billing" in seen["west"] and "a_checkout" not in seen["west"]
    assert pid and claims.conflicts() == []  # one claimant per cluster: no conflict


def test_two_services_on_one_cluster_claiming_a_name_is_a_conflict_said_everywhere(
    two_clusters, admin_client, tmp_path
):
    east, _ = two_clusters
    b = Service.objects.get(name="b_billing")
    Ownership.objects.create(service=b, cluster=east, database="postgres", schema="billing")
    Service.objects.filter(name="b_billing").update(db_roles=["shared_svc"])
    Service.objects.filter(name="a_checkout").update(db_roles=["shared_svc"])
    found = claims.conflicts()
    assert [(c.cluster, c.kind, c.name, c.services) for c in found] == [
        ("east", claims.APPLICATION, "api", ("a_checkout", "b_billing")),
        ("east", claims.ROLE, "shared_svc", ("a_checkout", "b_billing")),
    ]
    attribute = claims.Attribution.for_cluster(east, Service.objects.all())
    assert attribute("api", None).name == "a_checkout"  # the first by name, and said so

    page = admin_client.get("/services/").content.decode()
    assert "claim the application name api" in page and "claim the role shared_svc" in page
    listing = admin_client.get("/admin/catalog/service/", follow=True).content.decode()
    assert "claim the application name api" in listing

    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("export_catalog", stdout=out)
    exported = tmp_path / "catalog.yaml"
    exported.write_text(out.getvalue())
    call_command("import_catalog", str(exported), stdout=StringIO(), stderr=err)
    assert "warning: cluster east: a_checkout and b_billing both claim application name 'api'" in err.getvalue()


def test_seamlines_own_sessions_are_seamlines_not_unattributed(two_clusters):
    east, _ = two_clusters
    with psycopg.connect(f"{DSN} application_name=seamline-app") as own:  # as Seamline's web and workers name theirs
        own.execute("SELECT 1")
        snap = sample_node(east, PRIMARY)
        mine = next(s for s in snap["services"] if s["service"] == claims.SEAMLINE)
        assert mine["total"] >= 1 and mine["budget"] is None
        assert not [s for s in snap["unattributed_sessions"] if s["application_name"] == "seamline-app"]
