"""The JSON API of the transaction hazards (issue 17): a cluster's prepared transactions, vacuum horizon holders and
wraparound, from its nodes' snapshots (never from a monitored server). Mounted under /api/v1/ by dashboard.api."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema

from catalog import ages
from catalog.models import Cluster

from . import fragments, hazards, pools
from .pools_api import encoded, shaped, unavailable

router = Router(tags=["transactions"])


class Prepared(Schema):
    gid: str
    service: str | None  # the service listing the owner role in db_roles
    team: str | None
    owner: str
    database: str
    age_seconds: float | None  # since PREPARE TRANSACTION
    xmin_age: int | None
    status: str  # OK, WARN, CRIT
    commit: str  # the statement an operator would run (in that database); Seamline never runs it
    rollback: str


class Holder(Schema):
    node: str
    holder_kind: str  # session, prepared, slot, replica
    name: str  # application_name (or role), gid, slot name, replica's application_name
    pid: int | None
    service: str | None
    team: str | None
    database: str | None
    state: str | None
    xmin_age: int  # transactions it holds the horizon back by
    age_seconds: float | None  # how long: the transaction's age, or how long Seamline has seen it held
    status: str


class OldestTable(Schema):
    schema_: str = Field(alias="schema")
    name: str
    xid_age: int
    mxid_age: int
    service: str | None  # owning the table's schema


class Wraparound(Schema):
    database: str
    xid_age: int
    mxid_age: int
    pct_to_limit: float  # xid_age as a percentage of 2^31
    freeze_max_age: int | None
    status: str
    oldest_tables: list[OldestTable]  # as the last catalog sync read them, the oldest first


class TransactionsOut(Schema):
    cluster: str
    sampled_at: datetime | None
    status: str
    reasons: list[str]
    sentence: str | None
    prepared_count: int
    prepared: list[Prepared]
    horizon: list[Holder]
    wraparound: list[Wraparound]
    thresholds: dict[str, list[int]]


@router.get(
    "/transactions/{cluster}", response=TransactionsOut, summary="Prepared transactions, vacuum horizon, wraparound"
)
def cluster_transactions(request: HttpRequest, cluster: str) -> HttpResponse:
    """Assessed once per snapshot for every client (dashboard.fragments); ages are their own at the answer."""
    live = fragments.get("api-transactions", (cluster,), lambda: _render(cluster), unavailable)
    return fragments.respond(request, live, content_type=fragments.JSON)


def _render(cluster: str) -> fragments.Rendered:
    target = get_object_or_404(Cluster.objects.prefetch_related("replicas"), name=cluster)
    views = pools.load([target], node=None, rows=False)[target.pk]
    out = shaped(TransactionsOut, hazards.assess(target, views, hazards.oldest_tables([target])[target.pk]))
    now = timezone.now()
    for row in (*out["prepared"], *out["horizon"]):
        if (since := hazards.began(row, now)) is not None:  # the age at the answer, not at the render
            row["age_seconds"] = ages.json_marker(since)
    return fragments.Rendered(encoded(out), views)
