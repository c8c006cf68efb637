"""Cancel / terminate a session (operators), with a confirmation that shows what will be signalled; and the action
log, as a page and as CSV."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster
from dashboard import actions
from dashboard.auth import reads_grants
from dashboard.models import ActionLog
from dashboard.nodes import node_names

LOG_ROWS = 500


@reads_grants
@require_http_methods(["GET", "POST"])
def session_action(request: HtmxHttpRequest, pk: int, pid: int, action: str) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.prefetch_related("replicas"), pk=pk)
    node = request.POST.get("node") or request.GET.get("node") or ""
    backend_start = request.POST.get("backend_start") or request.GET.get("backend_start") or ""
    if action not in ActionLog.Action.values or node not in node_names(cluster) or not backend_start:
        raise Http404(_("No such action or session."))
    if request.method == "POST":
        outcome = actions.signal(
            request.user, cluster, node, pid, backend_start, action, request.POST.get("reason", "").strip()
        )
        if outcome.result.startswith("denied"):
            raise PermissionDenied(outcome.result)
        level = messages.SUCCESS if outcome.result == "signalled" else messages.WARNING
        messages.add_message(request, level, _("pid %(pid)s: %(result)s") % {"pid": pid, "result": outcome.result})
        return redirect(f"{redirect('pools_cluster', pk=pk).url}?node={node}")
    if not request.user.has_perm("dashboard.signal_session"):
        raise PermissionDenied
    return render(
        request,
        "dashboard/session_action.html",
        {
            "cluster": cluster,
            "node": node,
            "pid": pid,
            "backend_start": backend_start,
            "action": action,
            "action_label": ActionLog.Action(action).label,
            "session": actions.listed_session(cluster, node, pid),
            "nav": "pools",
        },
    )


@reads_grants
@require_GET
@permission_required("dashboard.view_actionlog", raise_exception=True)
def action_log(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "dashboard/action_log.html", {"rows": ActionLog.objects.all()[:LOG_ROWS], "nav": "pools"})


COLUMNS = ["at", "user", "cluster", "node", "pid", "backend_start", "service", "action", "reason", "result", "query"]


def _cell(value: object) -> str:
    """A spreadsheet must not run what a database name or a query says: formulas are neutralised."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@reads_grants
@require_GET
@permission_required("dashboard.view_actionlog", raise_exception=True)
def action_log_csv(request: HtmxHttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="seamline-session-actions.csv"'
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    for row in ActionLog.objects.order_by("at", "pk").values_list(*COLUMNS):
        writer.writerow([_cell(v) for v in row])
    return response
