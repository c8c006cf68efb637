from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import locks
from catalog.audits import as_json, run_audit, start_audit
from catalog.models import AuditRun, Cluster


class Command(BaseCommand):
    help = "Audit a cluster: sync its catalog, run every rule, record the findings (docs/rules.md)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--async", action="store_true", dest="run_async", help="queue it for a worker and return")

    def handle(self, *args, cluster: str, format: str, run_async: bool, **options) -> None:
        target = Cluster.objects.filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster named {cluster!r} in the catalog")
        if run_async:
            run = start_audit(target, trigger=AuditRun.Trigger.CLI)
            if format == "json":
                self.stdout.write(json.dumps(as_json(run), ensure_ascii=False, indent=2))
            else:
                self.stdout.write(f"audit #{run.pk} of {cluster}: {run.status}")
            return
        # run here, in this process; an audit already under way for the cluster is waited for rather than doubled
        run = start_audit(target, trigger=AuditRun.Trigger.CLI, enqueue=lambda run: None)
        run = run_audit(run.pk)
        body = as_json(run)
        if format == "json":
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            self._table(body)
        busy = str(locks.Busy(target))  # another sync or audit of the cluster outlasted settings.RUN_LOCK_WAIT
        if run.status == AuditRun.Status.FAILED:
            code = locks.EX_TEMPFAIL if run.error == busy else 1
            raise CommandError(f"audit #{run.pk} of {cluster} failed: {run.error}", returncode=code)
        if run.is_active:
            raise CommandError(
                f"audit #{run.pk} of {cluster} is still {run.status} (another process runs it)",
                returncode=locks.EX_TEMPFAIL,
            )

    def _table(self, body: dict) -> None:
        w = self.stdout.write
        counts = ", ".join(f"{n} {s}" for s, n in body["counts"].items() if n) or "no findings"
        w(f"audit #{body['run_id']} of {body['cluster']}: {body['status']} ({counts})")
        for f in body["findings"]:
            mark = " (suppressed)" if f["suppressed"] else ""
            w(f"  {f['severity']:8} {f['state']:10} {f['rule']:28} {f['object']}{mark}")
            w(f"           {f['message']}")
        if body["resolved"]:
            w(f"resolved since the previous run: {len(body['resolved'])}")
            for f in body["resolved"]:
                w(f"  {f['rule']:28} {f['object']}")
