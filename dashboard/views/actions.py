"""Cancel / terminate a session (operators), with a confirmation that shows what will be signalled; and the action
log, as a page and as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from catalog.http import HtmxHttpRequest
from catalog.models import Cluster
from dashboard import actions
from dashboard.auth import reads_grants
from dashboard.models import ActionLog
from dashboard.nodes import node_names

LOG_ROWS = 500
MAX_PID = 2**31 - 1  # a backend's pid is a PostgreSQL int4
REASON_MAX = 500
# refused attempts (a user without the permission) are logged; past this many in the window, no more are taken
DENIED_MAX, DENIED_WINDOW = 10, timedelta(minutes=10)


def _invalid(pid: int, backend_start: str, reason: str) -> str | None:
    """What is wrong with the request's fields, said to the user; None when nothing is."""
    if not 0 < pid <= MAX_PID:
        return _("The pid must be a whole number from 1 to %(max)d.") % {"max": MAX_PID}
    started = parse_datetime(backend_start) if len(backend_start) <= 40 else None
    if started is None or started.tzinfo is None:
        return _("backend_start must be the session's start with its time zone, as the page sends it.")
    if len(reason) > REASON_MAX:
        return _("The reason may be at most %(max)d characters.") % {"max": REASON_MAX}
    return None


@reads_grants
@require_http_methods(["GET", "POST"])
def session_action(request: HtmxHttpRequest, pk: int, pid: int, action: str) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.prefetch_related("replicas"), pk=pk)
    node = request.POST.get("node") or request.GET.get("node") or ""
    backend_start = request.POST.get("backend_start") or request.GET.get("backend_start") or ""
    if action not in ActionLog.Action.values or node not in node_names(cluster) or not backend_start:
        raise Http404(_("No such action or session."))
    reason = request.POST.get("reason", "").strip()
    problem = _invalid(pid, backend_start, reason)
    if problem:
        return HttpResponseBadRequest(problem + "\n", content_type="text/plain; charset=utf-8")
    if request.method == "POST":
        since = timezone.now() - DENIED_WINDOW
        denied = ActionLog.objects.filter(user=request.user.get_username(), result__startswith="denied", at__gte=since)
        if denied.count() >= DENIED_MAX:
            response = HttpResponse(
                _("Too many refused attempts: try again in a few minutes.") + "\n",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(int(DENIED_WINDOW.total_seconds()))
            return response
        outcome = actions.signal(request.user, cluster, node, pid, backend_start, action, reason)
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
def action_log_csv(request: HtmxHttpRequest) -> StreamingHttpResponse:
    """Streamed: the rows are read in chunks and sent as they are written, however long the log."""

    class Line:
        def write(self, text: str) -> str:
            return text

    writer = csv.writer(Line())
    rows = ActionLog.objects.order_by("at", "pk").values_list(*COLUMNS).iterator(chunk_size=2000)
    lines = (writer.writerow([_cell(v) for v in row]) for row in rows)
    response = StreamingHttpResponse(_chain(writer.writerow(COLUMNS), lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="seamline-session-actions.csv"'
    return response


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
