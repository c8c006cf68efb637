"""The catalog's read-only JSON API: clusters, services, schemas, relations, cross-service paths, the ownership map.

This module holds the router only; ``dashboard.api`` mounts it at ``/api/v1/`` with authentication (catalog never
imports dashboard). Object names join the raw identifiers with dots (no quoting); ``*_parts`` carry them unambiguously.
Lists are paginated with ``limit``/``offset`` and ordered deterministically; every endpoint runs a fixed number of
queries, whatever the size of the catalog.
"""

# No `from __future__ import annotations` here, unlike everywhere else: django-ninja reads the views' signatures at
# import time, and for a paginated view it resolves string annotations in ninja's own module (the wrapper's
# globals), where names like RelationKind do not exist. Python 3.12 evaluates these annotations fine as they are.

from datetime import datetime
from typing import Annotated, Literal, TypedDict

from django.db.models import Count, F, Func, IntegerField, Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from . import map_view, versioning
from .credentials import shown_dsn
from .map_view import MAX_DEPTH
from .models import UNOWNED, Cluster, Contract, Database, Ownership, Relation, Replica, Service
from .models import Schema as DbSchema
from .paths import Edge, all_edges

MAX_LIMIT = 1000  # a larger ?limit= is clamped to this

router = Router(tags=["catalog"])
page = paginate(LimitOffsetPagination, max_limit=MAX_LIMIT)

RelationKind = Literal["table", "partitioned", "view", "matview", "foreign"]
EdgeKind = Literal["view", "fk", "grant", "function", "fdw", "dblink", "replication", "event", "runtime"]


# --- schemas ----------------------------------------------------------------------------------------------------


class ReplicaOut(Schema):
    name: str
    dsn: str

    @staticmethod
    def resolve_dsn(obj: Replica) -> str:
        return shown_dsn(obj.dsn)


class SyncedDatabaseOut(Schema):
    name: str
    owner: str
    size_bytes: int
    synced_at: datetime | None


class ClusterOut(Schema):
    name: str
    dsn: str
    password_source: Literal["none", "env", "encrypted"]
    password_env: str | None  # the variable's name, never its value
    auth: Literal["scram-sha-256", "any"]  # scram-sha-256: SCRAM required of a node not on Seamline's host
    replicas: list[ReplicaOut]
    databases: list[str]  # the databases to catalog; empty: every non-template database
    synced_databases: list[SyncedDatabaseOut]
    server_version: str | None
    max_connections: int | None
    superuser_reserved_connections: int | None
    usable_connections: int | None
    synced_at: datetime | None

    @staticmethod
    def resolve_dsn(obj: Cluster) -> str:
        return shown_dsn(obj.dsn)

    @staticmethod
    def resolve_password_source(obj: Cluster) -> str:
        if obj.encrypted_password:
            return "encrypted"
        return "env" if obj.password_env else "none"

    @staticmethod
    def resolve_password_env(obj: Cluster) -> str | None:
        return obj.password_env or None

    @staticmethod
    def resolve_replicas(obj: Cluster) -> list:
        return list(obj.replicas.all())

    @staticmethod
    def resolve_synced_databases(obj: Cluster) -> list:
        return list(obj.database_set.all())

    @staticmethod
    def resolve_server_version(obj: Cluster) -> str | None:
        return obj.server_version or None


class OwnedObject(TypedDict):
    cluster: str
    database: str
    schema: str | None  # null: the whole database


class PoolOut(Schema):
    size: int
    max_overflow: int
    instances: int
    budget: int  # (size + max_overflow) × instances: the most connections the service may open


class ServiceOut(Schema):
    name: str
    team: str
    description: str
    oncall: str
    repository_url: str
    application_names: list[str]
    db_roles: list[str]
    pool: PoolOut
    owns: list[str]  # database.schema, or database for a whole database
    ownerships: list[OwnedObject]
    consumes: list[str]  # declared contracts: providers this service may read
    consumed_by: list[str]  # declared contracts: consumers that may read this service

    @staticmethod
    def resolve_pool(obj: Service) -> dict:
        return {
            "size": obj.pool_size,
            "max_overflow": obj.max_overflow,
            "instances": obj.instances,
            "budget": obj.connection_budget,
        }

    @staticmethod
    def resolve_owns(obj: Service) -> list[str]:
        return [o.label for o in obj.ownerships.all()]

    @staticmethod
    def resolve_ownerships(obj: Service) -> list[dict]:
        return [
            {"cluster": o.cluster.name, "database": o.database, "schema": o.schema or None}
            for o in obj.ownerships.all()
        ]

    @staticmethod
    def resolve_consumes(obj: Service) -> list[str]:
        return sorted(c.provider.name for c in obj.contracts_out.all())

    @staticmethod
    def resolve_consumed_by(obj: Service) -> list[str]:
        return sorted(c.consumer.name for c in obj.contracts_in.all())


