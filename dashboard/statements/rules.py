"""Audit rules over what really ran (docs/rules.md), added to the catalog's rules (catalog.rules.RULES) when the app
loads: the catalog knows no statements, the live side knows both.

They look at the cluster's statements history of the last ``WORKLOAD_AUDIT_WINDOW_DAYS`` and say nothing until at
least ``WORKLOAD_AUDIT_MIN_DAYS`` of it exist: an unused grant is only unused over enough time.

- ``runtime_undeclared_access``: a service's statements read or write a relation another service owns, and the
  catalog has no ``consumes`` contract between them (a write is HIGH, a read MEDIUM, unless the rule's severity is
  configured);
- ``unused_cross_service_grant``: a SELECT, INSERT, UPDATE or DELETE grant on one service's relation to another
  service's role that the grantee's statements never exercised in the window, directly or through a view, function or
  foreign key the grantee owns; with the REVOKE that removes it. REFERENCES, TRIGGER and EXECUTE grants are never
  proposed for REVOKE.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from psycopg import sql as psql

from catalog.rules import HIGH, LOW, MEDIUM, Finding, Snapshot, rule
from dashboard.models import StatementInterval

from . import workload

EXERCISED = ("SELECT", "INSERT", "UPDATE", "DELETE")  # what running statements shows; the rest never proposed


def _history_days(s: Snapshot) -> float:
    first = StatementInterval.objects.filter(cluster=s.cluster).order_by("ended_at").values_list("ended_at").first()
    return (timezone.now() - first[0]).total_seconds() / 86400 if first else 0.0


def _observed(s: Snapshot) -> workload.Observed | None:
    """What ran on the cluster in the window, or None while the history is too short to say."""
    if _history_days(s) < settings.WORKLOAD_AUDIT_MIN_DAYS:
        return None
    since = timezone.now() - timedelta(days=settings.WORKLOAD_AUDIT_WINDOW_DAYS)
    return workload.observed(s.cluster, since)


@rule("runtime_undeclared_access", HIGH)
def runtime_undeclared_access(s: Snapshot) -> Iterator[Finding]:
    seen = _observed(s)
    if seen is None:
        return
    for path in seen.paths:
        if path.provider in s.consumes.get(path.consumer, set()):
            continue
        database, schema, name = path.parts
        yield Finding(
            path.relation,
            path.parts,
            f"{path.consumer}'s statements {'write' if path.access == 'write' else 'read'} {path.relation} of "
            f"{path.provider} ({path.calls} calls in {settings.WORKLOAD_AUDIT_WINDOW_DAYS} days), and "
            f"{path.consumer} does not declare that it consumes {path.provider}",
            service=path.consumer,
            related_service=path.provider,
            severity=HIGH if path.access == "write" else MEDIUM,
        )


@rule("unused_cross_service_grant", LOW)
def unused_cross_service_grant(s: Snapshot) -> Iterator[Finding]:
    seen = _observed(s)
    if seen is None:
        return
    # what each service reaches: the relations its statements touch, and what those (its own views, functions,
    # foreign keys) depend on, to any depth
    by_parts = {rel.parts: rel_id for rel_id, rel in s.relations.items()}
    depends: dict[int, set[int]] = defaultdict(set)
    function_reads: dict[str, set[int]] = defaultdict(set)  # functions may run inside statements: never proposed
    for _kind, consumer_rel, consumer_fn, source, _name in s.edges:
        if consumer_rel:
            depends[consumer_rel].add(source)
        elif consumer_fn and consumer_fn in s.functions and s.functions[consumer_fn].service:
            function_reads[s.functions[consumer_fn].service].add(source)
    reached: dict[str, set[int]] = defaultdict(set)
    for service, touched in seen.touched.items():
        todo = [by_parts[p] for p in touched if p in by_parts]
        while todo:
            rel_id = todo.pop()
            if rel_id in reached[service]:
                continue
            reached[service].add(rel_id)
            if rel_id in s.relations and s.relations[rel_id].service == service:  # its own view, table with a FK
                todo.extend(depends.get(rel_id, ()))
    for rel_id, grantee, privileges in s.grants:
        rel, holder = s.relations.get(rel_id), s.role_service.get(grantee)
        if not rel or not rel.service or not holder or holder == rel.service:
            continue
        privs = [p for p in privileges if p in EXERCISED]
        if not privs or rel_id in reached[holder] or rel_id in function_reads[holder]:
            continue
        role = psql.Identifier(grantee).as_string()
        yield Finding(
            rel.label,
            rel.parts,
            f"role {grantee} of {holder} holds {', '.join(privs)} on {rel.label} of {rel.service}, and no statement "
            f"of {holder} used it in {settings.WORKLOAD_AUDIT_WINDOW_DAYS} days",
            service=rel.service,
            related_service=holder,
            remediation=f"REVOKE {', '.join(privs)} ON {rel.sql} FROM {role};",
        )
