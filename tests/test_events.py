"""Events declared in the catalog file (issue 18, item 4): ``publishes`` and ``subscribes`` on services, ``event`` paths
from subscriber to publisher, the outbox table's subscribers on its page, and an outbox whose live rows only grow
across the slow samples flagged as not drained (``outbox_not_drained``), from the statistics system's counts alone."""

from __future__ import annotations

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

from catalog import catalog_file, outbox, paths, rules
from catalog.catalog_file import CatalogFileError, split_qualified
from catalog.models import Cluster, EventPublication, OutboxSample, Service
from catalog.sync import sync_cluster
from dashboard import tasks

from .conftest import pg, scratch_database, wait_for

DB = "seamline_events"
SCHEMA = "ship.ping"  # a dot: quoted in the catalog file


def catalog_text(port: int, **extra: object) -> str:
    data = {
        "clusters": [
            {
                "name": "ev",
                "dsn": f"host={settings.PG_HOST} port={port} user=postgres dbname=postgres",
                "databases": [DB],
            }
        ],
        "services": [
            {
                "name": "shipping",
                "owns": [f"ev/{DB}/{SCHEMA}"],
                "publishes": [{"table": f'ev/{DB}/"{SCHEMA}".outbox', "topic": "parcel <events>"}],
            },
            {"name": "billing", "subscribes": [{"topic": "parcel <events>"}]},
            {"name": "audit", "subscribes": [{"topic": "parcel <events>"}, {"topic": "nobody publishes this"}]},
        ],
        **extra,
    }
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.fixture
def planted(db):
    with scratch_database(DB):
        with pg(dbname=DB) as conn:
            conn.execute(
                f'CREATE SCHEMA "{SCHEMA}"; CREATE TABLE "{SCHEMA}".outbox (id bigserial PRIMARY KEY, body text)'
            )
        catalog_file.apply(catalog_file.load(catalog_text(settings.PG_PORT)))
        cluster = Cluster.objects.get(name="ev")
        sync_cluster(cluster)
        yield cluster


def test_qualified_names_split_as_sql_quotes_them():
    assert split_qualified("a.b", 2) == ("a", "b")
    assert split_qualified('"ship.ping".outbox', 2) == ("ship.ping", "outbox")
    assert split_qualified('"say ""hi""".t.c', 3) == ('say "hi"', "t", "c")
    assert split_qualified("Mixed Case.T", 2) == ("Mixed Case", "T")  # no folding: names as the catalog shows them
    for bad in ("a", "a.b.c", ".b", "a.", 'a"b.c', '"open.b'):
        assert split_qualified(bad, 2) is None, bad


def test_publishes_and_subscribes_are_validated_with_their_paths(db):
    text = catalog_text(
        5432,
        services=[
            {"name": "a", "publishes": [{"table": "ev/db/no_table", "topic": "t"}, {"table": "nowhere/db/s.t"}]},
            {"name": "b", "publishes": [{"table": "ev/db/s.t", "topic": "t", "colour": "red"}]},
            {"name": "c", "publishes": [{"table": "ev/db/s.t", "topic": "t"}], "subscribes": ["t", {"topic": ""}]},
        ],
    )
    with pytest.raises(CatalogFileError) as raised:
        catalog_file.load(text)
    problems = "\n".join(raised.value.problems)
    for expected in (
        "services[0].publishes[0].table: expected CLUSTER/DATABASE/SCHEMA.TABLE",
        "services[0].publishes[1].table: unknown cluster 'nowhere'",
        "services[0].publishes[1].topic: required",
        "services[1].publishes[0].colour: unknown key",
        "services[2].publishes[0]: 't' from 'ev/db/s.t' is already published by 'b'",
        "services[2].subscribes[0]: must be a mapping",
        "services[2].subscribes[1].topic: required",
    ):
        assert expected in problems, problems


def test_the_file_is_applied_and_exported_back_unchanged(planted):
    (publication,) = EventPublication.objects.all()
    assert (publication.service.name, publication.schema, publication.table, publication.topic) == (
        "shipping",
        SCHEMA,
        "outbox",
        "parcel <events>",
    )
    assert Service.objects.get(name="audit").subscribes == ["nobody publishes this", "parcel <events>"]
    exported = {s["name"]: s for s in catalog_file.export()["services"]}
    assert exported["shipping"]["publishes"] == [{"table": f'ev/{DB}/"{SCHEMA}".outbox', "topic": "parcel <events>"}]
    again = catalog_file.apply(catalog_file.load(catalog_file.dump(catalog_file.export())))
    assert not again.changed


def test_each_subscriber_has_an_event_path_to_the_publisher(planted):
    edges = list(paths.cross_service_edges([planted.pk]))
    assert [(e.kind, e.consumer, e.provider, e.object_parts, e.source_parts, e.declared) for e in edges] == [
        ("event", "audit", "shipping", ("parcel <events>",), (DB, SCHEMA, "outbox"), True),
        ("event", "billing", "shipping", ("parcel <events>",), (DB, SCHEMA, "outbox"), True),
    ]


def _write(rows: int) -> None:
    with pg(dbname=DB) as conn:
        conn.execute(f"INSERT INTO \"{SCHEMA}\".outbox (body) SELECT 'event' FROM generate_series(1, {rows})")


def _sample_seeing(cluster: Cluster, live: int) -> None:
    """Sample until the statistics system shows the writes (a backend reports them within a second of commit)."""

    def seen() -> bool:
        tasks.outbox.sample(cluster)
        last = OutboxSample.objects.filter(cluster=cluster).order_by("-sampled_at").first()
        if last.live_rows != live:
            last.delete()  # not yet counted: not a sample of what was written
            return False
        return True

    wait_for(seen, timeout=20, interval=0.5, message=f"{live} live rows counted")


def test_an_outbox_that_only_grows_is_not_drained_and_one_that_falls_is(planted, viewer_client):
    tasks.sample_statements(planted.pk, "primary")  # the slow cadence's task samples the outboxes of a primary
    assert OutboxSample.objects.filter(cluster=planted).count() == 1
    for total in (5, 12):
        _write(total - OutboxSample.objects.filter(cluster=planted).order_by("-sampled_at").first().live_rows)
        _sample_seeing(planted, total)
    (verdict,) = outbox.verdicts(planted.pk)
    assert (verdict.drained, verdict.samples, verdict.first_rows, verdict.last_rows) == (False, 3, 0, 12)
    assert verdict.subscribers == ("audit", "billing")

    (finding,) = [f for f in rules.evaluate(rules.load(planted)) if f.rule == "outbox_not_drained"]
    assert finding.object_parts == (DB, SCHEMA, "outbox") and finding.service == "shipping"
    assert "audit, billing" in finding.message

    relation = planted.database_set.get(name=DB).schemas.get(name=SCHEMA).relations.get(name="outbox")
    page = viewer_client.get(reverse("relation", args=[relation.pk])).content.decode()
    assert "not drained" in page and "parcel &lt;events&gt;" in page and "parcel <events>" not in page
    assert "audit, billing" in page
    assert page.count('<span class="tag">event</span>') == 2  # the subscribers, in its blast radius

    with pg(dbname=DB) as conn:
        conn.execute(f'DELETE FROM "{SCHEMA}".outbox')
    _sample_seeing(planted, 0)
    assert outbox.verdicts(planted.pk)[0].drained is True
    assert not [f for f in rules.evaluate(rules.load(planted)) if f.rule == "outbox_not_drained"]
