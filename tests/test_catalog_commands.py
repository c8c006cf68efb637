"""The catalog's commands as a user runs them: import/export round trip, a bad file that changes nothing, and a sync
of a database full of hostile names whose every name survives to the pages, escaped."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from catalog import catalog_file
from catalog.models import Cluster, Relation, Schema, Service
from catalog.sync import sync_cluster

from .hostile import DBNAME, LONG, LONG_TABLE, MARKUP, QUOTED, UNICODE

HOSTILE_CATALOG = f"""
clusters:
  - name: hostile
    dsn: "host=127.0.0.1 port={{port}} user=postgres dbname=postgres"
    databases: [{DBNAME}]
services:
  - name: '订单 "svc" <b>'
    team: '<i>team</i>'
    owns: ['hostile/{DBNAME}/{QUOTED}', 'hostile/{DBNAME}/{UNICODE}']
  - name: markup
    owns: ['hostile/{DBNAME}/{MARKUP}']
    consumes: ['订单 "svc" <b>']
"""


def export_text(capsys) -> str:
    call_command("export_catalog")
    return capsys.readouterr().out


def test_export_then_import_is_a_round_trip(demo_catalog, capsys, tmp_path):
    first = export_text(capsys)
    assert "password" not in first.replace("password_env", "")
    path = tmp_path / "catalog.yaml"
    path.write_text(first)
    call_command("import_catalog", str(path))
    assert "catalog unchanged" in capsys.readouterr().out
    assert export_text(capsys) == first
    assert catalog_file.load(first)["services"]  # what we write, we read


def test_a_bad_file_exits_1_lists_every_problem_and_changes_nothing(demo_catalog, capsys, tmp_path):
    before = export_text(capsys)
    path = tmp_path / "bad.yaml"
    path.write_text(
        "clusters:\n  - {name: x, dsn: 'host=h password=hunter2', extra: 1}\n"
        "services:\n  - {name: s, owns: [nowhere/db], consumes: [ghost]}\n"
    )
    with pytest.raises(CommandError, match="4 problem"):
        call_command("import_catalog", str(path))
    err = capsys.readouterr().err
    assert "clusters[0].dsn: carries a password" in err
    assert "clusters[0].extra: unknown key" in err
    assert "services[0].owns[0]: unknown cluster 'nowhere'" in err
    assert "services[0].consumes[0]: unknown service 'ghost'" in err
    assert "hunter2" not in err
    assert export_text(capsys) == before


def test_a_missing_file_is_a_clear_error(db):
    with pytest.raises(CommandError, match="cannot read /no/such/file.yaml"):
        call_command("import_catalog", "/no/such/file.yaml")


def test_import_reads_standard_input(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("clusters: [{name: s, dsn: 'host=x'}]\nservices: [{name: a}]\n"))
    call_command("import_catalog", "-")
    assert Service.objects.filter(name="a").exists()


@pytest.fixture
def hostile_cluster(db, hostile_db, settings):
    catalog_file.apply(catalog_file.load(HOSTILE_CATALOG.replace("{port}", str(settings.PG_PORT))))
    cluster = Cluster.objects.get(name="hostile")
    sync_cluster(cluster)
    return cluster


def test_a_sync_keeps_every_hostile_name_exactly(hostile_cluster):
    names = set(Schema.objects.filter(database__cluster=hostile_cluster).values_list("name", flat=True))
    assert {QUOTED, UNICODE, LONG, MARKUP} <= names
    assert Relation.objects.filter(name=LONG_TABLE).exists()
    owners = dict(Schema.objects.filter(name__in=[QUOTED, UNICODE, MARKUP]).values_list("name", "service__name"))
    assert owners == {QUOTED: '订单 "svc" <b>', UNICODE: '订单 "svc" <b>', MARKUP: "markup"}


def test_hostile_names_are_escaped_on_every_page(hostile_cluster, viewer_client, capsys):
    relation = Relation.objects.filter(schema__name=MARKUP).first()
    schema = Schema.objects.get(name=MARKUP)
    service = Service.objects.get(name='订单 "svc" <b>')
    urls = [
        reverse("services"),
        reverse("service", args=[service.pk]),
        reverse("schemas"),
        reverse("schema", args=[schema.pk]),
        reverse("relation", args=[relation.pk]),
        reverse("paths"),
        reverse("cluster", args=[hostile_cluster.pk]),
    ]
    for url in urls:
        body = viewer_client.get(url).content.decode()
        assert MARKUP not in body, url
        assert '"svc" <b>' not in body and "<i>team</i>" not in body, url
    call_command("ownership_map", "--cluster", "hostile", "--format", "json")
    assert MARKUP in capsys.readouterr().out  # raw in JSON, where it is data
