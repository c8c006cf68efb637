"""A cluster's workload over a window, from the stored statements samples: each service's (and the unattributed
statements', and a shared role's) calls and execution time, its share of the time, its top statements, and the
run-time paths: a statement of service A's role that reads or writes a relation service B owns.

What the manage.py ``workload`` command prints and the API serves (the JSON shape is documented in docs/cli.md).
Names of relations are resolved as the server would: a qualified one as written; an unqualified one through the
service's ``search_path`` (catalog file), else ``"$user", public``, to the first schema of the path where the
catalog's last sync found it. A name that resolves nowhere is counted as unresolved, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from catalog.models import Cluster, Relation, Service
from dashboard.models import StatementInterval, StatementRollup, StatementSample, StatementText
from dashboard.nodes import PRIMARY

from . import state, texts

WINDOWS = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
TOP = 10  # statements listed per service
DEFAULT_SEARCH_PATH = ("$user", "public")


@dataclass(frozen=True)
class Path:
    consumer: str
    provider: str
    relation: str  # database.schema.relation, raw names
    access: str  # read | write
    calls: int
    total_ms: float
    parts: tuple[str, str, str] = ("", "", "")  # database, schema, relation

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "provider": self.provider,
            "relation": self.relation,
            "access": self.access,
            "calls": self.calls,
            "total_ms": self.total_ms,
        }


@dataclass(frozen=True)
class Observed:
    """What ran on a cluster since a moment: the run-time paths, and the relations each service's statements
    touched (resolved; its own included)."""

    paths: list[Path]
    touched: dict[str, set[tuple[str, str, str]]]


def observed(cluster: Cluster, since: datetime, now: datetime | None = None) -> Observed:
    return observed_many([cluster.pk], since, now).get(cluster.pk, Observed([], {}))


def observed_many(cluster_ids: list[int] | None, since: datetime, now: datetime | None = None) -> dict[int, Observed]:
    """What ran on these clusters (None: every one) since ``since``, per cluster, in a fixed number of queries."""
    now = now or timezone.now()
    window = "7d" if now - since > WINDOWS["6h"] else "1h"  # the rollups beyond hours
    rows = stored(None, since, now, window)
    if cluster_ids is not None:
        rows = rows.filter(cluster_id__in=cluster_ids)
    by_cluster: dict[int, list[dict]] = defaultdict(list)
    for g in rows.values("cluster_id", "service", "shared", "queryid", "database", "role").annotate(
        calls=Sum("calls"), total_ms=Sum("total_ms")
    ):
        by_cluster[g["cluster_id"]].append(g)
    if not by_cluster:
        return {}
    texts_of: dict[int, dict[int, StatementText]] = defaultdict(dict)
    for t in StatementText.objects.filter(
        cluster_id__in=list(by_cluster), queryid__in={g["queryid"] for gs in by_cluster.values() for g in gs}
    ):
        texts_of[t.cluster_id][t.queryid] = t
    resolvers = Resolver.for_clusters(list(by_cluster))
    found = {}
    for cluster_id, grouped in by_cluster.items():
        touched: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
        paths, _ = runtime_paths(None, grouped, texts_of[cluster_id], touched, resolvers[cluster_id])
        found[cluster_id] = Observed(paths, touched)
    return found


def summary(
    cluster: Cluster,
    window: str = "1h",
    node: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The workload of ``cluster`` (one node, or every node) in the window ending ``now``."""
    now = now or timezone.now()
    rows = stored(cluster, now - WINDOWS[window], now, window)
    if node:
        rows = rows.filter(node=node)
    grouped = list(
        rows.values("service", "shared", "queryid", "database", "role").annotate(
            calls=Sum("calls"),
            total_ms=Sum("total_ms"),
            rows=Sum("rows"),
            hit=Sum("shared_blks_hit"),
            read=Sum("shared_blks_read"),
        )
    )
    intervals = StatementInterval.objects.filter(
        cluster=cluster, ended_at__gt=now - WINDOWS[window], ended_at__lte=now
    ).aggregate(
        at=Max("ended_at"),
        incomplete=Count("pk", filter=Q(evicted__gt=0)),
        resets=Count("pk", filter=Q(reset=True)),
        baselines=Count("pk", filter=Q(started_at__isnull=True)),
    )
    sampled_at = intervals["at"]
    total_ms = sum(g["total_ms"] for g in grouped) or 0.0
    known = {
        t.queryid: t
        for t in StatementText.objects.filter(
            cluster=cluster, queryid__in={g["queryid"] for g in grouped if g["queryid"]}
        )
    }
    teams = dict(Service.objects.values_list("name", "team"))
    parts: dict[tuple[str, bool], list[dict]] = defaultdict(list)
    for g in grouped:
        parts[(g["service"], g["shared"])].append(g)

    def part(name: str, entries: list[dict]) -> dict[str, Any]:
        calls, spent = sum(e["calls"] for e in entries), sum(e["total_ms"] for e in entries)
        top = sorted((e for e in entries if e["queryid"]), key=lambda e: (-e["total_ms"], e["queryid"]))[:TOP]
        return {
            "service": name,
            "team": teams.get(name, ""),
            "calls": calls,
            "total_ms": round(spent, 3),
            "share": round(spent / total_ms, 4) if total_ms else 0.0,
            "top": [_statement(e, known.get(e["queryid"])) for e in top],
        }

    services = [part(name, entries) for (name, shared), entries in parts.items() if name and not shared]
    services.sort(key=lambda s: (-s["total_ms"], s["service"]))
    if service:
        services = [s for s in services if s["service"] == service]
    paths, unresolved = runtime_paths(cluster, grouped, known)
    return {
        "cluster": cluster.name,
        "node": node,
        "window": window,
        "sampled_at": sampled_at.isoformat() if sampled_at else None,
        "total_ms": round(total_ms, 3),
        # intervals in the window whose figures are partial: entries evicted (raise pg_stat_statements.max), a full
        # reset, or a baseline (a first sample, or one after the baseline was lost: its interval is not counted)
        "intervals": {k: intervals[k] for k in ("incomplete", "resets", "baselines")},
        "services": services,
        "unattributed": part("", parts.get(("", False), [])),
        "shared_role": part("", [e for (name, shared), es in parts.items() if shared for e in es]),
        "runtime_paths": [p.to_json() for p in paths],
        "unresolved": unresolved,
    }


