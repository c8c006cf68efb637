"""Transaction hazards (issue 17): prepared transactions left behind, what holds each node's vacuum horizon back, and
how close each database is to transaction-ID wraparound, each named by service, with OK / WARN / CRIT against the
cluster's thresholds (catalog.models.Cluster).

At sampling time (``horizon``) a node's holders are gathered from what its sample read: sessions with an xmin
(attributed like any session), prepared transactions, replication slots with an xmin or a catalog xmin (attributed to
the service consuming the slot, where one is), and standbys' feedback (``pg_stat_replication.backend_xmin``: that
replica holds it). A holder's age in time is the server's where it knows one (a transaction's start, a prepared
transaction's), else how long Seamline has seen the holder hold that same xmin (kept from snapshot to snapshot).

``assess`` judges one cluster's node views (never the servers): the JSON of ``manage.py transactions``, the API, the
Transactions page, /api/v1/health and /metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from catalog.ages import duration
from catalog.models import Cluster, Database, Schema, Service

from .nodes import PRIMARY
from .pools import FRESH, STALE, NodeView
from .verdicts import CRIT, OK, WARN, Verdict, worst

XID_LIMIT = 2**31  # transaction ids ahead of the oldest unfrozen one when PostgreSQL stops accepting writes
HORIZON_LISTED = 10  # holders kept per node and snapshot, the oldest first
SESSION, PREPARED, SLOT, REPLICA = "session", "prepared", "slot", "replica"


def horizon(
    sessions: list[dict[str, Any]],
    prepared: list[dict[str, Any]],
    side: dict[str, Any],
    previous: dict[str, Any] | None,
    at: datetime,
    role_service: Callable[[str | None, str | None], Service | None],
) -> list[dict[str, Any]]:
    """A node's holders of the vacuum horizon, the oldest first (at most HORIZON_LISTED). ``sessions``: the
    snapshot's ``xmin_holders``; ``prepared``: the primary's prepared transactions (attributed); ``side``: the node's
    replication part; ``role_service(application_name, role)``: the service a consumer is."""
    seen_before = {
        (h["holder_kind"], h["name"], h.get("xmin")): h.get("since")
        for h in ((previous or {}).get("horizon") or [])
        if h.get("since")
    }

    def held(kind: str, name: str, xmin: int | None) -> tuple[str, float]:
        since = seen_before.get((kind, name, xmin)) or at.isoformat()
        return since, max(0.0, (at - parse_datetime(since)).total_seconds())

    found: list[dict[str, Any]] = []
    for s in sessions:
        found.append(
            {
                "holder_kind": SESSION,
                "name": s["application_name"] or s["user"],
                "pid": s["pid"],
                "service": s["service"],
                "team": s["team"],
                "database": s["database"],
                "state": s["state"],
                "xmin_age": s["xmin_age"],
                "age_seconds": s["xact_seconds"],
            }
        )
    for p in prepared:
        found.append(
            {
                "holder_kind": PREPARED,
                "name": p["gid"],
                "pid": None,
                "service": p["service"],
                "team": p["team"],
                "database": p["database"],
                "state": None,
                "xmin_age": p["xmin_age"],
                "age_seconds": p["age_seconds"],
            }
        )
    standbys = side.get("standbys") or []
    feeding = set()
    slots = {slot["slot_name"]: slot for slot in side.get("slots") or []}
    for r in standbys:
        # hot_standby_feedback: the standby's xmin, on its connection, or on the physical slot it streams through
        slot = slots.get(r.get("slot_name")) or {}
        xmin, xmin_age = (
            (r.get("xmin"), r.get("xmin_age"))
            if r.get("xmin_age") is not None
            else (
                slot.get("xmin"),
                slot.get("xmin_age"),
            )
        )
        if xmin_age is None:
            continue
        name = r.get("application_name") or str(r.get("client_addr") or r["pid"])
        feeding.add(r.get("slot_name"))
        since, seconds = held(REPLICA, name, xmin)
        found.append(
            {
                "holder_kind": REPLICA,
                "name": name,
                "pid": r["pid"],
                "service": None,
                "team": None,
                "database": None,
                "state": r.get("state"),
                "xmin_age": xmin_age,
                "age_seconds": seconds,
                "xmin": xmin,
                "since": since,
            }
        )
    for slot in side.get("slots") or []:
        for column in ("xmin", "catalog_xmin"):
            if slot.get(f"{column}_age") is None or (column == "xmin" and slot["slot_name"] in feeding):
                continue  # a standby's feedback through its slot is listed once, as that replica's
            consumer = role_service(slot.get("consumer_application"), slot.get("consumer_user"))
            since, seconds = held(SLOT, slot["slot_name"], slot.get(column))
            found.append(
                {
                    "holder_kind": SLOT,
                    "name": slot["slot_name"],
                    "pid": None,
                    "service": consumer.name if consumer else None,
                    "team": consumer.team if consumer else None,
                    "database": slot.get("database"),
                    "state": ("active" if slot.get("active") else "inactive")
                    + (" (catalog)" if column == "catalog_xmin" else ""),
                    "xmin_age": slot[f"{column}_age"],
                    "age_seconds": seconds,
                    "xmin": slot.get(column),
                    "since": since,
                }
            )
    found.sort(key=lambda h: (-(h["xmin_age"] or 0), h["holder_kind"], str(h["name"])))
    return found[:HORIZON_LISTED]


def _elapsed(view: NodeView) -> float:
    """Seconds since the view's snapshot was taken: what ages read then have grown by."""
    return view.age_seconds or 0.0


