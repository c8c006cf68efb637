"""Benchmark: the audit rules over the catalog benchmark's 10,000-table database, after a sync (issue 6).

Measured in process, on the databases ``bench/catalog_sync.py`` builds and keeps (its functions are reused: same
databases, same Seamline database ``seamline_bench_app``, same catalog file): cluster ``bench`` is database
``seamline_bench`` (200 schemas x 50 tables + 2,000 cross-schema views, one function per schema, grants to two
roles; 20 services ``bench-svc-*`` owning every other schema), cluster ``bench-small`` is ``seamline_bench_small``
(2 schemas x 5 tables + 20 views, one service owning it whole).

- the rules' time after a sync, as an audit run spends it: ``catalog.rules.load(cluster)`` (the synced catalog read
  into a snapshot) and ``catalog.rules.evaluate(snapshot)`` (every rule, with the configured severities), timed
  separately and together; one untimed warm-up, then ``--runs`` (default 5) runs; median and range. A cluster is
  synced first (``catalog.sync.sync_cluster``, untimed) when it has no synced database, e.g. after the catalog sync
  benchmark deleted its rows; Seamline's synced tables are then analysed, as autovacuum keeps them;
- the SQL statements Django sends during load + evaluate (``CaptureQueriesContext`` on the default connection), for
  the big and for the small cluster;
- the findings each rule produces on the big database, the catalog's size as the rules see it, and where the time
  goes: each rule timed on its own over the same snapshot, and load's statements apart from building the snapshot;
  ``--profile`` (or a missed goal) adds cProfile's top functions of one evaluate and one load.

Writing the findings (``catalog.audits``) is not measured here: the goal is about the rules.

Goals (issue 6): median load + evaluate <= 2 s on the big cluster; the number of statements it sends does not grow
with the catalog (big = small).

Run: ``make bench``, or ``.venv/bin/python bench/audit_rules.py [--runs N] [--rebuild] [--profile] [--no-docs]``
with the dev stack running (``make services``). The benchmark databases are built on the first run (about 10 s) and
kept; ``--rebuild`` rebuilds them and syncs both clusters again; ``bench/catalog_sync.py --drop`` removes them. The
report is printed and written to this benchmark's own section of docs/benchmarks.md (between
``<!-- bench:audit_rules -->`` markers; ``--no-docs`` skips that). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    argument_parser,
    bullet,
    fmt_seconds,
    fmt_set,
    machine,
    median,
    paragraph,
    setup_django,
    write_report,
)
from bench.catalog_sync import (  # noqa: E402
    APP_DB,
    BIG,
    SMALL,
    Shape,
    analyze_app,
    connect_stack,
    forget,
    prepare,
)

NAME = "audit_rules"
GOAL_SECONDS = 2.0
REPRODUCE = ".venv/bin/python bench/audit_rules.py [--runs N] [--rebuild] [--profile] [--no-docs]"


@dataclass
class Measured:
    """One cluster's runs of load + evaluate."""

    cluster: str
    loads: list[float] = field(default_factory=list)
    evaluates: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    load_sql: list[float] = field(default_factory=list)  # statements' time as Django times them, during load
    queries: set[int] = field(default_factory=set)  # statements per load + evaluate
    load_queries: set[int] = field(default_factory=set)
    evaluate_queries: set[int] = field(default_factory=set)
    tables: list[str] = field(default_factory=list)  # the table each statement of the last run reads first
    findings: set[int] = field(default_factory=set)  # findings per run (should not vary)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    size: dict[str, Any] = field(default_factory=dict)
    rule_seconds: dict[str, float] = field(default_factory=dict)  # each rule alone, median
    synced: str = ""  # what was done to have it synced


def ensure_synced(shape: Shape, force: bool) -> str:
    """Sync the cluster (untimed) unless it has a synced database already; what was done, in words."""
    from catalog.models import Cluster, Database
    from catalog.sync import sync_cluster

    cluster = Cluster.objects.get(name=shape.cluster)
    if force:
        forget(shape.cluster)
    present = Database.objects.filter(cluster=cluster, name=shape.database).first()
    if present is not None:
        return f"already synced ({present.synced_at:%Y-%m-%d %H:%M} UTC)" if present.synced_at else "already synced"
    start = time.perf_counter()
    summary = sync_cluster(cluster)
    seconds = time.perf_counter() - start
    analyze_app()
    created = ", ".join(f"{k} {v}" for k, v in sorted(summary.as_dict().get("created", {}).items()))
    return f"synced here first ({seconds:.2f} s untimed; created {created})"


def _table(sql: str) -> str:
    m = re.search(r'\bFROM\s+"([^"]+)"', sql)
    return m.group(1) if m else sql.split(None, 1)[0].upper()


def catalog_size(snapshot: Any) -> dict[str, Any]:
    return {
        "schemas": len(snapshot.schemas),
        "relations": len(snapshot.relations),
        "relation kinds": Counter(r.kind for r in snapshot.relations.values()),
        "functions": len(snapshot.functions),
        "dependencies": len(snapshot.edges),
        "dependency kinds": Counter(e[0] for e in snapshot.edges),
        "grants": len(snapshot.grants),
        "services": len(snapshot.services),
    }