class EdgeOut(Schema):
    """A cross-service path, exactly as ``Edge.as_dict()`` and the ownership map's JSON give it."""

    consumer: str
    provider: str  # "(unowned)": a relation in a schema no service owns; "(outside the catalog)": fdw, not catalogued
    kind: EdgeKind
    object: str
    source: str
    object_parts: list[str]
    source_parts: list[str]
    declared: bool
    cluster: str
    privileges: list[str] | None = None  # grant paths only
    via: list[str] | None = None  # view paths through other views only
    access: Literal["read", "write"] | None = None  # runtime paths, and function paths found in the body
    calls: int | None = None  # runtime paths only: in the window
    recorded: bool | None = None  # function paths: PostgreSQL records the dependency
    parsed: bool | None = None  # function paths: the function's body names the relation
    assumed_search_path: bool | None = None  # parsed function paths: resolved along the function's schema, public
    source_cluster: str | None = None  # fdw, dblink, replication paths: the source's cluster (HOST:PORT outside)
    server: str | None = None  # fdw paths: the foreign server
    subscription: str | None = None  # replication paths: the subscription filling the copy
    columns: list[str] = []  # the source's columns the path uses; empty: none in particular, or not known
    used: bool | None = None  # catalog paths, where what runs is observed: its consumer's statements touched it


class ServiceDetailOut(ServiceOut):
    inbound: list[EdgeOut]  # other services reaching into this one's data
    outbound: list[EdgeOut]  # this service reaching into other services' data


class SchemaOut(Schema):
    cluster: str
    database: str
    name: str
    label: str  # database.schema
    parts: list[str]
    owner: str  # PostgreSQL owner role
    service: str | None  # owning service; null: unowned
    comment: str
    relation_count: int

    @staticmethod
    def resolve_cluster(obj: DbSchema) -> str:
        return obj.database.cluster.name

    @staticmethod
    def resolve_database(obj: DbSchema) -> str:
        return obj.database.name

    @staticmethod
    def resolve_label(obj: DbSchema) -> str:
        return f"{obj.database.name}.{obj.name}"

    @staticmethod
    def resolve_parts(obj: DbSchema) -> list[str]:
        return [obj.database.name, obj.name]

    @staticmethod
    def resolve_service(obj: DbSchema) -> str | None:
        return obj.service.name if obj.service else None


class RelationOut(Schema):
    cluster: str
    name: str  # database.schema.relation
    parts: list[str]
    kind: RelationKind
    owner: str  # PostgreSQL owner role
    service: str | None  # owning service; null: unowned
    estimated_rows: int | None
    size_bytes: int
    has_primary_key: bool
    column_count: int
    comment: str

    @staticmethod
    def resolve_cluster(obj: Relation) -> str:
        return obj.schema.database.cluster.name

    @staticmethod
    def resolve_name(obj: Relation) -> str:
        return ".".join((obj.schema.database.name, obj.schema.name, obj.name))

    @staticmethod
    def resolve_parts(obj: Relation) -> list[str]:
        return [obj.schema.database.name, obj.schema.name, obj.name]

    @staticmethod
    def resolve_service(obj: Relation) -> str | None:
        return obj.schema.service.name if obj.schema.service else None

    @staticmethod
    def resolve_column_count(obj: Relation) -> int:
        return obj.n_columns


class MapServiceOut(Schema):
    name: str
    team: str
    owns: list[str]


class OwnershipMapOut(Schema):
    services: list[MapServiceOut]
    edges: list[EdgeOut]


class TeamNodeOut(Schema):
    name: str  # a team, "(no team)", "(unowned)", or a service of an expanded team
    services: list[str]
    internal: int  # paths between services inside the node


class TeamEdgeOut(Schema):
    consumer: str
    provider: str
    count: int
    declared: int
    undeclared: int


class TeamMapOut(Schema):
    nodes: list[TeamNodeOut]
    edges: list[TeamEdgeOut]


# --- endpoints --------------------------------------------------------------------------------------------------


def _services() -> QuerySet[Service]:
    return Service.objects.prefetch_related(
        Prefetch("ownerships", queryset=Ownership.objects.select_related("cluster")),
        Prefetch("contracts_out", queryset=Contract.objects.select_related("provider")),
        Prefetch("contracts_in", queryset=Contract.objects.select_related("consumer")),
    ).order_by("name")


