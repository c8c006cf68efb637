"""Replication health: OK / WARN / CRIT per replica, per slot and per cluster, each with its reasons in words.

Made from the nodes' latest snapshots (never from the servers): the primary's view (pg_stat_replication, slots) and
each registered replica's own (its WAL receiver, replay position and delay) are checked against each other, so a
replica missing from the primary's view, a receiver that is not streaming or a slot nobody consumes is a problem
named as such, never silently absent. Thresholds are the cluster's (catalog.models.Cluster). ``assess`` judges one
cluster's node views; ``cluster_health`` loads them for the overview, the Replication screen, the API and /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import humanize
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog import logical
from catalog.models import Cluster

from . import hazards, pools, snapshots
from .nodes import PRIMARY
from .pools import NEVER, STALE, UNREACHABLE, NodeView
from .verdicts import CRIT, OK, RANK, WARN, Verdict, worst  # noqa: F401 - named here by its users


def _size(n: int | None) -> str:
    return "—" if n is None else humanize.naturalsize(n, binary=True)


def _node_problem(view: NodeView, verdict: Verdict, what: str) -> bool:
    """Unreachable, never sampled or stale: say so; True when there are no fresh figures to judge."""
    if view.status == UNREACHABLE:
        if view.snapshot.get("timed_out"):
            message = _("%(what)s did not answer in time (%(error)s)")
        else:
            message = _("%(what)s cannot be reached (%(error)s)")
        verdict.add(CRIT, message % {"what": what, "error": view.snapshot["error"]})
        return True
    if view.status == NEVER:
        verdict.add(WARN, _("%(what)s has not been sampled yet") % {"what": what})
        return True
    if view.status == STALE:
        verdict.add(
            WARN, _("the last sample of %(what)s is %(age)d s old") % {"what": what, "age": view.age_seconds or 0}
        )
    return False


def _match(replica: dict[str, Any], standbys: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The primary's pg_stat_replication row of a registered replica: by the slot its receiver streams through,
    else by application_name (its receiver's, or its registered name)."""
    slot = replica.get("slot_name")
    if slot:
        found = next((s for s in standbys if s.get("slot_name") == slot), None)
        if found:
            return found
    for app in (replica.get("application_name"), name):
        found = next((s for s in standbys if app and s.get("application_name") == app), None)
        if found:
            return found
    return None


# After the error count of a subscription rose: CRIT in the sample that saw it, WARN for this long after.
ERRORS_WARN_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Logical:
    """What judging logical replication needs beyond a cluster's own snapshots: the catalog's subscriptions with
    their publishers (catalog.logical), and the publishers' primaries' latest snapshots, by cluster id."""

    links: dict[tuple[int, str, str], logical.Link]  # (cluster id, database, subscription)
    slot_users: dict[tuple[int, str], logical.Link]  # (publisher cluster id, slot)
    publishers: dict[int, dict[str, Any] | None]

    @classmethod
    def none(cls) -> Logical:
        """No subscription known (a caller judging snapshots alone)."""
        return cls({}, {}, {})

    @classmethod
    def read(cls, known: dict[int, list[NodeView]]) -> Logical:
        """From the catalog (memoized) and the node views at hand; a publisher's primary not among them is read from
        Redis, in one round trip (raises LiveDataUnavailable)."""
        links = logical.links()
        primaries = {cid: next((v.snapshot for v in views if v.name == PRIMARY), None) for cid, views in known.items()}
        missing = sorted({link.publisher_id for link in links if link.publisher_id not in (None, *primaries)})
        if missing:
            read = snapshots.read_many([(cid, PRIMARY) for cid in missing])
            primaries.update({cid: snapshot for (cid, _node), snapshot in read.items()})
        return cls(
            links={(link.cluster_id, link.database, link.subscription): link for link in links},
            slot_users=logical.slot_users(links),
            publishers=primaries,
        )


