from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.ages import duration
from catalog.models import Cluster
from dashboard import hazards, pools, snapshots
from dashboard.nodes import nodes_of
from dashboard.sampling import sample_node


class Command(BaseCommand):
    help = (
        "Print a cluster's transaction hazards (prepared transactions, what holds the vacuum horizon back, "
        "wraparound) from its nodes' latest snapshots (--now samples every node first)."
    )
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
                for node in nodes_of(target):
                    sample_node(target, node.name)
            views = pools.load([target], node=None, rows=False)[target.pk]
        except snapshots.LiveDataUnavailable as exc:
            raise CommandError(f"live data unavailable: Redis cannot be reached ({exc})") from None
        body = hazards.assess(target, views, hazards.oldest_tables([target])[target.pk])
        if format == "json":
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
            return
        w = self.stdout.write
        w(f"{body['cluster']}: {body['status']}" + (f"  ({body['sentence']})" if body["sentence"] else ""))
        for reason in body["reasons"]:
            w(f"  - {reason}")
        w(f"prepared transactions: {body['prepared_count']}")
        for p in body["prepared"]:
            w(
                f"  {p['status']:4} {p['gid'][:40]:40} {(p['service'] or p['owner'])[:24]:24} {p['database'][:20]:20} "
                f"{duration(p['age_seconds']):>14}   {p['rollback']}"
            )
        w(f"{'node':20} {'holder':9} {'name':28} {'service':20} {'pid':>8} {'xmin age':>12} {'held':>14} status")
        for h in body["horizon"]:
            w(
                f"{h['node'][:20]:20} {h['holder_kind']:9} {str(h['name'])[:28]:28} {(h['service'] or '—')[:20]:20} "
                f"{h['pid'] if h['pid'] is not None else '—':>8} {h['xmin_age']:>12} "
                f"{duration(h['age_seconds']):>14} {h['status']}"
            )
        w(f"{'database':30} {'xid age':>12} {'mxid age':>12} {'% to limit':>10} status")
        for d in body["wraparound"]:
            w(
                f"{d['database'][:30]:30} {d['xid_age']:>12} {d['mxid_age']:>12} {d['pct_to_limit']:>10.2f} "
                f"{d['status']}"
            )
            for t in d["oldest_tables"][:3]:
                w(f"    {t['schema']}.{t['name']} ({t['service'] or 'unowned'}): xid age {t['xid_age']}")