def measure(shape: Shape, runs: int, per_rule: bool) -> Measured:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog import rules
    from catalog.models import Cluster

    m = Measured(shape.cluster)
    cluster = Cluster.objects.get(name=shape.cluster)
    snapshot = None
    for run in range(runs + 1):  # run 0 is the warm-up
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            snapshot = rules.load(cluster)
            loaded = time.perf_counter()
            n_load = len(ctx.captured_queries)
            findings = rules.evaluate(snapshot)
            done = time.perf_counter()
        queries = ctx.captured_queries
        load, evaluate = loaded - start, done - loaded
        print(
            f"  {shape.cluster} {f'run {run}' if run else 'warm-up'}: load {load:.3f} s, evaluate {evaluate:.3f} s, "
            f"total {load + evaluate:.3f} s; {len(queries)} statements, {len(findings)} findings"
        )
        if not run:
            continue
        m.loads.append(load)
        m.evaluates.append(evaluate)
        m.totals.append(load + evaluate)
        m.load_sql.append(sum(float(q["time"]) for q in queries[:n_load]))
        m.queries.add(len(queries))
        m.load_queries.add(n_load)
        m.evaluate_queries.add(len(queries) - n_load)
        m.tables = [_table(q["sql"]) for q in queries]
        m.findings.add(len(findings))
        m.by_rule = Counter(f.rule for f in findings)
        m.by_severity = Counter(f.severity for f in findings)
    assert snapshot is not None
    m.size = catalog_size(snapshot)
    if per_rule:
        seconds: dict[str, list[float]] = {code: [] for code in rules.RULES}
        for _ in range(runs):
            for code, (_, fn) in rules.RULES.items():
                start = time.perf_counter()
                for _finding in fn(snapshot):
                    pass
                seconds[code].append(time.perf_counter() - start)
        m.rule_seconds = {code: median(values) for code, values in seconds.items()}
    return m


def profiled(shape: Shape) -> str:
    """cProfile's top functions of one evaluate and one load (profiling slows them down: not used for figures)."""
    from catalog import rules
    from catalog.models import Cluster

    cluster = Cluster.objects.get(name=shape.cluster)
    out = io.StringIO()
    profiler = cProfile.Profile()
    snapshot = profiler.runcall(rules.load, cluster)
    load_profile = profiler
    profiler = cProfile.Profile()
    profiler.runcall(rules.evaluate, snapshot)
    for what, prof in (("evaluate", profiler), ("load", load_profile)):
        out.write(f"\n--- cProfile, one rules.{what} ({shape.cluster}) ---\n")
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