def _grown(seconds: float | None, by: float) -> float | None:
    return None if seconds is None else round(seconds + by, 1)


def _level(value: float | None, warn: float, crit: float) -> str:
    if value is None:
        return OK
    return CRIT if value >= crit else WARN if value >= warn else OK


def began(row: dict[str, Any], now: datetime) -> datetime | None:
    """When a prepared transaction or a holder began (``now`` less its age): what a page shows as an age that moves."""
    return None if row["age_seconds"] is None else now - timedelta(seconds=row["age_seconds"])


def literal(text: str) -> str:
    """A string as an SQL literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"


def oldest_tables(clusters: list[Cluster]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Per cluster and database, its tables with the oldest frozen xid as the last sync read them, each with the
    service owning its schema (None: unowned). Two queries, whatever the number of clusters."""
    by_db: dict[int, dict[str, list[dict[str, Any]]]] = {c.pk: {} for c in clusters}
    rows = Database.objects.filter(cluster__in=clusters).values_list("cluster_id", "name", "oldest_tables")
    wanted = set()
    for cluster_id, name, tables in rows:
        by_db[cluster_id][name] = [dict(t) for t in tables or []]
        wanted.update(t["schema"] for t in tables or [])
    owners = {
        (cluster_id, db, schema): service
        for cluster_id, db, schema, service in Schema.objects.filter(
            database__cluster__in=clusters, name__in=wanted, service__isnull=False
        ).values_list("database__cluster_id", "database__name", "name", "service__name")
    }
    for cluster_id, databases in by_db.items():
        for db, tables in databases.items():
            for t in tables:
                t["service"] = owners.get((cluster_id, db, t["schema"]))
    return by_db