def assess(cluster: Cluster, views: list[NodeView], context: Logical | None = None) -> dict[str, Any]:
    """The cluster's replication health (the JSON of ``manage.py replication`` and /api/v1/health): physical
    replicas and slots, and logical subscriptions (``context``: default, read for this cluster alone)."""
    if context is None:
        context = Logical.read({cluster.pk: views})
    by_name = {v.name: v for v in views}
    primary = by_name[PRIMARY]
    cluster_verdict = Verdict()
    primary_side: dict[str, Any] = {}
    if not _node_problem(primary, cluster_verdict, _("the primary")):
        primary_side = primary.snapshot.get("replication") or {}
        if primary_side.get("role") == "standby":
            cluster_verdict.add(CRIT, _("the registered primary is in recovery: a standby, not a primary"))
            primary_side = {}
    standbys = primary_side.get("standbys") or []
    matched_pids: set[int] = set()

    replicas = []
    for view in views:
        if view.name == PRIMARY:
            continue
        verdict = Verdict()
        side: dict[str, Any] = {}
        row = None
        if not _node_problem(view, verdict, view.name):
            side = view.snapshot.get("replication") or {}
            if side.get("role") != "standby":
                verdict.add(
                    CRIT, _("%(name)s is not in recovery: it was promoted, or is no replica") % {"name": view.name}
                )
            else:
                if side.get("receiver_status") != "streaming":
                    verdict.add(
                        CRIT,
                        _("%(name)s is not streaming: its WAL receiver is %(status)s")
                        % {"name": view.name, "status": side.get("receiver_status") or _("not running")},
                    )
                if side.get("replay_paused"):
                    verdict.add(WARN, _("replay is paused on %(name)s") % {"name": view.name})
        # Matched by what the replica says of itself; when it cannot say (down), by what it said when it last did.
        last_ok = ((view.snapshot or {}).get("last_ok") or {}).get("replication") or {}
        identity = side if side.get("role") == "standby" else last_ok
        if primary_side and (side.get("role") == "standby" or view.status in (UNREACHABLE, NEVER)):
            row = _match(identity, standbys, view.name)
            if row:
                matched_pids.add(row["pid"])
            else:
                verdict.add(
                    CRIT,
                    _("%(name)s is not streaming: it is missing from the primary's pg_stat_replication")
                    % {"name": view.name},
                )
        lag_bytes = row["replay_lag_bytes"] if row else side.get("replay_lag_bytes")
        lag_seconds = side.get("replay_delay_seconds")
        if side.get("role") == "standby":
            for level, seconds, size in (
                (CRIT, cluster.lag_crit_seconds, cluster.lag_crit_bytes),
                (WARN, cluster.lag_warn_seconds, cluster.lag_warn_bytes),
            ):
                if (lag_seconds or 0) >= seconds or (lag_bytes or 0) >= size:
                    verdict.add(
                        level,
                        _("%(name)s replays %(lag)s s / %(bytes)s behind (%(level)s at %(s)s s or %(b)s)")
                        % {
                            "name": view.name,
                            "lag": f"{lag_seconds or 0:.0f}",
                            "bytes": _size(lag_bytes),
                            "level": level,
                            "s": seconds,
                            "b": _size(size),
                        },
                    )
                    break
        replicas.append(
            {
                "name": view.name,
                "node_status": view.status,
                "state": row["state"] if row else ("not streaming" if primary_side else side.get("receiver_status")),
                "sync_state": row["sync_state"] if row else None,
                "receiver_status": side.get("receiver_status"),
                "slot_name": (row or {}).get("slot_name") or side.get("slot_name"),
                "sent_lag_bytes": row["sent_lag_bytes"] if row else None,
                "replay_lag_bytes": lag_bytes,
                "replay_lag_seconds": None if lag_seconds is None else round(lag_seconds, 1),
                "replay_paused": side.get("replay_paused"),
                "last_message_seconds": side.get("last_message_seconds"),
                "status": verdict.status,
                "reasons": verdict.reasons,
            }
        )
        cluster_verdict.status = worst(cluster_verdict.status, verdict.status)
        cluster_verdict.reasons += verdict.reasons

    slots = []
    for slot in primary_side.get("slots") or []:
        verdict = Verdict()
        retained = slot.get("retained_bytes")
        if slot.get("wal_status") == "lost":
            verdict.add(CRIT, _("slot %(slot)s has lost WAL its consumer needs") % {"slot": slot["slot_name"]})
        elif slot.get("wal_status") == "unreserved":
            verdict.add(WARN, _("slot %(slot)s is about to lose WAL (unreserved)") % {"slot": slot["slot_name"]})
        if not slot.get("active"):
            level = CRIT if (retained or 0) >= cluster.slot_crit_bytes else WARN
            verdict.add(
                level,
                _("slot %(slot)s has no active consumer and retains %(bytes)s of WAL")
                % {"slot": slot["slot_name"], "bytes": _size(retained)},
            )
        user = context.slot_users.get((cluster.pk, slot["slot_name"])) if slot.get("slot_type") == "logical" else None
        if user is not None:  # a logical slot, attributed to the service whose subscription streams from it
            slot = {
                **slot,
                "service": user.service,
                "subscription": f"{user.cluster}/{user.database}/{user.subscription}",
            }
        slots.append(
            {"service": None, "subscription": None, **slot, "status": verdict.status, "reasons": verdict.reasons}
        )
        cluster_verdict.status = worst(cluster_verdict.status, verdict.status)
        cluster_verdict.reasons += verdict.reasons

    subscriptions = _subscriptions(cluster, primary_side, primary.snapshot, context)
    for sub in subscriptions:
        cluster_verdict.status = worst(cluster_verdict.status, sub["status"])
        cluster_verdict.reasons += sub["reasons"]

    unregistered = [s for s in standbys if s["pid"] not in matched_pids]
    return {
        "cluster": cluster.name,
        "status": cluster_verdict.status,
        "reasons": cluster_verdict.reasons,
        "sampled_at": primary.snapshot["sampled_at"] if primary.snapshot else None,
        "primary": {
            "node": PRIMARY,
            "node_status": primary.status,
            "wal_bytes_per_second": primary_side.get("wal_bytes_per_second"),
        },
        "replicas": replicas,
        "slots": slots,
        "subscriptions": subscriptions,
        "unregistered_standbys": unregistered,
    }


