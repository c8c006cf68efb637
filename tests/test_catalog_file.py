"""The catalog file: the whole file is validated before anything is written; applying it twice changes nothing."""

from __future__ import annotations

import pytest

from catalog import catalog_file
from catalog.models import Cluster, Contract, Ownership, Replica, Service

GOOD = """
clusters:
  - name: lab
    dsn: "host=127.0.0.1 port=55432 user=monitor dbname=postgres"
    password_env: SEAMLINE_CLUSTER_PASSWORD_LAB
    replicas:
      - name: lab-replica-1
        dsn: "host=127.0.0.1 port=55433 user=monitor dbname=postgres"
    databases: [shop, payments]
services:
  - name: accounts
    team: identity
    owns: ["lab/shop/accounts"]
  - name: shipping
    team: logistics
    description: Parcels and returns
    oncall: "#logistics-oncall"
    application_names: [shipping]
    db_roles: [shipping_svc]
    owns: ["lab/shop/shipping", "lab/ledger"]
    consumes: [accounts]
    pool: {size: 10, max_overflow: 20, instances: 2}
"""


def snapshot():
    return (
        list(Cluster.objects.values()),
        list(Replica.objects.values()),
        list(Service.objects.values()),
        list(Ownership.objects.values()),
        list(Contract.objects.values()),
    )


def test_it_applies_a_valid_file(db):
    result = catalog_file.apply(catalog_file.load(GOOD))
    assert result.changed
    shipping = Service.objects.get(name="shipping")
    assert shipping.connection_budget == 60
    assert sorted(o.path for o in shipping.ownerships.all()) == ["lab/ledger", "lab/shop/shipping"]
    assert [c.provider.name for c in shipping.contracts_out.all()] == ["accounts"]
    assert Replica.objects.get().name == "lab-replica-1"


def test_applying_the_same_file_twice_changes_nothing(db):
    catalog_file.apply(catalog_file.load(GOOD))
    before = snapshot()
    result = catalog_file.apply(catalog_file.load(GOOD))
    assert not result.changed
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clusters: [{name: a, dsn: 'host=x password=hunter2'}]", "clusters[0].dsn: carries a password"),
        ("clusters: [{name: a, dsn: 'postgresql://u:hunter2@h/db'}]", "clusters[0].dsn: carries a password"),
        ("clusters: [{name: a, dsn: 'host=x', colour: red}]", "clusters[0].colour: unknown key"),
        ("clusters: [{name: a, dsn: 'host=x'}, {name: a, dsn: 'host=y'}]", "clusters[1].name: duplicate cluster 'a'"),
        ("services: [{name: s, owns: ['nowhere/db/schema']}]", "services[0].owns[0]: unknown cluster 'nowhere'"),
        ("services: [{name: s, consumes: [ghost]}]", "services[0].consumes[0]: unknown service 'ghost'"),
        ("services: [{name: s, pool: {size: -1}}]", "services[0].pool.size: must be a whole number"),
        ("services: [{name: s, db_roles: ['" + "x" * 64 + "']}]", "63-byte identifier limit"),
        (
            "clusters: [{name: a, dsn: 'host=x'}]\nservices: [{name: s, owns: [a/db]}, {name: t, owns: [a/db]}]",
            "services[1].owns[0]: 'a/db' is already owned by service 's'",
        ),
        ("clusters: [{name: a, dsn: 'not a dsn'}]", "clusters[0].dsn: not a valid libpq connection string"),
        ("clusters: {name: a", "not valid YAML"),
        ("- a\n- b", "must be a mapping"),
    ],
)
def test_it_reports_each_problem_with_its_path_and_writes_nothing(db, text, expected):
    catalog_file.apply(catalog_file.load(GOOD))
    before = snapshot()
    with pytest.raises(catalog_file.CatalogFileError) as info:
        catalog_file.apply(catalog_file.load(text))
    assert any(expected in p for p in info.value.problems), info.value.problems
    assert snapshot() == before


def test_it_never_echoes_a_password_in_a_problem(db):
    with pytest.raises(catalog_file.CatalogFileError) as info:
        catalog_file.load('clusters: [{name: a, dsn: "host=x password=\'hunter2 "}]')
    assert "hunter2" not in str(info.value)


def test_it_reports_every_problem_at_once(db):
    text = "clusters: [{name: a, dsn: 'host=x password=p', bogus: 1}]\nservices: [{name: s, consumes: [ghost]}]"
    with pytest.raises(catalog_file.CatalogFileError) as info:
        catalog_file.load(text)
    assert len(info.value.problems) == 3