def assess(
    cluster: Cluster, views: list[NodeView], oldest: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """The cluster's transaction hazards (the JSON of ``manage.py transactions``); ``oldest``: per database, its
    oldest tables (``oldest_tables``), added to its wraparound row."""
    verdict = Verdict()
    primary = next(v for v in views if v.name == PRIMARY)
    usable = [v for v in views if v.status in (FRESH, STALE) and v.snapshot]
    for v in views:
        if v.status not in (FRESH, STALE):
            verdict.add(WARN, _("%(node)s has no current sample: its hazards are unknown") % {"node": v.name})
    part = (primary.snapshot or {}).get("transactions") if primary in usable else None

    prepared = []
    for p in (part or {}).get("prepared") or []:
        age = _grown(p["age_seconds"], _elapsed(primary))
        status = _level(age, cluster.prepared_warn_seconds, cluster.prepared_crit_seconds)
        if status != OK:
            verdict.add(
                status,
                _("prepared transaction %(gid)s of %(who)s is %(age)s old")
                % {"gid": p["gid"], "who": p["service"] or p["owner"], "age": duration(age)},
            )
        prepared.append(
            {
                "gid": p["gid"],
                "service": p["service"],
                "team": p["team"],
                "owner": p["owner"],
                "database": p["database"],
                "age_seconds": age,
                "xmin_age": p["xmin_age"],
                "status": status,
                "commit": f"COMMIT PREPARED {literal(p['gid'])};",
                "rollback": f"ROLLBACK PREPARED {literal(p['gid'])};",
            }
        )

    holders = []
    for v in usable:
        for h in v.snapshot.get("horizon") or []:
            age = _grown(h["age_seconds"], _elapsed(v))
            status = worst(
                _level(age, cluster.horizon_warn_seconds, cluster.horizon_crit_seconds),
                _level(h["xmin_age"], cluster.horizon_warn_xids, cluster.horizon_crit_xids),
            )
            holders.append({"node": v.name, **_without(h, "xmin", "since"), "age_seconds": age, "status": status})
    furthest = _oldest(holders)
    if furthest and furthest["status"] != OK:
        verdict.add(furthest["status"], sentence(cluster, furthest))

    wraparound = []
    freeze = (part or {}).get("freeze_max_age")
    for d in (part or {}).get("databases") or []:
        pct = round(100 * d["xid_age"] / XID_LIMIT, 2)
        status = _level(pct, cluster.wraparound_warn_pct, cluster.wraparound_crit_pct)
        if status != OK:
            verdict.add(
                status,
                _("database %(db)s is %(pct)s%% of the way to transaction-ID wraparound")
                % {"db": d["database"], "pct": pct},
            )
        wraparound.append(
            {
                "database": d["database"],
                "xid_age": d["xid_age"],
                "mxid_age": d["mxid_age"],
                "pct_to_limit": pct,
                "freeze_max_age": freeze,
                "status": status,
                "oldest_tables": (oldest or {}).get(d["database"], []),
            }
        )
    return {
        "cluster": cluster.name,
        "sampled_at": primary.snapshot.get("sampled_at") if primary.snapshot else None,
        "status": verdict.status,
        "reasons": verdict.reasons,
        "sentence": sentence(cluster, furthest) if furthest else None,
        "prepared_count": (part or {}).get("prepared_count", 0),
        "prepared": prepared,
        "horizon": holders,
        "wraparound": wraparound,
        "thresholds": {
            "prepared_seconds": [cluster.prepared_warn_seconds, cluster.prepared_crit_seconds],
            "horizon_seconds": [cluster.horizon_warn_seconds, cluster.horizon_crit_seconds],
            "horizon_xids": [cluster.horizon_warn_xids, cluster.horizon_crit_xids],
            "wraparound_pct": [cluster.wraparound_warn_pct, cluster.wraparound_crit_pct],
        },
    }


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def _oldest(holders: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The holder that holds the primary's horizon furthest back (the primary's vacuum is the cluster's)."""
    on_primary = [h for h in holders if h["node"] == PRIMARY]
    return max(on_primary, key=lambda h: h["xmin_age"] or 0, default=None)


def sentence(cluster: Cluster, holder: dict[str, Any]) -> str:
    """ "vacuum on demo is held back 48 min by order_service (pid 4711, idle in transaction)"."""
    who = (
        holder["service"]
        or {
            SESSION: _("an unattributed session"),
            PREPARED: _("a prepared transaction"),
            SLOT: _("slot %(name)s") % {"name": holder["name"]},
            REPLICA: _("replica %(name)s") % {"name": holder["name"]},
        }[holder["holder_kind"]]
    )
    kind = holder["holder_kind"]
    if kind == SESSION:
        what = _("pid %(pid)s, %(state)s") % {"pid": holder["pid"], "state": holder["state"]}
    elif kind == PREPARED:
        what = _("prepared transaction %(gid)s") % {"gid": holder["name"]}
    elif kind == SLOT:
        what = _("slot %(name)s, %(state)s") % {"name": holder["name"], "state": holder["state"]}
    else:
        what = _("hot_standby_feedback of %(name)s") % {"name": holder["name"]}
    held = (
        duration(holder["age_seconds"])
        if holder["age_seconds"] is not None
        else _("%(n)s transactions") % {"n": holder["xmin_age"]}
    )
    return _("vacuum on %(cluster)s is held back %(held)s by %(who)s (%(what)s)") % {
        "cluster": cluster.name,
        "held": held,
        "who": who,
        "what": what,
    }
