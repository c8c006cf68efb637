"""Paths down to the column (issue 18, item 5): views' reads kept per column (PostgreSQL records them), foreign keys
with their columns, who reads each column on the Relation page, a column's blast radius ("drop email: these views
break"), ``consumes`` entries that list columns and full_exposure_view reporting columns beyond such a contract, and
map JSON edges with their columns."""

from __future__ import annotations

import json

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

from catalog import catalog_file, ownership_map, paths, rules
from catalog.catalog_file import CatalogFileError
from catalog.models import Cluster, Contract, Dependency, Relation
from catalog.sync import sync_cluster

from .conftest import pg, scratch_database

DB = "seamline_columns"


def text(consumes: list) -> str:
    return yaml.safe_dump(
        {
            "clusters": [
                {
                    "name": "cols",
                    "dsn": f"host={settings.PG_HOST} port={settings.PG_PORT} user=postgres dbname=postgres",
                    "databases": [DB],
                }
            ],
            "services": [
                {"name": "accounts", "owns": [f"cols/{DB}/accounts"]},
                {"name": "reports", "owns": [f"cols/{DB}/reports"], "consumes": consumes},
            ],
        }
    )


@pytest.fixture
def planted(db):
    with scratch_database(DB):
        with pg(dbname=DB) as conn:
            conn.execute(
                """
                CREATE SCHEMA accounts; CREATE SCHEMA reports;
                CREATE TABLE accounts.users (id bigint PRIMARY KEY, email text, "full name" text, secret text);
                CREATE VIEW reports.emails AS SELECT id, email FROM accounts.users;
                CREATE VIEW reports.names AS SELECT "full name" FROM accounts.users;
                CREATE VIEW reports.email_domains AS SELECT split_part(email, '@', 2) AS domain FROM reports.emails;
                CREATE VIEW reports.how_many AS SELECT count(*) FROM accounts.users;
                CREATE TABLE reports.visits (user_id bigint REFERENCES accounts.users (id), at timestamptz);
                """
            )
        catalog_file.apply(
            catalog_file.load(text([{"service": "accounts", "columns": ['accounts.users."full name"']}]))
        )
        cluster = Cluster.objects.get(name="cols")
        sync_cluster(cluster)
        yield cluster


def users(cluster: Cluster) -> Relation:
    return Relation.objects.get(schema__database__cluster=cluster, schema__name="accounts", name="users")


def test_views_and_foreign_keys_keep_the_columns_they_use(planted):
    found = {
        (d.consumer_relation.name, tuple(d.columns))
        for d in Dependency.objects.filter(source=users(planted)).select_related("consumer_relation")
    }
    assert found == {("emails", ("id", "email")), ("names", ("full name",)), ("how_many", ()), ("visits", ("id",))}


def test_a_column_blast_radius_lists_exactly_the_views_that_break(planted):
    def radius(column: str | None) -> set[tuple[str, str]]:
        return {(d.kind, d.object_parts[-1]) for d in paths.blast_radius(users(planted), column)}

    # drop email: the view reading it, and the view over that view
    assert radius("email") == {("view", "emails"), ("view", "email_domains")}
    assert radius("full name") == {("view", "names")}
    assert radius("id") == {("view", "emails"), ("view", "email_domains"), ("fk", "visits")}
    assert radius("secret") == set()
    assert ("view", "how_many") in radius(None)


def test_the_relation_page_shows_who_reads_each_column_and_a_column_blast_radius(planted, viewer_client):
    relation = users(planted)
    assert {c: [d.object_parts[-1] for d in found] for c, found in paths.column_readers(relation).items()} == {
        "id": ["visits", "emails"],  # by service, kind (fk before view), object
        "email": ["emails"],
        "full name": ["names"],
        "secret": [],
    }
    page = viewer_client.get(reverse("relation", args=[relation.pk])).content.decode()
    assert "Who reads each column" in page and "?column=full%20name#blast-radius" in page
    one = viewer_client.get(reverse("relation", args=[relation.pk]), {"column": "email"}).content.decode()
    blast = one[one.index('id="blast-radius"') : one.index('id="columns"')]
    assert "Blast radius of column email" in blast
    assert "reports.emails" in blast and "reports.email_domains" in blast and "reports.names" not in blast
    assert viewer_client.get(reverse("relation", args=[relation.pk]), {"column": "nope"}).status_code == 404


def test_a_view_reading_columns_beyond_a_contract_that_lists_columns_is_reported(planted):
    (contract,) = Contract.objects.filter(consumer__name="reports")
    assert contract.columns == [["accounts", "users", "full name"]]
    findings = {f.object: f.message for f in rules.evaluate(rules.load(planted)) if f.rule == "full_exposure_view"}
    assert set(findings) == {f"{DB}.reports.emails"}  # names reads only the contract's column
    assert "beyond the contract: id, email" in findings[f"{DB}.reports.emails"]


def test_consumes_with_columns_is_validated_and_exported(planted):
    with pytest.raises(CatalogFileError) as raised:
        catalog_file.load(text([{"service": "accounts", "columns": ["users.email", 3], "extra": 1}]))
    problems = "\n".join(raised.value.problems)
    assert "services[1].consumes[0].columns[0]: expected SCHEMA.TABLE.COLUMN, got 'users.email'" in problems
    assert "services[1].consumes[0].columns[1]: expected SCHEMA.TABLE.COLUMN, got 3" in problems
    assert "services[1].consumes[0].extra: unknown key" in problems
    exported = {s["name"]: s for s in catalog_file.export()["services"]}
    # quotes only where a name needs them (a dot or a quote): a space does not
    assert exported["reports"]["consumes"] == [{"service": "accounts", "columns": ["accounts.users.full name"]}]
    assert not catalog_file.apply(catalog_file.load(catalog_file.dump(catalog_file.export()))).changed


def test_map_json_edges_carry_their_columns(planted):
    document = json.loads(ownership_map.render("json"))
    by_object = {(e["kind"], e["object"]): e["columns"] for e in document["edges"] if e["cluster"] == "cols"}
    assert by_object[("view", f"{DB}.reports.emails")] == ["id", "email"]
    assert by_object[("view", f"{DB}.reports.email_domains")] == ["id", "email"]  # through emails: its reads
    assert by_object[("fk", f"{DB}.reports.visits")] == ["id"]
