from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Cluster
from dashboard import snapshots
from dashboard.nodes import nodes_of
from dashboard.statements import sampler, state, workload


class Command(BaseCommand):
    help = (
        "Print a cluster's workload per service over a window: calls, execution time and its share, top statements "
        "(texts masked), and run-time paths (from the stored statements samples; --now samples every node first)."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument("--window", choices=list(workload.WINDOWS), default="1h")
        parser.add_argument("--service", help="only this service")
        parser.add_argument("--node", help="only this node (default: every node of the cluster)")
        parser.add_argument("--now", action="store_true", help="sample every node's statements now, without the worker")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(
        self, *args, cluster: str, window: str, service: str | None, node: str | None, now: bool, format: str, **options
    ) -> None:
        target = Cluster.objects.prefetch_related("replicas").filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster named {cluster!r} in the catalog")
        names = [n.name for n in nodes_of(target)]
        if node and node not in names:
            raise CommandError(f"cluster {cluster} has no node named {node!r}")
        try:
            states = [sampler.sample_statements(target, n) if now else state.read_state(target.pk, n) for n in names]
        except snapshots.LiveDataUnavailable as exc:
            raise CommandError(f"live data unavailable: Redis cannot be reached ({exc})") from None
        body = workload.summary(target, window, node=node, service=service)
        body["nodes"] = [s or {"node": n, "status": "never"} for n, s in zip(names, states, strict=True)]
        if format == "json":
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._table(body)
        problems = [
            s
            for s in body["nodes"]
            if s["status"] in ("unreachable", "unavailable") and (not node or s["node"] == node)
        ]
        if problems:
            raise CommandError(
                "; ".join(
                    f"{cluster}/{s['node']}: {s['status']}"
                    + (f" ({s['error']})" if s.get("error") else "")
                    + "".join(f"; fix: {n['fix']}" for n in s["notices"])
                    for s in problems
                )
            )

    def _table(self, body: dict) -> None:
        w = self.stdout.write
        w(f"{body['cluster']}: workload over {body['window']}, {body['total_ms']:.1f} ms of execution time")
        for node_state in body["nodes"]:
            for notice in node_state.get("notices", []):
                w(f"  {node_state['node']}: {notice['code']}: {notice['fix']}")
        w(f"{'service':24} {'team':14} {'calls':>10} {'time (ms)':>12} {'share':>7}")
        rows = [*body["services"], {**body["unattributed"], "service": "(unattributed)"}]
        if body["shared_role"]["calls"]:
            rows.append({**body["shared_role"], "service": "(shared role)"})
        for s in rows:
            w(f"{s['service'][:24]:24} {s['team'][:14]:14} {s['calls']:>10} {s['total_ms']:>12.1f} {s['share']:>7.1%}")
            for t in s["top"][:5]:
                text = " ".join((t["text_masked"] or t["command"] or "?").split())[:80]
                w(f"    {t['calls']:>8} calls {t['mean_ms']:>9.2f} ms mean  {text}")
        if body["runtime_paths"]:
            w("run-time paths:")
            for p in body["runtime_paths"]:
                w(f"  {p['consumer']} -> {p['provider']}: {p['access']} {p['relation']} ({p['calls']} calls)")