def _statement(entry: dict, text: StatementText | None) -> dict[str, Any]:
    hits, reads = entry["hit"] or 0, entry["read"] or 0
    return {
        "queryid": entry["queryid"],
        "database": entry["database"],
        "role": entry["role"],
        "calls": entry["calls"],
        "total_ms": round(entry["total_ms"], 3),
        "mean_ms": round(entry["total_ms"] / entry["calls"], 3) if entry["calls"] else 0.0,
        "rows": entry["rows"],
        "cache_hit_ratio": round(hits / (hits + reads), 4) if hits + reads else None,
        "command": text.command if text else None,
        "text_masked": text.text if text else None,
        "relations": [{"schema": r[0], "name": r[1], "access": r[2]} for r in text.relations] if text else [],
    }


class Resolver:
    """Relations of one cluster as the last sync found them (which exist, and which service owns each), the
    services' declared search_path and the server's own settings."""

    def __init__(
        self,
        owner: dict[tuple[str, str, str], str | None],
        declared: dict[str, list[str]],
        settings: dict[tuple[str | None, str | None], str],
    ) -> None:
        self.owner, self.declared, self.settings = owner, declared, settings

    @classmethod
    def for_clusters(cls, cluster_ids: list[int]) -> dict[int, Resolver]:
        """A resolver per cluster: two queries and one Redis read, whatever the number of clusters."""
        owners: dict[int, dict[tuple[str, str, str], str | None]] = {pk: {} for pk in cluster_ids}
        for cluster_id, database, schema, name, service in Relation.objects.filter(
            schema__database__cluster_id__in=cluster_ids
        ).values_list(
            "schema__database__cluster_id", "schema__database__name", "schema__name", "name", "schema__service__name"
        ):
            owners[cluster_id][(database, schema, name)] = service
        declared = {name: list(path) for name, path in Service.objects.values_list("name", "search_path") if path}
        # the servers' own settings (ALTER ROLE/DATABASE ... SET search_path), as each primary's last sample read them
        primaries = state.read_states([(pk, PRIMARY) for pk in cluster_ids])
        return {
            pk: cls(
                owners[pk],
                declared,
                {
                    (role, db): value
                    for role, db, value in (primaries.get((pk, PRIMARY)) or {}).get("search_paths") or []
                },
            )
            for pk in cluster_ids
        }

    def search_path(self, database: str, role: str, service: str) -> list[str] | None:
        """As PostgreSQL would set it for the service's sessions: the service's declared one (its DSN's), else the
        role's in that database, the role's, the database's, else the default. None: a setting that is not a
        list of names (it cannot be resolved)."""
        if service in self.declared:
            return [role if p == "$user" else p for p in self.declared[service]]
        for key in ((role, database), (role, None), (None, database)):
            if key in self.settings:
                try:
                    return texts.search_path_of(self.settings[key], role)
                except ValueError:
                    return None
        return [role if p == "$user" else p for p in DEFAULT_SEARCH_PATH]

    def resolve(self, database: str, role: str, service: str, use: texts.RelationUse) -> tuple[str, str] | None:
        path = self.search_path(database, role, service)
        if path is None and use.schema is None:
            return None
        return texts.resolve(use, path or [], lambda schema, name: (database, schema, name) in self.owner)


