from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.ages import duration
from catalog.models import Cluster
from dashboard import pools, snapshots
from dashboard.nodes import PRIMARY
from dashboard.sampling import sample_node
from dashboard.states import STATES


class Command(BaseCommand):
    help = "Print the latest pool snapshot of a cluster's primary (read from Redis; --now samples it first)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument("--now", action="store_true", help="sample the primary now, without the worker")
        parser.add_argument("--node", default=PRIMARY, help="a replica's name instead of the primary")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, cluster: str, now: bool, node: str, format: str, **options) -> None:
        target = Cluster.objects.prefetch_related("replicas").filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster named {cluster!r} in the catalog")
        if node != PRIMARY and not target.replicas.filter(name=node).exists():
            raise CommandError(f"cluster {cluster} has no replica named {node!r}")
        try:
            if now:
                sample_node(target, node)
            view = pools.load([target], node=node)[target.pk][0]
        except snapshots.LiveDataUnavailable as exc:
            raise CommandError(f"live data unavailable: Redis cannot be reached ({exc})") from None
        body = pools.as_json(view)
        if format == "json":
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._table(view, body)
        if view.status == pools.NEVER:
            raise CommandError(f"{cluster}/{node} has not been sampled yet: run with --now, or start the worker")
        if view.status == pools.UNREACHABLE:
            raise CommandError(f"{cluster}/{node} is unreachable: {view.snapshot['error']}: {view.snapshot['message']}")

    def _table(self, view: pools.NodeView, body: dict) -> None:
        w = self.stdout.write
        if not view.has_figures:
            w(f"{body['cluster']}/{body['node']}: {view.status}")
            return
        age = duration(view.age_seconds)
        state = "STALE " if view.status == pools.STALE else ""
        w(
            f"{body['cluster']}/{body['node']}: {state}sampled {age} ago; {view.snapshot['total']} client connections "
            f"of {view.usable} usable (max_connections {body['max_connections']}, "
            f"{body['reserved_connections']} reserved)"
        )
        if not body["sees_all_sessions"]:
            w("insufficient privilege: grant pg_monitor to the monitoring role (other roles' session states hidden)")
        columns = ("total", *STATES)
        labels = ("total", "active", "idle", "idle in xact", "aborted xact", "waiting")
        header = f"{'service':24} {'team':14} " + " ".join(f"{c:>12}" for c in labels) + f" {'budget':>7}"
        w(header + f" {'oldest xact':>12} {'longest query':>13}")
        rows = [(s["service"], s["team"] or "", s) for s in body["services"]]
        rows.append(("(unattributed)", "", {**body["unattributed"], "budget": None}))
        for name, team, s in rows:
            line = f"{name[:24]:24} {team[:14]:14} " + " ".join(f"{s[c]:>12}" for c in columns)
            budget = "" if s.get("budget") is None else str(s["budget"])
            w(
                line
                + f" {budget:>7} {duration(s['oldest_xact_seconds']):>12} {duration(s['longest_query_seconds']):>13}"
            )
