from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Cluster
from dashboard import health, pools, snapshots
from dashboard.nodes import nodes_of
from dashboard.sampling import sample_node


class Command(BaseCommand):
    help = "Print a cluster's replication health from its nodes' latest snapshots (--now samples every node first)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument("--now", action="store_true", help="sample every node now, without the worker")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, cluster: str, now: bool, format: str, **options) -> None:
        target = Cluster.objects.prefetch_related("replicas").filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster named {cluster!r} in the catalog")
        try:
            if now:
                for node in nodes_of(target):  # the primary first: replicas measure their byte lag against it
                    sample_node(target, node.name)
            views = pools.load([target], node=None)[target.pk]
        except snapshots.LiveDataUnavailable as exc:
            raise CommandError(f"live data unavailable: Redis cannot be reached ({exc})") from None
        body = health.assess(target, views)
        if format == "json":
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
            return
        w = self.stdout.write
        rate = body["primary"]["wal_bytes_per_second"]
        w(
            f"{body['cluster']}: {body['status']}"
            + (f"  (primary writes {rate} bytes/s of WAL)" if rate is not None else "")
        )
        for reason in body["reasons"]:
            w(f"  - {reason}")
        w(f"{'replica':24} {'status':6} {'state':12} {'sync':6} {'replay lag':>12} {'bytes':>14} {'paused':>6}")
        for r in body["replicas"]:
            seconds = "—" if r["replay_lag_seconds"] is None else f"{r['replay_lag_seconds']:.1f} s"
            size = "—" if r["replay_lag_bytes"] is None else str(r["replay_lag_bytes"])
            w(
                f"{r['name'][:24]:24} {r['status']:6} {(r['state'] or '—')[:12]:12} {(r['sync_state'] or '—'):6} "
                f"{seconds:>12} {size:>14} {('yes' if r['replay_paused'] else 'no'):>6}"
            )
        if body["slots"]:
            w(f"{'slot':24} {'status':6} {'type':9} {'active':6} {'retained bytes':>14} {'wal_status':10}")
            for s in body["slots"]:
                w(
                    f"{s['slot_name'][:24]:24} {s['status']:6} {s['slot_type']:9} {('yes' if s['active'] else 'no'):6} "
                    f"{s['retained_bytes'] if s['retained_bytes'] is not None else '—':>14} {s['wal_status'] or '—':10}"
                )
        if body["subscriptions"]:
            w(
                f"{'subscription':32} {'status':6} {'service':20} {'publisher':24} {'worker':8} {'errors':>6} "
                f"{'lag bytes':>12}"
            )
            for s in body["subscriptions"]:
                worker = "disabled" if not s["enabled"] else ("running" if s["worker_running"] else "stopped")
                w(
                    f"{(s['database'] + '/' + s['name'])[:32]:32} {s['status']:6} {(s['service'] or '—')[:20]:20} "
                    f"{(s['publisher'] or '(outside)')[:24]:24} {worker:8} "
                    f"{s['errors'] if s['errors'] is not None else '—':>6} "
                    f"{s['lag_bytes'] if s['lag_bytes'] is not None else '—':>12}"
                )
