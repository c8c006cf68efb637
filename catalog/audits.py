"""Audit runs: a sync of the cluster, then every rule (catalog.rules), written as one run with its findings.

The lifecycle of catalog.runs: ``start_audit`` queues a run unless one is already queued or running for the cluster (a
second trigger joins it; a partial unique constraint holds one active run per cluster too). ``run_audit`` is what the
Celery task and ``manage.py audit`` call: it claims the run, syncs, evaluates, and writes the findings, their states
(new, persisting; resolved since the previous run, listed apart) and the run's outcome in one transaction, so a run
that fails or whose worker is killed never shows half its findings. A redelivered task takes a run whose worker was
lost up again, at most RUN_ATTEMPTS times in all.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import rules, runs
from .models import AuditFinding, AuditRun, Cluster, Severity, Suppression
from .sync import sync_cluster


def start_audit(cluster: Cluster, trigger: str, user=None, enqueue: runs.Enqueue | None = None) -> AuditRun:
    """Queue an audit of the cluster, or return the one already queued or running. ``enqueue`` (default: the
    Celery task, once the run is committed) sends it to a worker."""
    return runs.queue(AuditRun, cluster, settings.AUDIT_LOST_AFTER, enqueue, trigger=trigger, user=user)


def run_audit(run_id: int) -> AuditRun:
    """Claim the run, sync, evaluate, write; never raises for a cluster's fault (the run ends failed)."""
    with runs.taken(AuditRun, run_id, phase="syncing") as run:  # the lock held to the end: the sync takes it again
        if run is None:
            return AuditRun.objects.get(pk=run_id)  # done already, given up, or still run by a live worker
        try:
            sync_cluster(run.cluster)
            AuditRun.objects.filter(pk=run_id).update(phase="checking")
            run.cluster.refresh_from_db()
            findings = rules.evaluate(rules.load(run.cluster))
            return _write(run_id, findings)
        except Exception as exc:  # noqa: BLE001 - recorded on the run; the worker keeps going
            runs.finish(
                AuditRun,
                run_id,
                status=AuditRun.Status.FAILED,
                error=runs.describe(exc, "the cluster cannot be reached"),
            )
    return AuditRun.objects.get(pk=run_id)


def _write(run_id: int, findings: list[rules.Finding]) -> AuditRun:
    """The findings, their states and the run's outcome, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().select_related("cluster").get(pk=run_id)
        if not run.is_active:
            return run
        previous = AuditRun.objects.filter(cluster=run.cluster).exclude(pk=run.pk).last_succeeded()
        before = {}
        if previous:
            for f in previous.findings.exclude(state=AuditFinding.State.RESOLVED):
                before[(f.rule, f.object, f.related_service)] = f
        suppressed = set(
            Suppression.objects.filter(cluster=run.cluster, expires_at__gt=now).values_list("rule", "object")
        )
        rows, seen = [], set()
        for f in findings:
            key = f.key
            seen.add(key)
            rows.append(
                AuditFinding(
                    run=run,
                    rule=f.rule,
                    severity=f.severity,
                    object=f.object,
                    object_parts=list(f.object_parts),
                    service=f.service or "",
                    related_service=f.related_service or "",
                    message=f.message,
                    remediation=f.remediation,
                    state=AuditFinding.State.PERSISTING if key in before else AuditFinding.State.NEW,
                    suppressed=(f.rule, f.object) in suppressed,
                )
            )
        resolved = [
            AuditFinding(
                run=run,
                rule=old.rule,
                severity=old.severity,
                object=old.object,
                object_parts=old.object_parts,
                service=old.service,
                related_service=old.related_service,
                message=old.message,
                remediation=old.remediation,
                state=AuditFinding.State.RESOLVED,
            )
            for key, old in before.items()
            if key not in seen
        ]
        AuditFinding.objects.filter(run=run).delete()  # nothing, unless an earlier attempt wrote (it cannot)
        AuditFinding.objects.bulk_create(rows + resolved, batch_size=1000)
        counts = Counter(r.severity for r in rows if not r.suppressed)
        runs.finish(
            AuditRun,
            run.pk,
            status=AuditRun.Status.SUCCEEDED,
            counts={s: counts.get(s, 0) for s in Severity.values},
            resolved_count=len(resolved),
            error="",
        )
    run.refresh_from_db()
    return run


def as_json(run: AuditRun) -> dict:
    """``manage.py audit --format json``: the run and its findings (resolved ones apart)."""
    findings = list(run.findings.all())

    def item(f: AuditFinding) -> dict:
        return {
            "rule": f.rule,
            "severity": f.severity,
            "object": f.object,
            "object_parts": f.object_parts,
            "service": f.service or None,
            "related_service": f.related_service or None,
            "message": f.message,
            "remediation": f.remediation,
            "state": f.state,
            "suppressed": f.suppressed,
        }

    return {
        "cluster": run.cluster.name,
        "run_id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "error": run.error or None,
        "findings": [item(f) for f in findings if f.state != AuditFinding.State.RESOLVED],
        "resolved": [item(f) for f in findings if f.state == AuditFinding.State.RESOLVED],
    }
