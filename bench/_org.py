"""A generated organisation for the ownership map (issue 15): services in teams owning one schema each across a few
databases of one cluster, and cross-service views, foreign keys and grants between them, written straight into
Seamline's catalog (what a sync of such a cluster would store) in one transaction.

Deterministic for a seed. Each path is one catalog row: a view in the consumer's schema reading one of the
provider's tables, a table of the consumer referencing one of the provider's tables, or a grant on one of the
provider's tables to the consumer's role; a few views read an unowned ``public`` table. Providers are drawn from the
few teams each team reads from (most of a "lower" layer, some of a higher one, which closes cycles), a tenth from the
consumer's own team. About a third of the (consumer, provider) pairs are covered by a contract. Used by
``bench/map.py`` and the map's tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TABLES = 5  # per service schema
UNOWNED_SHARE = 0.03  # of the paths: views over public.shared_<n>


@dataclass(frozen=True)
class Org:
    cluster: str
    services: int
    teams: int
    databases: int
    paths: int


def build(
    cluster: str = "org", services: int = 200, teams: int = 25, databases: int = 4, paths: int = 2000, seed: int = 15
) -> Org:
    """The organisation in the catalog under the cluster ``cluster`` (replacing one of that name)."""
    from django.db import connection, transaction

    from catalog import versioning
    from catalog.models import Cluster, Contract, Database, Dependency, Grant, Ownership, Relation, Schema, Service

    rng = random.Random(seed)
    prefix = f"{cluster}-"
    with transaction.atomic():
        drop(cluster)
        target = Cluster.objects.create(name=cluster, dsn=f"host=127.0.0.1 dbname={cluster}_1 connect_timeout=1")
        dbs = [Database.objects.create(cluster=target, name=f"{cluster}_{d + 1}") for d in range(databases)]
        svcs = Service.objects.bulk_create(
            Service(
                name=f"{prefix}svc-{i + 1:03d}", team=f"{prefix}team-{i % teams + 1:02d}", db_roles=[f"role_{i + 1}"]
            )
            for i in range(services)
        )
        Ownership.objects.bulk_create(
            Ownership(service=s, cluster=target, database=dbs[i % databases].name, schema=f"svc_{i + 1:03d}")
            for i, s in enumerate(svcs)
        )
        schemas = Schema.objects.bulk_create(
            Schema(database=dbs[i % databases], name=f"svc_{i + 1:03d}", service=s) for i, s in enumerate(svcs)
        )
        public = Schema.objects.bulk_create(Schema(database=db, name="public") for db in dbs)
        tables = Relation.objects.bulk_create(
            Relation(schema=schema, name=f"t{t + 1}", kind=Relation.Kind.TABLE, has_primary_key=True)
            for schema in schemas
            for t in range(TABLES)
        )
        shared = Relation.objects.bulk_create(
            Relation(schema=schema, name=f"shared_{n + 1}", kind=Relation.Kind.TABLE)
            for schema in public
            for n in range(3)
        )
        table_of = {(i, t): tables[i * TABLES + t] for i in range(services) for t in range(TABLES)}
        by_db: dict[int, list[int]] = {}
        for i in range(services):
            by_db.setdefault(i % databases, []).append(i)

        # each team reads from a few teams of a "lower" layer (higher numbers), and a few teams also from a higher
        # one, which closes cycles; a tenth of the paths stay inside the consumer's team
        provider_teams = {t: rng.sample(range(t + 1, teams), min(3, teams - t - 1)) for t in range(teams)}
        for t in rng.sample(range(1, teams), min(3, teams - 1)):
            provider_teams[t].append(rng.randrange(t))

        def provider_for(consumer: int) -> int:
            same_db = [j for j in by_db[consumer % databases] if j != consumer]
            team = consumer % teams
            if provider_teams[team] and rng.random() >= 0.1:
                team = rng.choice(provider_teams[team])
            return rng.choice([j for j in same_db if j % teams == team] or same_db)

        views, deps, grants, pairs = [], [], [], set()
        seen_fk, seen_grant = set(), set()
        made = 0
        while made < paths:
            consumer = rng.randrange(services)
            roll = rng.random()
            if roll < UNOWNED_SHARE:
                source = shared[(consumer % databases) * 3 + rng.randrange(3)]
                views.append((consumer, source))
                made += 1
                continue
            provider = provider_for(consumer)
            source = table_of[(provider, rng.randrange(TABLES))]
            if roll < 0.5:
                views.append((consumer, source))
            elif roll < 0.8:
                key = (consumer, rng.randrange(TABLES), source.pk)
                if key in seen_fk:
                    continue
                seen_fk.add(key)
                deps.append((table_of[key[:2]], source))
            else:
                key = (consumer, source.pk)
                if key in seen_grant:
                    continue
                seen_grant.add(key)
                grants.append(Grant(relation=source, grantee=f"role_{consumer + 1}", privileges=["SELECT"]))
            pairs.add((consumer, provider))
            made += 1
        view_rows = Relation.objects.bulk_create(
            Relation(schema=schemas[consumer], name=f"v{n + 1}", kind=Relation.Kind.VIEW)
            for n, (consumer, _source) in enumerate(views)
        )
        Dependency.objects.bulk_create(
            [
                Dependency(kind=Dependency.Kind.VIEW, consumer_relation=view, source=source)
                for view, (_consumer, source) in zip(view_rows, views, strict=True)
            ]
            + [
                Dependency(kind=Dependency.Kind.FK, consumer_relation=table, source=source, name=f"fk_{n + 1}")
                for n, (table, source) in enumerate(deps)
            ]
        )
        Grant.objects.bulk_create(grants)
        Contract.objects.bulk_create(
            Contract(consumer=svcs[c], provider=svcs[p]) for c, p in sorted(pairs) if rng.random() < 1 / 3
        )
        versioning.bump()
        with connection.cursor() as cursor:  # as autovacuum would after a sync: plans for the sizes just written
            for model in (Database, Schema, Relation, Dependency, Grant, Service, Ownership, Contract):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return Org(cluster, services, teams, databases, paths)


def drop(cluster: str = "org") -> None:
    """The organisation out of the catalog: its cluster (and with it everything synced) and its services."""
    from catalog import versioning
    from catalog.models import Cluster, Service

    Cluster.objects.filter(name=cluster).delete()
    Service.objects.filter(name__startswith=f"{cluster}-svc-").delete()
    versioning.bump()
