"""The Audits screen: the latest run of every cluster, one cluster's findings (filterable, with new / persisting /
resolved badges), "Run audit now" with live progress, the history of findings by severity, and a service's
scorecard."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog import figures
from catalog.audits import start_audit
from catalog.http import HtmxHttpRequest, partial
from catalog.models import AuditFinding, AuditRun, Cluster, Service, Severity
from catalog.rules import RULES

HISTORY_RUNS = 60


FINDINGS_PER_PAGE = 200


@require_GET
def audits_page(request: HtmxHttpRequest) -> HttpResponse:
    clusters = list(Cluster.objects.order_by("name"))
    runs = AuditRun.objects.filter(cluster__in=clusters)
    latest = {r.cluster_id: r for r in runs.latest_per_cluster()}
    finished = {r.cluster_id: r for r in runs.last_finished_per_cluster()}
    chosen = next((c for c in clusters if c.name == request.GET.get("cluster")), clusters[0] if clusters else None)
    context = {
        "clusters": [(c, latest.get(c.pk), finished.get(c.pk)) for c in clusters],
        "cluster": chosen,
        "severities": Severity.values,
        "rules": sorted(RULES),
        "filters": {k: request.GET.get(k, "") for k in ("severity", "rule", "service", "team")},
        "nav": "audits",
    }
    if chosen:
        context |= _findings(request, chosen, latest.get(chosen.pk), finished.get(chosen.pk))
    progress = request.GET.get("part") == "progress"
    if request.htmx and progress and not context.get("active"):  # done: show its findings
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, partial(request, "catalog/audits.html", "progress" if progress else "findings"), context)


def _findings(request: HtmxHttpRequest, cluster: Cluster, latest: AuditRun | None, finished: AuditRun | None) -> dict:
    shown = finished if finished and finished.status == AuditRun.Status.SUCCEEDED else None
    if finished and finished.status == AuditRun.Status.FAILED:
        shown = AuditRun.objects.filter(cluster=cluster).last_succeeded()
    findings = AuditFinding.objects.filter(run=shown) if shown else AuditFinding.objects.none()
    f = request.GET
    if f.get("severity"):
        findings = findings.filter(severity=f["severity"])
    if f.get("rule"):
        findings = findings.filter(rule=f["rule"])
    if f.get("service"):
        findings = findings.filter(Q(service=f["service"]) | Q(related_service=f["service"]))
    if f.get("team"):
        members = list(Service.objects.filter(team=f["team"]).values_list("name", flat=True))
        findings = findings.filter(Q(service__in=members) | Q(related_service__in=members))
    rows = list(findings)
    return {
        "active": latest if latest and latest.is_active else None,
        "failed": finished if finished and finished.status == AuditRun.Status.FAILED else None,
        "shown": shown,
        # a page at a time: a big catalog can have thousands
        "findings": Paginator(
            [r for r in rows if r.state != AuditFinding.State.RESOLVED and not r.suppressed], FINDINGS_PER_PAGE
        ).get_page(request.GET.get("page")),
        "query": request.GET.copy(),
        "suppressed": [r for r in rows if r.suppressed],
        "resolved": [r for r in rows if r.state == AuditFinding.State.RESOLVED],
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "teams": Service.objects.teams(),
    }


@require_POST
@permission_required("catalog.add_auditrun", raise_exception=True)
def audit_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    run = start_audit(cluster, AuditRun.Trigger.MANUAL, user=request.user)
    if run.user_id != request.user.pk or run.status != AuditRun.Status.QUEUED:
        messages.info(request, _("An audit of this cluster is already under way: showing its progress."))
    url = f"{redirect('audits').url}?cluster={cluster.name}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)


@require_GET
def audit_history(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """Findings by severity over a cluster's last runs, stacked bars, as a plotly figure."""
    cluster = get_object_or_404(Cluster, pk=pk)
    runs = list(
        AuditRun.objects.filter(cluster=cluster, status=AuditRun.Status.SUCCEEDED).order_by("-finished_at")[
            :HISTORY_RUNS
        ]
    )[::-1]
    return JsonResponse(
        figures.findings_by_severity([r.finished_at for r in runs], [r.counts for r in runs], cluster.name)
    )


@require_GET
def service_scorecard(request: HtmxHttpRequest, pk: int) -> JsonResponse:
    """A service's findings (its objects, or reaching into others') by severity over the audit runs."""
    service = get_object_or_404(Service, pk=pk)
    runs = list(AuditRun.objects.filter(status=AuditRun.Status.SUCCEEDED).order_by("-finished_at")[:HISTORY_RUNS])[::-1]
    rows = AuditFinding.objects.filter(
        Q(service=service.name) | Q(related_service=service.name),
        run__in=runs,
        suppressed=False,
    ).exclude(state=AuditFinding.State.RESOLVED)
    counts: dict[int, Counter] = {r.pk: Counter() for r in runs}
    for run_id, severity in rows.values_list("run_id", "severity"):
        counts[run_id][severity] += 1
    return JsonResponse(
        figures.findings_by_severity([r.finished_at for r in runs], [counts[r.pk] for r in runs], service.name)
    )