def runtime_paths(
    cluster: Cluster | None,
    grouped: list[dict],
    known: dict[int, StatementText],
    touched: dict[str, set[tuple[str, str, str]]] | None = None,
    resolver: Resolver | None = None,
) -> tuple[list[Path], list[dict[str, Any]]]:
    """The window's run-time paths (per consumer, provider, relation and access, the calls and time of the
    statements that took them), and the statements that could not say: texts that did not parse, names that
    resolve to no relation the catalog knows (a temporary table, one created since the last sync), each listed."""
    if resolver is None:
        assert cluster is not None
        resolver = Resolver.for_clusters([cluster.pk])[cluster.pk]
    found: dict[tuple[str, str, str, str, tuple[str, str, str]], list[float]] = defaultdict(lambda: [0, 0.0])
    unresolved: list[dict[str, Any]] = []
    for g in grouped:
        text = known.get(g["queryid"])
        consumer = g["service"]
        if text is None or not consumer or g["shared"] or text.utility:
            continue
        if not text.parsed:
            unresolved.append({"queryid": g["queryid"], "service": consumer, "reason": "unparsed", "name": None})
            continue
        for schema, name, access in text.relations:
            where = resolver.resolve(g["database"], g["role"], consumer, texts.RelationUse(schema, name, access))
            if where is None:
                unresolved.append(
                    {
                        "queryid": g["queryid"],
                        "service": consumer,
                        "reason": "unresolved",
                        "name": f"{schema}.{name}" if schema else name,
                    }
                )
                continue
            if touched is not None:
                touched[consumer].add((g["database"], *where))
            provider = resolver.owner.get((g["database"], *where))
            if provider and provider != consumer:
                parts = (g["database"], where[0], where[1])
                figures = found[(consumer, provider, ".".join(parts), access, parts)]
                figures[0] += g["calls"]
                figures[1] += g["total_ms"]
    paths = [
        Path(consumer, provider, relation, access, int(calls), round(ms, 3), parts)
        for (consumer, provider, relation, access, parts), (calls, ms) in sorted(found.items())
    ]
    return paths, sorted(unresolved, key=lambda u: (u["service"], u["queryid"], u["name"] or ""))


# --- the Workload page ------------------------------------------------------------------------------------------

BUCKETS = {"1h": 60, "6h": 300, "24h": 3600, "7d": 3600}  # seconds per point of the chart
ROLLED_UP = {"24h", "7d"}  # windows read from the hourly rollups, at an hour's granularity


def stored(cluster: Cluster | None, start: datetime, end: datetime, window: str) -> QuerySet:
    """The stored deltas of (start, end] (of one cluster, or None: of all): the samples, or for a window of a day or
    more their hourly rollups (the hours that overlap it: up to an hour more at its start)."""
    if window in ROLLED_UP:
        hour = start.replace(minute=0, second=0, microsecond=0)
        rows = StatementRollup.objects.filter(bucket__gte=hour, bucket__lte=end)
    else:
        rows = StatementSample.objects.filter(ended_at__gt=start, ended_at__lte=end)
    return rows if cluster is None else rows.filter(cluster=cluster)


def _point(window: str) -> RawSQL:
    """The chart point a stored row falls in."""
    column = "bucket" if window in ROLLED_UP else "ended_at"
    return RawSQL(f"date_bin(%s::interval, {column}, '2000-01-01 00:00:00+00')", [f"{BUCKETS[window]} seconds"])


REGRESSION_FACTOR = 2.0  # mean time at least this many times the previous window's
REGRESSION_CALLS = 50  # in each window