def _subscriptions(
    cluster: Cluster, primary_side: dict[str, Any], snapshot: dict[str, Any] | None, context: Logical
) -> list[dict[str, Any]]:
    """Each logical subscription of the cluster as its primary's latest sample shows it, judged: disabled or without
    its apply worker (CRIT); errors that rose (CRIT in that sample, WARN for an hour after); tables not ready at the
    last sync (WARN); the publisher's slot confirmed behind (the cluster's lag thresholds in bytes) or gone (CRIT)."""
    out = []
    for sub in primary_side.get("subscriptions") or []:
        verdict = Verdict()
        name = _("subscription %(name)s in %(database)s") % {"name": sub["name"], "database": sub["database"]}
        link = context.links.get((cluster.pk, sub["database"], sub["name"]))
        if not sub.get("enabled"):
            verdict.add(CRIT, _("%(what)s is disabled") % {"what": name})
        elif sub.get("worker_pid") is None:
            verdict.add(CRIT, _("%(what)s has no apply worker running") % {"what": name})
        rose = sub.get("errors_rose_at")
        if rose and snapshot:
            at = datetime.fromisoformat(snapshot["sampled_at"])
            if rose == snapshot["sampled_at"]:
                count = sub.get("errors_new") or 0
                verdict.add(
                    CRIT,
                    ngettext(
                        "%(what)s had %(n)d new apply or table sync error since the previous sample",
                        "%(what)s had %(n)d new apply or table sync errors since the previous sample",
                        count,
                    )
                    % {"what": name, "n": count},
                )
            elif at - datetime.fromisoformat(rose) < ERRORS_WARN_FOR:
                verdict.add(
                    WARN,
                    _("%(what)s had apply or table sync errors %(minutes)d min ago")
                    % {"what": name, "minutes": (at - datetime.fromisoformat(rose)).total_seconds() // 60},
                )
        not_ready = link.not_ready if link else []
        if not_ready:
            verdict.add(
                WARN,
                ngettext(
                    "%(what)s has %(n)d table not ready at the last sync: %(tables)s",
                    "%(what)s has %(n)d tables not ready at the last sync: %(tables)s",
                    len(not_ready),
                )
                % {"what": name, "n": len(not_ready), "tables": ", ".join(not_ready)},
            )
        lag = _publisher_lag(link, context) if sub.get("enabled") else None
        if lag == "gone":
            verdict.add(
                CRIT,
                _("%(what)s streams from slot %(slot)s, which %(publisher)s no longer has")
                % {"what": name, "slot": link.slot, "publisher": link.publisher},
            )
            lag = None
        elif lag is not None:
            for level, size in ((CRIT, cluster.lag_crit_bytes), (WARN, cluster.lag_warn_bytes)):
                if lag >= size:
                    verdict.add(
                        level,
                        _("%(what)s has confirmed %(bytes)s less than its publisher wrote (%(level)s at %(b)s)")
                        % {"what": name, "bytes": _size(lag), "level": level, "b": _size(size)},
                    )
                    break
        out.append(
            {
                "database": sub["database"],
                "name": sub["name"],
                "service": link.service if link else None,
                "synced": link is not None,  # its database synced: what the catalog knows of it (service, publisher)
                "publisher": f"{link.publisher}/{link.publisher_database}" if link and link.publisher else None,
                "slot_name": sub.get("slot_name"),
                "enabled": bool(sub.get("enabled")),
                "worker_running": sub.get("worker_pid") is not None,
                "errors": sub.get("errors"),
                "errors_rose_at": rose,
                "tables_not_ready": not_ready,
                "lag_bytes": lag,
                "status": verdict.status,
                "reasons": verdict.reasons,
            }
        )
    return out


def _publisher_lag(link: logical.Link | None, context: Logical) -> int | str | None:
    """How far the publisher's slot is confirmed behind its WAL (bytes), from the publisher's primary's latest
    sample; "gone" when that sample has no such slot; None when unknown (no publisher, or no answer from it)."""
    if link is None or link.publisher_id is None or not link.slot:
        return None
    snapshot = context.publishers.get(link.publisher_id) or {}
    if snapshot.get("status") != "ok":
        return None
    slots = (snapshot.get("replication") or {}).get("slots") or []
    found = next(
        (s for s in slots if s["slot_name"] == link.slot and s.get("database") == link.publisher_database), None
    )
    return "gone" if found is None else found.get("confirmed_flush_lag_bytes")


def cluster_health(clusters: list[Cluster], rows: bool = True) -> list[dict[str, Any]]:
    """Per cluster: its health, its node views, and (with ``rows``) who reads from each replica (raises
    LiveDataUnavailable)."""
    views = pools.load(clusters, node=None, rows=rows)
    context = Logical.read(views)
    result = []
    for cluster in clusters:
        nodes = views[cluster.pk]
        assessed = assess(cluster, nodes, context)
        lag = {r["name"]: r["replay_lag_seconds"] for r in assessed["replicas"]}
        readers = [
            {
                "replica": v.name,
                "service": row.service,
                "sessions": row.counts["total"],
                "stale_seconds": lag.get(v.name),
            }
            for v in nodes[1:]
            for row in v.rows
            if row.counts["total"]
        ]
        result.append(
            {
                "cluster": cluster,
                "health": assessed,
                "hazards": hazards.assess(cluster, nodes),
                "nodes": nodes,
                "readers": readers,
            }
        )
    return result
