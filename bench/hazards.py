"""Benchmark: what the transaction hazards (issue 17) add to each sample of a primary, in database time on the server.

A primary's sample sends one statement more for them (``dashboard.readers.hazards``: prepared transactions and every
database's wraparound figures), and reads a little more with two it sent already: each session's xmin age
(``dashboard.readers.activity``) and the standbys' and slots' xmin with the slots' consumers
(``dashboard.readers.replication``). Measured on the dev primary (``make services``), as a role of its own
(``seamline_bench_hazards``, member of pg_monitor as docs/security.md says), in database ``postgres``, with 40 sessions
held idle in a transaction with a snapshot (each with an xmin) beside whatever else runs there: each statement
and the same statement without what issue 17 added, ``--calls`` times each (default 300, after 20 of warm-up),
interleaved; the database time of each (planning plus execution, from pg_stat_statements, the role's entries reset
first) is the mean per call. Added per sample: the hazards statement, plus what the sessions and replication
statements cost more than without the additions.

Goal (issue 17): the added server time <= 1 ms per sample.

Run: ``make bench``, or ``.venv/bin/python bench/hazards.py [--calls N] [--no-docs]``. The report is printed and
written to this benchmark's own section of docs/benchmarks.md (between ``<!-- bench:hazards -->`` markers). Exit
status 1 when the goal is missed.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._common import argument_parser, connect_dev_stack, machine, setup_django, write_report

NAME = "hazards"
ROLE = "seamline_bench_hazards"
GOAL_MS = 1.0
WARM_UP = 20
HELD = 40  # sessions held in a transaction with a snapshot (each has an xmin) while the statements run
REPRODUCE = ".venv/bin/python bench/hazards.py [--calls N] [--no-docs]"

# what issue 17 added to statements every sample sent already: removed, they give the statement as it was
SESSIONS_ADDED = ",\n    greatest(age(a.backend_xmin), age(a.backend_xid)) AS xmin_age"
REPLICATION_ADDED = (
    ",\n            -- hot_standby_feedback: the oldest snapshot the standby's queries need, held on the primary\n"
    "            'xmin', r.backend_xmin::text::bigint,\n            'xmin_age', age(r.backend_xmin)",
    "\n            'xmin', s.xmin::text::bigint,",
    "\n            'catalog_xmin', s.catalog_xmin::text::bigint,",
    ",\n            'database', s.database,\n            -- who consumes it now: the WAL sender streaming from it\n"
    "            'consumer_application', c.application_name,\n            'consumer_user', c.usename",
    "\n        LEFT JOIN pg_stat_replication c ON c.pid = s.active_pid",
)


def without(sql: str, *parts: str) -> str:
    for part in parts:
        if part not in sql:
            raise SystemExit(f"the statement no longer holds {part!r}: update bench/hazards.py")
        sql = sql.replace(part, "")
    return sql


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__ or "")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    setup_django({})
    from django.conf import settings

    from dashboard.readers import activity, hazards, replication

    statements = {
        "hazards (new)": hazards.HAZARDS.sql,
        "sessions": activity.SESSIONS.sql,
        "sessions, before issue 17": without(activity.SESSIONS.sql, SESSIONS_ADDED),
        "replication": replication.PRIMARY.sql,
        "replication, before issue 17": without(replication.PRIMARY.sql, *REPLICATION_ADDED),
    }
    with connect_dev_stack(settings.PG_HOST, settings.PG_PORT, autocommit=True) as admin:
        if not admin.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()[0]:
            admin.execute("CREATE EXTENSION pg_stat_statements")
        if not admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone()[0]:
            admin.execute(f"CREATE ROLE {ROLE} LOGIN IN ROLE pg_monitor")
        oid = admin.execute("SELECT oid FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone()[0]
        held = []
        for _ in range(HELD):
            c = psycopg.connect(host=settings.PG_HOST, port=settings.PG_PORT, user="postgres", dbname="postgres")
            c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.execute("SELECT 1")  # idle in transaction, its snapshot's xmin held
            held.append(c)
        sessions = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        n_sessions = sessions.fetchone()[0]
        n_databases = admin.execute("SELECT count(*) FROM pg_database").fetchone()[0]
        n_slots = admin.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0]
        admin.execute("SELECT pg_stat_statements_reset(%s::oid, 0, 0)", [oid])
        role = {"host": settings.PG_HOST, "port": settings.PG_PORT, "user": ROLE, "dbname": "postgres"}
        with psycopg.connect(**role, autocommit=True) as conn:
            for _ in range(WARM_UP):
                for sql in statements.values():
                    conn.execute(sql).fetchall()
            admin.execute("SELECT pg_stat_statements_reset(%s::oid, 0, 0)", [oid])
            started = time.perf_counter()
            for _ in range(args.calls):
                for sql in statements.values():
                    conn.execute(sql).fetchall()
            elapsed = time.perf_counter() - started
        for c in held:
            c.close()
        rows = admin.execute(
            "SELECT query, calls, total_plan_time + total_exec_time FROM pg_stat_statements WHERE userid = %s",
            [oid],
        ).fetchall()
    mean: dict[str, float] = {}
    for label, sql in statements.items():
        found = [(calls, ms) for query, calls, ms in rows if " ".join(query.split()) == " ".join(sql.split())]
        if len(found) != 1 or found[0][0] != args.calls:
            raise SystemExit(f"{label}: {found} in pg_stat_statements, not one entry of {args.calls} calls")
        mean[label] = found[0][1] / args.calls
    added = (
        mean["hazards (new)"]
        + mean["sessions"]
        - mean["sessions, before issue 17"]
        + mean["replication"]
        - mean["replication, before issue 17"]
    )
    holds = added <= GOAL_MS
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "## Transaction hazards: what they add to a primary's sample (issue 17)",
        "",
        f"`bench/hazards.py`, {when}. The dev primary ({n_sessions} client sessions, {HELD} of them held idle in a "
        f"transaction with a snapshot, {n_databases} databases, "
        f"{n_slots} replication slots), read as `{ROLE}` (pg_monitor); each statement {args.calls} times, "
        "interleaved, after "
        f"{WARM_UP} of warm-up; database time (planning plus execution) from pg_stat_statements, mean per call.",
        "",
        "| figure | measured | goal | holds |",
        "| --- | --- | --- | --- |",
        f"| server time a primary's sample spends more for the hazards (the hazards statement, and the sessions' "
        f"and replication statements' additions) | {added:.3f} ms | ≤ {GOAL_MS:g} ms "
        f"| {'yes' if holds else '**no**'} |",
        "",
        "| statement | mean database time per call |",
        "| --- | ---: |",
        *(f"| {label} | {ms:.3f} ms |" for label, ms in mean.items()),
        "",
        f"The whole run took {elapsed:.1f} s of statements.",
    ]
    print("\n".join(body))
    if not args.no_docs:
        write_report(NAME, body, machine(), f"Run it alone: `{REPRODUCE}`.")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