def test_it_keeps_hostile_identifiers_exactly(db):
    text = """
clusters: [{name: lab, dsn: "host=127.0.0.1"}]
services:
  - name: "订单 \\"service\\""
    owns: ['lab/shop/My "Schema" 中文']
    db_roles: ["role with spaces"]
"""
    catalog_file.apply(catalog_file.load(text))
    service = Service.objects.get()
    assert service.name == '订单 "service"'
    assert service.ownerships.get().schema == 'My "Schema" 中文'
    assert service.db_roles == ["role with spaces"]


def test_it_moves_an_ownership_between_services_in_one_file(db):
    catalog_file.apply(catalog_file.load(GOOD))
    moved = GOOD.replace('owns: ["lab/shop/accounts"]', 'owns: ["lab/shop/accounts", "lab/ledger"]').replace(
        '"lab/shop/shipping", "lab/ledger"', '"lab/shop/shipping"'
    )
    catalog_file.apply(catalog_file.load(moved))
    assert Ownership.objects.get(database="ledger").service.name == "accounts"


def test_sampling_and_replication_settings_round_trip_and_are_validated(db):
    text = """
clusters:
  - name: s
    dsn: "host=x dbname=postgres"
    sampling: {interval: 10, long_query_seconds: 120}
    replication: {lag_warn_seconds: 60, slot_crit_bytes: 1000}
services: []
"""
    catalog_file.apply(catalog_file.load(text))
    cluster = Cluster.objects.get(name="s")
    assert (cluster.sample_interval, cluster.idle_in_transaction_threshold, cluster.long_query_threshold) == (
        10,
        30,
        120,
    )
    assert catalog_file.export()["clusters"][0]["sampling"] == {"interval": 10, "long_query_seconds": 120}
    assert (cluster.lag_warn_seconds, cluster.lag_crit_seconds, cluster.slot_crit_bytes) == (60, 300, 1000)
    assert catalog_file.export()["clusters"][0]["replication"] == {"lag_warn_seconds": 60, "slot_crit_bytes": 1000}
    bad = (
        "clusters:\n  - {name: b, dsn: 'host=x', sampling: {interval: 0, often: 1},"
        " replication: {lag_warn_bytes: -1}}\nservices: []\n"
    )
    with pytest.raises(catalog_file.CatalogFileError) as info:
        catalog_file.load(bad)
    problems = "\n".join(info.value.problems)
    assert "clusters[0].sampling.interval: must be a whole number of seconds ≥ 1, got 0" in problems
    assert "often" in problems
    assert "clusters[0].replication.lag_warn_bytes: must be a whole number ≥ 0, got -1" in problems


def test_aliases_round_trip_and_are_validated(db):
    text = """
clusters:
  - name: s
    dsn: "host=x dbname=postgres"
    aliases: ["PG-Main.internal:6543", "[::1]:5433"]
services: []
"""
    catalog_file.apply(catalog_file.load(text))
    assert Cluster.objects.get(name="s").aliases == ["PG-Main.internal:6543", "[::1]:5433"]
    assert catalog_file.export()["clusters"][0]["aliases"] == ["PG-Main.internal:6543", "[::1]:5433"]
    bad = "clusters:\n  - {name: b, dsn: 'host=x', aliases: ['no-port', 'h:70000', 'h:5432x', 7]}\nservices: []\n"
    with pytest.raises(catalog_file.CatalogFileError) as info:
        catalog_file.load(bad)
    problems = [p for p in info.value.problems if ".aliases[" in p]
    assert [p.split(":", 1)[0] for p in problems] == [f"clusters[0].aliases[{i}]" for i in range(4)]
    assert all("must be HOST:PORT" in p for p in problems)


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("clusters: " + "[" * 5000 + "]" * 5000 + "\nservices: []\n", "nested too deeply"),
        ("clusters: &a [*a]\nservices: []\n", "clusters[0]: must be a mapping"),
        (LAUGHS.replace("g: &g", "clusters: &g") + "services: []\n", "clusters[8]: must be a mapping"),
        ("clusters: []\nservices:\n" + "".join(f"  - name: s{i}\n" for i in range(10_001)), "10001 entries"),
        ("clusters: []\n# " + "x" * 11_000_000 + "\nservices: []\n", "a catalog file may be 10 MB"),
        ("\x00\x01", "not valid YAML"),
        ("clusters: [1, 2, 3]\nservices: " + "[1, " * 300 + "1" + "]" * 300 + "\n", "must be"),
    ],
)
def test_hostile_files_are_refused_quickly_with_a_clear_error_and_change_nothing(db, tmp_path, capsys, text, reason):
    import time

    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        call_command("import_catalog", str(path))
    assert time.monotonic() - started < 10
    assert "the catalog is unchanged" in str(info.value)
    assert reason in capsys.readouterr().err
    assert not Cluster.objects.exists() and not Service.objects.exists()