def report(big: Measured, small: Measured) -> tuple[list[str], list[str], list[str], list[str], bool]:
    """Goals' table, figures, findings per rule, where the time goes (markdown lines); whether every goal holds."""
    from catalog import rules
    from catalog.models import Severity

    total = median(big.totals)
    goals = [
        (
            f"`load` + `evaluate` on `{BIG.cluster}`, median (max)",
            f"{total:.2f} s (max {max(big.totals):.2f} s)",
            f"≤ {GOAL_SECONDS:.0f} s",
            total <= GOAL_SECONDS,
        ),
        (
            "SQL statements per load + evaluate, big vs small cluster",
            f"{fmt_set(big.queries)} vs {fmt_set(small.queries)}",
            "equal",
            big.queries == small.queries,
        ),
    ]
    table = ["| figure | measured | goal | holds |", "| --- | --- | --- | --- |"]
    table += [f"| {label} | {value} | {goal} | {'yes' if ok else '**no**'} |" for label, value, goal, ok in goals]

    s = big.size
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(s["relation kinds"].items()))
    deps = ", ".join(f"{k} {n}" for k, n in sorted(s["dependency kinds"].items()))
    figures = [
        f"cluster `{BIG.cluster}` (database `{BIG.database}`, {BIG.label}), {big.synced}; as the rules see it: "
        f"{s['schemas']} schemas, {s['relations']} relations ({kinds}), {s['functions']} functions, "
        f"{s['dependencies']} dependencies ({deps}), {s['grants']} grants, {s['services']} services",
        f"`rules.load`: {fmt_seconds(big.loads)}; its statements took {median(big.load_sql):.2f} s (median, as Django "
        "times them: execution and the rows' transfer), decoding the rows and building the snapshot the rest",
        f"`rules.evaluate`: {fmt_seconds(big.evaluates)}",
        f"`load` + `evaluate`: {fmt_seconds(big.totals)}",
        f"findings on `{BIG.cluster}`: {fmt_set(big.findings)} ("
        + ", ".join(f"{sev} {big.by_severity[sev]}" for sev in Severity.values if big.by_severity[sev])
        + ")",
        f"SQL statements per load + evaluate: {fmt_set(big.queries)} on `{BIG.cluster}` "
        f"(load {fmt_set(big.load_queries)}, evaluate {fmt_set(big.evaluate_queries)}), {fmt_set(small.queries)} "
        f"on `{SMALL.cluster}` (load {fmt_set(small.load_queries)}, evaluate {fmt_set(small.evaluate_queries)}); "
        "they read, in order: " + ", ".join(f"`{t}`" for t in big.tables),
        f"cluster `{SMALL.cluster}` (database `{SMALL.database}`, {SMALL.label}), {small.synced}: load + evaluate "
        f"{fmt_seconds(small.totals)}, {fmt_set(small.findings)} findings",
    ]

    per_rule = [
        "| rule | default severity | findings on `bench` | seconds alone (median) |",
        "| --- | --- | ---: | ---: |",
    ]
    for code, (default, _) in rules.RULES.items():
        per_rule.append(f"| `{code}` | {default} | {big.by_rule[code]} | {big.rule_seconds.get(code, 0):.3f} |")
    unknown = sorted(set(big.by_rule) - set(rules.RULES))
    per_rule += [f"| `{code}` | ? | {big.by_rule[code]} | |" for code in unknown]
    rules_sum = sum(big.rule_seconds.values())
    per_rule.append(f"| all rules, each alone | | {sum(big.by_rule.values())} | {rules_sum:.3f} |")

    ev = median(big.evaluates)
    time_parts = [
        "| part (seconds, medians) | `bench` |",
        "| --- | ---: |",
        f"| `rules.load` | {median(big.loads):.3f} |",
        f"| · its SQL statements (execution and transfer, as Django times them) | {median(big.load_sql):.3f} |",
        f"| · decoding the rows and building the snapshot | {median(big.loads) - median(big.load_sql):.3f} |",
        f"| `rules.evaluate` | {ev:.3f} |",
        f"| · the rules, each timed alone (table above) | {rules_sum:.3f} |",
        f"| · the rest: severities, `Finding` objects, sorting | {ev - rules_sum:.3f} |",
    ]
    return table, figures, per_rule, time_parts, all(ok for *_, ok in goals)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, profile="also print cProfile's top functions of one evaluate")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after a warm-up (default 5)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the benchmark databases and sync them again")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    wall = time.perf_counter()
    setup_django({"SEAMLINE_DB_NAME": APP_DB})
    stack = connect_stack()
    with psycopg.connect(**stack.conninfo, dbname="postgres", autocommit=True) as admin:
        prepare(stack, admin, rebuild=args.rebuild)

    from django import get_version

    info = machine(
        {
            "PostgreSQL server": f"{stack.server_version} (dev stack, {stack.host}:{stack.port})",
            "Django": get_version(),
            "psycopg": psycopg.__version__,
        }
    )
    synced = {shape.cluster: ensure_synced(shape, force=args.rebuild) for shape in (BIG, SMALL)}
    for cluster, what in synced.items():
        print(f"cluster {cluster}: {what}")
    analyze_app()
    print(f"audit rules benchmark: {BIG.cluster} ({BIG.label}) and {SMALL.cluster}, {args.runs} runs after a warm-up")
    big = measure(BIG, args.runs, per_rule=True)
    small = measure(SMALL, args.runs, per_rule=False)
    big.synced, small.synced = synced[BIG.cluster], synced[SMALL.cluster]
    table, figures, per_rule, time_parts, all_hold = report(big, small)

    print("\n" + "\n".join(table) + "\n")
    print("\n".join(f"- {line}" for line in figures))
    print("\nfindings and time per rule (big cluster):")
    print("\n".join(per_rule))
    print("\nwhere the time goes:")
    print("\n".join(time_parts))
    if args.profile or not all_hold:
        print(profiled(BIG))
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))
    print(f"reproduce: {REPRODUCE}  (this run: {time.perf_counter() - wall:.0f} s)")

    if not args.no_docs:
        body = [
            "## Audit rules on the 10,000-table catalog (issue 6)",
            "",
            paragraph(
                f"`bench/audit_rules.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. In process, after a sync of the "
                f"catalog benchmark's databases (Seamline's tables in `{APP_DB}`, analysed): `catalog.rules.load` of "
                "the cluster and `catalog.rules.evaluate` of its snapshot, timed separately, medians (and ranges) "
                f"over {args.runs} runs after a warm-up; SQL statements counted with Django's "
                "`CaptureQueriesContext` on the default connection. Writing the findings is not part of it."
            ),
            "",
            *table,
            "",
            *[bullet(line) for line in figures],
            "",
            "Findings per rule on `bench`, and each rule's time alone over the same snapshot:",
            "",
            *per_rule,
            "",
            "Where the time goes:",
            "",
            *time_parts,
        ]
        reproduce = (
            f"Reproduce: `make bench`, or `{REPRODUCE}` with the dev stack running (`make services`). The "
            "benchmark databases are those of `bench/catalog_sync.py`, built on the first run and kept; a cluster "
            "with no synced database is synced first; `--rebuild` rebuilds them and syncs again."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