def _cluster_ids(cluster: str | None) -> list[int] | None:
    """The ids to filter edges by: None for every cluster; an unknown name gives no edges rather than all."""
    if cluster is None:
        return None
    return list(Cluster.objects.filter(name=cluster).values_list("pk", flat=True))


@router.get("/clusters", response=list[ClusterOut], summary="Monitored clusters (never a password)")
@page
def list_clusters(request: HttpRequest) -> QuerySet[Cluster]:
    return Cluster.objects.prefetch_related(
        "replicas", Prefetch("database_set", queryset=Database.objects.order_by("name"))
    ).order_by("name")


@router.get("/services", response=list[ServiceOut], summary="Services, what they own and their declared contracts")
@page
def list_services(request: HttpRequest, team: str | None = None) -> QuerySet[Service]:
    services = _services()
    return services.filter(team=team) if team is not None else services


@router.get(
    "/services/{path:name}",
    response=ServiceDetailOut,
    exclude_unset=True,
    summary="One service, with its inbound and outbound cross-service paths",
)
def get_service(request: HttpRequest, name: str) -> Service:
    service = _services().filter(name=name).first()
    if service is None:
        raise HttpError(404, _("No service named %(name)s.") % {"name": name})
    edges = [e.as_dict() for e in all_edges()]
    service.inbound = [e for e in edges if e["provider"] == name]
    service.outbound = [e for e in edges if e["consumer"] == name]
    return service


@router.get("/schemas", response=list[SchemaOut], summary="Synced schemas and their owning service")
@page
def list_schemas(request: HttpRequest, cluster: str | None = None, database: str | None = None) -> QuerySet[DbSchema]:
    schemas = DbSchema.objects.select_related("database__cluster", "service").annotate(
        relation_count=Count("relations")
    )
    if cluster is not None:
        schemas = schemas.filter(database__cluster__name=cluster)
    if database is not None:
        schemas = schemas.filter(database__name=database)
    return schemas.order_by("database__cluster__name", "database__name", "name")


@router.get("/relations", response=list[RelationOut], summary="Synced relations and their owning service")
@page
def list_relations(
    request: HttpRequest,
    cluster: str | None = None,
    service: str | None = None,
    kind: RelationKind | None = None,
) -> QuerySet[Relation]:
    relations = (
        Relation.objects.select_related("schema__database__cluster", "schema__service")
        .defer("columns")
        .annotate(n_columns=Func(F("columns"), function="cardinality", output_field=IntegerField()))
    )
    if cluster is not None:
        relations = relations.filter(schema__database__cluster__name=cluster)
    if service == UNOWNED:
        relations = relations.filter(schema__service__isnull=True)
    elif service is not None:
        relations = relations.filter(schema__service__name=service)
    if kind is not None:
        relations = relations.filter(kind=kind)
    return relations.order_by("schema__database__cluster__name", "schema__database__name", "schema__name", "name")


@router.get("/paths", response=list[EdgeOut], exclude_unset=True, summary="Cross-service paths")
@page
def list_paths(
    request: HttpRequest,
    cluster: str | None = None,
    kind: EdgeKind | None = None,
    service: str | None = None,
    declared: bool | None = None,
) -> list[dict]:
    edges: list[Edge] = all_edges(_cluster_ids(cluster))
    return [
        e.as_dict()
        for e in edges
        if (kind is None or e.kind == kind)
        and (service is None or service in (e.consumer, e.provider))
        and (declared is None or e.declared == declared)
    ]


@router.get(
    "/ownership-map",
    response={200: OwnershipMapOut | TeamMapOut},
    exclude_unset=True,
    summary="The ownership map: services, what they own, every cross-service path; by team, or around a service",
)
def ownership_map(
    request: HttpRequest,
    cluster: str | None = None,
    group_by: Literal["service", "team"] = "service",
    expand: Annotated[list[str] | None, Query(description="with group_by=team: show this team's services")] = None,
    focus: Annotated[str | None, Query(description="only the services within `depth` hops of this one")] = None,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH, description="hops from `focus`")] = 1,
    kind: Annotated[list[EdgeKind] | None, Query(description="only paths of these kinds (default: all)")] = None,
) -> dict:
    """``group_by=team``: the team document, one node per team (plus ``(no team)`` and ``(unowned)``) and an edge per
    ordered pair of teams with its number of paths; ``focus``: the service document restricted to the neighbourhood.
    The same view as the web map with the same parameters (``level`` there is ``group_by`` here)."""
    try:
        with versioning.pinned():
            shown = map_view.view(map_view.Query.of(group_by, cluster, focus, depth, expand, kind))
    except map_view.InvalidQuery as exc:
        status = 404 if cluster and not Cluster.objects.filter(name=cluster).exists() else 400
        raise HttpError(status, str(exc)) from exc
    return shown.document()