def top_statements(
    cluster: Cluster, window: str, services: set[str] | None = None, limit: int = 50, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The window's statements by execution time (the "other statements" rows apart), with their service and team;
    only ``services``' when given."""
    now = now or timezone.now()
    rows = stored(cluster, now - WINDOWS[window], now, window).exclude(queryid=0)
    if services is not None:
        rows = rows.filter(service__in=services)
    grouped = list(
        rows.values("service", "shared", "queryid", "database", "role")
        .annotate(
            calls=Sum("calls"),
            total_ms=Sum("total_ms"),
            rows=Sum("rows"),
            hit=Sum("shared_blks_hit"),
            read=Sum("shared_blks_read"),
        )
        .order_by("-total_ms", "queryid")[:limit]
    )
    known = {
        t.queryid: t for t in StatementText.objects.filter(cluster=cluster, queryid__in={g["queryid"] for g in grouped})
    }
    teams = dict(Service.objects.values_list("name", "team"))
    return [
        {
            **_statement(g, known.get(g["queryid"])),
            "service": g["service"],
            "shared": g["shared"],
            "team": teams.get(g["service"], ""),
        }
        for g in grouped
    ]


def regressions(
    cluster: Cluster, window: str, services: set[str] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Statements whose mean time in the window is at least REGRESSION_FACTOR times the previous window's, with at
    least REGRESSION_CALLS calls in each."""
    now = now or timezone.now()
    span = WINDOWS[window]

    def means(start: datetime, end: datetime) -> dict[tuple, tuple[int, float]]:
        rows = stored(cluster, start, end, window).exclude(queryid=0)
        if services is not None:
            rows = rows.filter(service__in=services)
        return {
            (g["service"], g["queryid"], g["database"], g["role"]): (g["calls"], g["total_ms"])
            for g in rows.values("service", "queryid", "database", "role").annotate(
                calls=Sum("calls"), total_ms=Sum("total_ms")
            )
            if g["calls"] >= REGRESSION_CALLS
        }

    now_means, before = means(now - span, now), means(now - 2 * span, now - span)
    found = []
    for key, (calls, total) in now_means.items():
        if key not in before:
            continue
        then_calls, then_total = before[key]
        mean, then_mean = total / calls, then_total / then_calls
        if then_mean > 0 and mean >= REGRESSION_FACTOR * then_mean:
            found.append(
                {
                    "service": key[0],
                    "queryid": key[1],
                    "database": key[2],
                    "role": key[3],
                    "calls": calls,
                    "mean_ms": round(mean, 3),
                    "previous_calls": then_calls,
                    "previous_mean_ms": round(then_mean, 3),
                    "factor": round(mean / then_mean, 1),
                }
            )
    known = {
        t.queryid: t for t in StatementText.objects.filter(cluster=cluster, queryid__in={f["queryid"] for f in found})
    }
    for f in found:
        text = known.get(f["queryid"])
        f["text_masked"], f["command"] = (text.text, text.command) if text else (None, None)
    return sorted(found, key=lambda f: -f["factor"])


def time_series(
    cluster: Cluster, window: str, by: str = "service", now: datetime | None = None
) -> tuple[list[datetime], dict[str, list[float | None]]]:
    """Execution time (ms) per chart bucket, per service or per team ("" for the unattributed and shared roles)."""
    now = now or timezone.now()
    rows = (
        stored(cluster, now - WINDOWS[window], now, window)
        .annotate(point=_point(window))
        .values("point", "service")
        .annotate(total_ms=Sum("total_ms"))
        .order_by("point")
    )
    teams = dict(Service.objects.values_list("name", "team")) if by == "team" else {}
    series: dict[str, dict[datetime, float]] = defaultdict(dict)
    sampled: set[datetime] = set()
    for row in rows:
        sampled.add(row["point"])
        name = teams.get(row["service"], "") if by == "team" else row["service"]
        series[name][row["point"]] = series[name].get(row["point"], 0.0) + row["total_ms"]
    if not sampled:
        return [], {}
    # every point from the first to the last: a stretch with no sample is a gap in the chart (None), not a ramp
    step = timedelta(seconds=BUCKETS[window])
    buckets = [min(sampled) + i * step for i in range(int((max(sampled) - min(sampled)) / step) + 1)]
    return buckets, {
        name: [points.get(b, 0.0) if b in sampled else None for b in buckets] for name, points in sorted(series.items())
    }


def statement_series(
    cluster: Cluster, queryid: int, window: str, now: datetime | None = None
) -> tuple[list[datetime], list[int], list[float | None]]:
    """One statement's calls and mean time per chart bucket."""
    now = now or timezone.now()
    rows = (
        stored(cluster, now - WINDOWS[window], now, window)
        .filter(queryid=queryid)
        .annotate(point=_point(window))
        .values("point")
        .annotate(calls=Sum("calls"), total_ms=Sum("total_ms"))
        .order_by("point")
    )
    buckets, calls, mean = [], [], []
    for row in rows:
        buckets.append(row["point"])
        calls.append(row["calls"])
        mean.append(row["total_ms"] / row["calls"] if row["calls"] else None)
    return buckets, calls, mean
