"""Benchmark: catalog sync (`manage.py sync`) against `pg_dump --schema-only` of the same database (issue 3).

Measured on the dev stack (`make services`; SEAMLINE_PG_HOST / SEAMLINE_PG_PORT move it):

- the wall-clock time of whole commands, run as a user runs them (Python and Django start-up included), over
  database ``seamline_bench``: 200 schemas x 50 tables (primary key, six columns, foreign keys within and across
  schemas, comments, grants to two roles), 2,000 views each reading a table in another schema, one SQL-standard
  function per schema, ANALYZEd:
  ``pg_dump --schema-only`` (the client of the server's major version, found as scripts/devstack finds PostgreSQL),
  ``manage.py sync bench`` as a first sync (the cluster's synced rows are deleted before each one), and
  ``manage.py sync bench`` again over the unchanged database (re-sync); plus ``manage.py check``, the start-up
  every command pays. One untimed warm-up, then ``--runs`` (default 3) runs; medians are reported;
- the statements sent to the monitored server per sync, for that database and for ``seamline_bench_small``
  (2 schemas x 5 tables + 20 views): the sync's own count, and what pg_stat_statements saw reach the synced database
  (when the server preloads it);
- where the time goes, in process: ``catalog.sync.sync_cluster`` with its parts timed by wrapping what it calls
  (connecting, stage_database, apply_database and each merge statement it sends to Seamline's database, commits,
  assign_owners); ``--profile`` adds cProfile's top functions.

Goals (issue 3): median first sync <= 0.4 x median pg_dump; median unchanged re-sync <= 0.25 x median pg_dump; the
number of statements sent to the monitored server does not depend on the database's size (big = small). Issue 18:
the same database with 2,000 PL/pgSQL functions added (``seamline_bench_plpgsql``, ten per schema, each reading a
table of another schema and writing its own; one in ten with dynamic SQL): first sync <= 0.5 x, re-sync <= 0.25 x
its pg_dump, statements as above.

The benchmark databases are built on the first run (about 10 s on 2 cores) and kept: ``--rebuild`` rebuilds them.
Seamline's own tables for the benchmark live in a database of their own, ``seamline_bench_app`` (created and migrated
here), so the dev catalog neither gets 12,000 relations nor influences the figures. The catalog file imported there
declares clusters ``bench`` and ``bench-small`` and 21 services ``bench-svc-*``: 20 owning 5 schemas each of the big
database, one owning the small database whole, so that ownership assignment runs too. ``--drop`` removes everything
the benchmark created (databases ``seamline_bench``, ``seamline_bench_small``, ``seamline_bench_app``; roles
``seamline_bench_reader``, ``seamline_bench_writer``) and exits.

Run: ``make bench``, or ``.venv/bin/python bench/catalog_sync.py [--runs N] [--rebuild] [--profile] [--no-docs]``,
or ``... --drop``. The report is printed and written to this benchmark's own section of docs/benchmarks.md (between
``<!-- bench:catalog_sync -->`` markers; ``--no-docs`` skips that). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import (  # noqa: E402
    argument_parser,
    bullet,
    connect_dev_stack,
    fmt_seconds,
    fmt_set,
    machine,
    median,
    paragraph,
    pg_client,
    run_timed,
    setup_django,
    write_report,
)

NAME = "catalog_sync"
PY = sys.executable
APP_DB = "seamline_bench_app"
READER, WRITER = "seamline_bench_reader", "seamline_bench_writer"
GOAL_FIRST = 0.4  # first sync <= 0.4 x pg_dump
GOAL_RESYNC = 0.25  # unchanged re-sync <= 0.25 x pg_dump
GOAL_FIRST_PLPGSQL = 0.5  # issue 18: with 2,000 PL/pgSQL functions, first sync <= 0.5 x pg_dump (re-sync as above)
SERVICES = 20  # bench-svc-00..19, each owning 5 schemas of the big database (every other schema)


@dataclass(frozen=True)
class Shape:
    database: str
    cluster: str
    schemas: int
    tables: int  # per schema
    views: int  # per schema, each reading a table in another schema
    plpgsql: int = 0  # per schema, PL/pgSQL functions reading and writing tables of their own and another schema
    goal_first: float = GOAL_FIRST

    @property
    def marker(self) -> str:
        """Stored as the database's comment once the build has finished: a half-built database is rebuilt."""
        marker = f"seamline bench v1: {self.schemas} schemas x {self.tables} tables, {self.schemas * self.views} views"
        return marker + (f", {self.schemas * self.plpgsql} PL/pgSQL functions" if self.plpgsql else "")

    @property
    def label(self) -> str:
        label = f"{self.schemas} schemas x {self.tables} tables + {self.schemas * self.views} views"
        return label + (f" + {self.schemas * self.plpgsql:,} PL/pgSQL functions" if self.plpgsql else "")


BIG = Shape("seamline_bench", "bench", schemas=200, tables=50, views=10)
SMALL = Shape("seamline_bench_small", "bench-small", schemas=2, tables=5, views=10)
# issue 18: the big database and 2,000 PL/pgSQL functions, whose bodies the sync parses (catalog.bodies)
PLPGSQL = Shape("seamline_bench_plpgsql", "bench-plpgsql", 200, 50, 10, plpgsql=10, goal_first=GOAL_FIRST_PLPGSQL)
MEASURED = (BIG, PLPGSQL)


# --- building the monitored databases ----------------------------------------------------------------------------


def _s(i: int) -> str:
    return f"s{i:03d}"


def _t(k: int) -> str:
    return f"t{k:02d}"


def _tables_sql(shape: Shape, i: int) -> str:
    """One schema's tables, in one implicit transaction: a batch holds a few hundred locks, not the whole build's."""
    s = _s(i)
    out = [f"CREATE SCHEMA {s};", f"COMMENT ON SCHEMA {s} IS 'benchmark schema {i}';"]
    for k in range(shape.tables):
        # t01..t09 reference t00 of the same schema; the last table references the previous schema (added later)
        parent = f" CONSTRAINT {_t(k)}_parent_fk REFERENCES {s}.t00 (id)" if 1 <= k <= min(9, shape.tables - 2) else ""
        out.append(
            f"CREATE TABLE {s}.{_t(k)} (id bigint PRIMARY KEY, name text NOT NULL, "
            f"created_at timestamptz NOT NULL DEFAULT now(), amount numeric(12, 2), status text, "
            f"parent_id bigint{parent});"
        )
        out.append(f"COMMENT ON TABLE {s}.{_t(k)} IS 'benchmark table {i}.{k}';")
    return "\n".join(out)


def _links_sql(shape: Shape, i: int) -> str:
    """What reads across schemas: a foreign key, the views, a function; then the grants (views included)."""
    s, n = _s(i), shape.schemas
    prev = _s((i - 1) % n)
    last = _t(shape.tables - 1)
    out = [f"ALTER TABLE {s}.{last} ADD CONSTRAINT {last}_remote_fk FOREIGN KEY (parent_id) REFERENCES {prev}.t00;"]
    for v in range(shape.views):
        src = _s((i + 1 + v % (n - 1)) % n)  # always another schema
        table = _t((v * 5) % shape.tables)
        if v == shape.views - 1:  # the last view joins two other schemas
            out.append(
                f"CREATE VIEW {s}.v{v} AS SELECT a.id, a.name, b.amount FROM {src}.{table} a "
                f"JOIN {prev}.t00 b ON b.id = a.parent_id;"
            )
        else:
            out.append(f"CREATE VIEW {s}.v{v} AS SELECT id, name, amount, created_at FROM {src}.{table};")
        out.append(f"COMMENT ON VIEW {s}.v{v} IS 'benchmark view {i}.{v}';")
    out.append(
        f"CREATE FUNCTION {s}.total_amount() RETURNS numeric LANGUAGE sql STABLE "
        f"BEGIN ATOMIC SELECT sum(amount) FROM {s}.t00; END;"
    )
    for f in range(shape.plpgsql):
        other = _s((i + 1 + f) % n)
        # one in ten builds its statement at run time: "not analysable", as the catalog must say
        dynamic = f"EXECUTE format('SELECT count(*) FROM %I.%I', '{other}', 't00') INTO n;" if f == 9 else ""
        out.append(
            f"CREATE FUNCTION {s}.f{f}(p_id bigint) RETURNS bigint LANGUAGE plpgsql AS $$\n"
            "DECLARE n bigint;\nBEGIN\n"
            f"  SELECT count(*) INTO n FROM {other}.{_t(f % shape.tables)} WHERE parent_id = p_id;\n"
            f"  UPDATE {s}.{_t(f % shape.tables)} SET status = 'seen' WHERE id = p_id;\n"
            f"  IF n > 10 THEN\n    INSERT INTO {s}.t00 (id, name) VALUES (p_id, 'many') ON CONFLICT DO NOTHING;\n"
            f"  END IF;\n  {dynamic}\n  RETURN n;\nEND\n$$;"
        )
    writable = ", ".join(f"{s}.{_t(k)}" for k in range(min(5, shape.tables)))
    out += [
        f"GRANT USAGE ON SCHEMA {s} TO {READER}, {WRITER};",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {READER};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {writable} TO {WRITER};",
    ]
    return "\n".join(out)


def database_state(admin: psycopg.Connection, shape: Shape) -> str:
    """'ok', 'missing' or 'stale' (half-built, or built by another version of this script)."""
    row = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [shape.database]
    ).fetchone()
    if row is None:
        return "missing"
    return "ok" if row[0] == shape.marker else "stale"


def build(conninfo: dict[str, Any], admin: psycopg.Connection, shape: Shape) -> float:
    start = time.perf_counter()
    admin.execute(f'DROP DATABASE IF EXISTS "{shape.database}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{shape.database}"')
    for role in (READER, WRITER):
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
            admin.execute(f"CREATE ROLE {role} NOLOGIN")
    with psycopg.connect(**conninfo, dbname=shape.database, autocommit=True) as conn:
        for i in range(shape.schemas):
            conn.execute(_tables_sql(shape, i))
            progress(f"building {shape.database}: tables", i + 1, shape.schemas)
        for i in range(shape.schemas):
            conn.execute(_links_sql(shape, i))
            progress(f"building {shape.database}: views, keys, grants", i + 1, shape.schemas)
        conn.execute("ANALYZE")
    admin.execute(f"COMMENT ON DATABASE \"{shape.database}\" IS '{shape.marker}'")
    return time.perf_counter() - start


def progress(what: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r{what} {done}/{total}{end}")
    elif done == total:
        sys.stderr.write(f"{what}: {total} done\n")


def catalog_yaml(host: str, port: int) -> str:
    dsn = f"host={host} port={port} user=postgres dbname=postgres"
    lines = ["clusters:"]
    for shape in (BIG, SMALL, PLPGSQL):
        lines += [f"  - name: {shape.cluster}", f'    dsn: "{dsn}"', f"    databases: [{shape.database}]"]
    lines.append("services:")
    for n in range(SERVICES):
        owns = ", ".join(
            f'"{shape.cluster}/{shape.database}/{_s(2 * (n * 5 + j))}"' for shape in MEASURED for j in range(5)
        )
        lines += [
            f"  - name: bench-svc-{n:02d}",
            "    team: bench",
            f"    owns: [{owns}]",
            f"    db_roles: [{READER}]",
        ]
        if n:
            lines.append(f"    consumes: [bench-svc-{n - 1:02d}]")
    lines += [
        "  - name: bench-svc-small",
        "    team: bench",
        f'    owns: ["{SMALL.cluster}/{SMALL.database}"]',
    ]
    return "\n".join(lines) + "\n"


# --- Seamline's side ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    host: str
    port: int
    conninfo: dict[str, Any]  # libpq keywords for the monitored server (superuser postgres, as in the dev stack)
    env: dict[str, str]  # for manage.py: Seamline's tables in APP_DB
    server_version: str = ""
    server_major: int = 0
    stat_statements: bool = False


def manage(stack: Stack, *args: str) -> Any:
    return run_timed([PY, "manage.py", *args], env=stack.env)


def sync(stack: Stack, cluster: str) -> tuple[float, dict[str, Any], int | None]:
    """Time `manage.py sync CLUSTER --format json` as a whole; its summary; pg_stat_statements' count if available."""
    dboid = reset_statement_stats(stack, cluster)
    timed = manage(stack, "sync", cluster, "--format", "json")
    return timed.seconds, json.loads(timed.stdout), statement_stats(stack, dboid)


def reset_statement_stats(stack: Stack, cluster: str) -> int | None:
    if not stack.stat_statements:
        return None
    from django.db import connection

    database = {shape.cluster: shape.database for shape in (BIG, SMALL, PLPGSQL)}[cluster]
    with connection.cursor() as cur:
        cur.execute("SELECT oid FROM pg_database WHERE datname = %s", [database])
        (dboid,) = cur.fetchone()
        cur.execute("SELECT pg_stat_statements_reset(0, %s, 0)", [dboid])
    return dboid


def statement_stats(stack: Stack, dboid: int | None) -> int | None:
    if dboid is None:
        return None
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE dbid = %s", [dboid])
        return cur.fetchone()[0]


def forget(cluster: str) -> None:
    """Make the next sync of the cluster a first sync: delete its synced rows, then vacuum Seamline's tables."""
    from catalog.models import Database

    Database.objects.filter(cluster__name=cluster).delete()
    analyze_app(vacuum=True)


def analyze_app(vacuum: bool = False) -> None:
    """Fresh planner statistics for Seamline's synced tables, as autovacuum keeps them between syncs."""
    from django.db import connection

    tables = [
        "catalog_database",
        "catalog_schema",
        "catalog_relation",
        "catalog_function",
        "catalog_dependency",
        "catalog_grant",
        "catalog_functionbodyuse",
    ]
    with connection.cursor() as cur:
        cur.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {', '.join(tables)}")


# --- in-process breakdown ----------------------------------------------------------------------------------------


@dataclass
class Breakdown:
    """Seconds spent in each part of one in-process ``sync_cluster`` call."""

    total: float = 0.0
    phases: Counter[str] = field(default_factory=Counter)  # stage, write, owners, commit, connect, rest
    app_sql: Counter[str] = field(default_factory=Counter)  # "write MERGE_RELATIONS", "stage COPY", ... -> seconds
    app_queries: Counter[str] = field(default_factory=Counter)  # same keys -> statements sent to Seamline's DB

    def parts(self) -> dict[str, str]:
        """Row label -> seconds (and statements), in the order of the report's table."""
        stage, write, owners, commit, connect = (
            self.phases[k] for k in ("stage", "write", "owners", "commit", "connect")
        )
        rows = {
            "total (`sync_cluster` in process)": f"{self.total:.2f}",
            "connecting to the monitored server (settings, the database, the snapshot's second connection)": (
                f"{connect:.2f}"
            ),
            "reading the catalog: fingerprint, and COPY from the monitored server into staging tables "
            "(`stage_database`, connecting excluded)": f"{stage - connect:.2f}",
        }
        write_sql = {k.split()[1]: v for k, v in self.app_sql.items() if k.startswith("write ")}
        rows["merging it into the catalog tables (`apply_database`)"] = f"{write:.2f}"
        for name, seconds in sorted(write_sql.items(), key=lambda kv: -kv[1]):
            n = self.app_queries[f"write {name}"]
            rows[f"· {name}"] = f"{seconds:.2f}" + (f" ({n:.0f}×)" if n > 1 else "")
        rows["commits"] = f"{commit:.2f}"
        rows["ownership (`assign_owners`)"] = f"{owners:.2f}"
        rows["the rest (cluster settings, database list, cluster row)"] = f"{self.phases['rest']:.2f}"
        return rows


def breakdown_table(first: Breakdown, resync: Breakdown) -> list[str]:
    a, b = first.parts(), resync.parts()
    table = ["| part (seconds) | first sync | unchanged re-sync |", "| --- | ---: | ---: |"]
    table += [f"| {label} | {a.get(label, '')} | {b.get(label, '')} |" for label in {**a, **b}]
    return table


@contextmanager
def instrumented(b: Breakdown) -> Iterator[None]:
    """Time sync_cluster's parts by wrapping what it calls (the code under test is not modified)."""
    from django.db import DEFAULT_DB_ALIAS, connection, connections

    from catalog import sync as catalog_sync

    phase = ["other"]
    # the merge statements by name, so that each gets its own row
    statements = {
        value: name for name, value in vars(catalog_sync).items() if name.isupper() and isinstance(value, str)
    }

    def timed(fn: Callable[..., Any], *, enter: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before = phase[0]
            phase[0] = enter
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                b.phases[enter] += time.perf_counter() - start
                phase[0] = before

        return wrapper

    def sql_timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        key = f"{phase[0]} {statements.get(sql) or sql.lstrip().split(None, 1)[0].upper()}"
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            b.app_sql[key] += time.perf_counter() - start
            b.app_queries[key] += 1

    # A part the code no longer has (renamed while others work on it) is simply not timed: it shows as 0.
    with ExitStack() as stack:
        for name, label in (("stage_database", "stage"), ("apply_database", "write"), ("assign_owners", "owners")):
            if hasattr(catalog_sync, name):
                stack.enter_context(
                    mock.patch.object(catalog_sync, name, timed(getattr(catalog_sync, name), enter=label))
                )
        real = connections[DEFAULT_DB_ALIAS]
        stack.enter_context(mock.patch.object(real, "commit", timed(real.commit, enter="commit")))
        original_connect = getattr(catalog_sync, "connect", None)

        @contextmanager
        def timed_connect(*args: Any, **kwargs: Any) -> Iterator[Any]:
            start = time.perf_counter()
            with original_connect(*args, **kwargs) as conn:
                b.phases["connect"] += time.perf_counter() - start
                yield conn

        if hasattr(catalog_sync, "connect"):
            stack.enter_context(mock.patch.object(catalog_sync, "connect", timed_connect))
        stack.enter_context(connection.execute_wrapper(sql_timer))
        yield


def in_process(cluster: str) -> Breakdown:
    """One ``sync_cluster`` call in this process, timed part by part."""
    from catalog.models import Cluster
    from catalog.sync import sync_cluster

    b = Breakdown()
    target = Cluster.objects.get(name=cluster)
    with instrumented(b):
        start = time.perf_counter()
        sync_cluster(target)
        b.total = time.perf_counter() - start
    # connecting happens inside stage_database too, except for the cluster settings' connection
    b.phases["rest"] = b.total - sum(v for k, v in b.phases.items() if k != "connect")
    return b


def median_breakdown(runs: list[Breakdown]) -> Breakdown:
    """Each part's median over the runs (so the parts need not add up exactly to the median total)."""

    def med(counters: list[Counter[str]]) -> Counter[str]:
        keys = {k for c in counters for k in c}
        return Counter({k: median([c[k] for c in counters]) for k in keys})

    return Breakdown(
        total=median([b.total for b in runs]),
        phases=med([b.phases for b in runs]),
        app_sql=med([b.app_sql for b in runs]),
        app_queries=med([b.app_queries for b in runs]),
    )


def profiled(cluster: str) -> str:
    """cProfile's top functions for one in-process sync (profiling slows it down: not used for the figures)."""
    from catalog.models import Cluster
    from catalog.sync import sync_cluster

    target = Cluster.objects.get(name=cluster)
    profiler = cProfile.Profile()
    profiler.runcall(sync_cluster, target)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


# --- the run -----------------------------------------------------------------------------------------------------


def connect_stack() -> Stack:
    from django.conf import settings

    host, port = settings.PG_HOST, settings.PG_PORT
    conninfo = {"host": host, "port": port, "user": "postgres", "connect_timeout": 5}
    with connect_dev_stack(host, port) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        major = conn.execute("SHOW server_version_num").fetchone()[0]
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    env = {**os.environ, "SEAMLINE_DB_NAME": APP_DB, "PYTHONUNBUFFERED": "1"}
    return Stack(host, port, conninfo, env, version, int(major) // 10000, "pg_stat_statements" in preload)


def prepare_app(stack: Stack, admin: psycopg.Connection) -> None:
    """Seamline's own database for the benchmark: created, migrated, catalog file imported (idempotent)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if (db["HOST"], int(db["PORT"])) != (stack.host, stack.port):
        where = f"{db['HOST']}:{db['PORT']}"
        print(f"note: Seamline's tables are at {where}, the monitored server at {stack.host}:{stack.port}")
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DB]).fetchone():
        admin.execute(f'CREATE DATABASE "{APP_DB}"')
    manage(stack, "migrate", "--noinput", "-v0")
    if stack.stat_statements:
        with psycopg.connect(**stack.conninfo, dbname=APP_DB, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="bench-catalog-") as f:
        f.write(catalog_yaml(stack.host, stack.port))
        f.flush()
        manage(stack, "import_catalog", f.name)


def prepare(stack: Stack, admin: psycopg.Connection, rebuild: bool) -> None:
    """The benchmark databases, built when missing or stale (or on request), then Seamline's database for them."""
    for shape in (BIG, SMALL, PLPGSQL):
        state = "rebuilt on request" if rebuild else database_state(admin, shape)
        if state != "ok":
            print(f"building {shape.database} ({shape.label}; {state})")
            print(f"  built in {build(stack.conninfo, admin, shape):.0f} s")
    prepare_app(stack, admin)


def drop(admin: psycopg.Connection) -> None:
    for name in (BIG.database, SMALL.database, PLPGSQL.database, APP_DB):
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped database {name} (if it existed)")
    for role in (READER, WRITER):
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        print(f"dropped role {role} (if it existed)")


@dataclass
class Results:
    dumps: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    resyncs: list[float] = field(default_factory=list)
    startups: list[float] = field(default_factory=list)  # `manage.py check`: Django start-up and system checks
    dump_bytes: int = 0
    created: dict[str, int] = field(default_factory=dict)  # what a first sync of the big database creates
    resync_changes: list[dict[str, Any]] = field(default_factory=list)  # changes an unchanged re-sync reported
    statements: dict[str, set[int]] = field(default_factory=dict)  # "big"/"small" -> the sync's own counts
    server_statements: dict[str, set[int]] = field(default_factory=dict)  # same, from pg_stat_statements
    first_breakdowns: list[Breakdown] = field(default_factory=list)
    resync_breakdowns: list[Breakdown] = field(default_factory=list)

    def count(self, size: str, summary: dict[str, Any], server: int | None) -> None:
        self.statements.setdefault(size, set()).add(summary["statements_sent"])
        if server is not None:
            self.server_statements.setdefault(size, set()).add(server)


def measure(stack: Stack, pg_dump: Path, runs: int, shape: Shape) -> Results:
    res = Results()
    print(f"catalog sync benchmark: {shape.database} ({shape.label}), {runs} runs after a warm-up")
    with tempfile.TemporaryDirectory(prefix="bench-dump-") as tmp:
        dump_file = Path(tmp) / f"{shape.database}.sql"
        dump_cmd = [str(pg_dump), "--schema-only", "-h", stack.host, "-p", str(stack.port), "-U", "postgres"]
        dump_cmd += ["-f", str(dump_file), shape.database]
        for run in range(runs + 1):  # run 0 is the warm-up
            dump = run_timed(dump_cmd).seconds
            startup = manage(stack, "check").seconds
            forget(shape.cluster)
            first, summary, server = sync(stack, shape.cluster)
            res.created = summary["created"]
            res.count("big", summary, server)
            analyze_app()
            resync, summary, server = sync(stack, shape.cluster)
            res.count("big", summary, server)
            changes = {k: v for k, v in summary.items() if k in ("created", "updated", "deleted") and v}
            forget(shape.cluster)
            first_b = in_process(shape.cluster)
            analyze_app()
            resync_b = in_process(shape.cluster)
            print(
                f"  {f'run {run}' if run else 'warm-up'}: pg_dump {dump:.2f} s, first sync {first:.2f} s "
                f"(in process {first_b.total:.2f} s), re-sync {resync:.2f} s (in process {resync_b.total:.2f} s), "
                f"manage.py start-up {startup:.2f} s"
            )
            if run:
                res.dumps.append(dump)
                res.firsts.append(first)
                res.resyncs.append(resync)
                res.startups.append(startup)
                res.first_breakdowns.append(first_b)
                res.resync_breakdowns.append(resync_b)
                if changes:
                    res.resync_changes.append(changes)
        res.dump_bytes = dump_file.stat().st_size

    for _ in range(2):  # the small database, to compare statement counts
        forget(SMALL.cluster)
        _, summary, server = sync(stack, SMALL.cluster)
        res.count("small", summary, server)
        analyze_app()
        _, summary, server = sync(stack, SMALL.cluster)
        res.count("small", summary, server)
    return res


def report(res: Results, shape: Shape) -> tuple[list[str], list[str], list[str], bool]:
    """The goals' table, the figures, the breakdown (markdown lines), and whether every goal holds."""
    d, f, r = median(res.dumps), median(res.firsts), median(res.resyncs)
    big, small = res.statements["big"], res.statements["small"]
    # a first sync reads the whole catalog, an unchanged one only its fingerprint: what must not depend on the
    # database's size is each of those counts, so the big and the small database must show the same set
    same = big == small
    if res.server_statements:
        same = same and res.server_statements["big"] == res.server_statements["small"]
    goals = [
        ("first sync / pg_dump (medians)", f"{f / d:.2f}×", f"≤ {shape.goal_first}×", f / d <= shape.goal_first),
        ("unchanged re-sync / pg_dump (medians)", f"{r / d:.2f}×", f"≤ {GOAL_RESYNC}×", r / d <= GOAL_RESYNC),
        (
            "statements sent to the monitored server, big vs small database",
            f"{fmt_set(big)} vs {fmt_set(small)}",
            "equal",
            same,
        ),
    ]
    table = ["| figure | measured | goal | holds |", "| --- | --- | --- | --- |"]
    table += [f"| {label} | {value} | {goal} | {'yes' if ok else '**no**'} |" for label, value, goal, ok in goals]

    startup = median(res.startups)
    figures = [
        f"database `{shape.database}`: {shape.label}, one SQL-standard function per schema; a first sync creates "
        + ", ".join(f"{label} {n}" for label, n in sorted(res.created.items())),
        f"`pg_dump --schema-only`: {fmt_seconds(res.dumps)}; the dump is {res.dump_bytes / 1e6:.1f} MB",
        f"`manage.py sync {shape.cluster}`, first sync: {fmt_seconds(res.firsts)}",
        f"`manage.py sync {shape.cluster}`, unchanged re-sync: {fmt_seconds(res.resyncs)}; "
        + (f"it reported changes: {res.resync_changes}" if res.resync_changes else "it reported no change"),
        f"start-up of a `manage.py` command (Django set-up and system checks, timed as `manage.py check`): "
        f"{fmt_seconds(res.startups)}, i.e. {startup / d:.2f}× pg_dump before any work",
        f"statements sent to the monitored server per sync (the sync's own count): {fmt_set(big)} for the big "
        f"database, {fmt_set(small)} for the small one ({SMALL.label})",
    ]
    if res.server_statements:
        figures.append(
            "statements reaching the synced database per sync (pg_stat_statements, BEGIN and COMMIT included): "
            f"{fmt_set(res.server_statements['big'])} big, {fmt_set(res.server_statements['small'])} small"
        )
    first_b, resync_b = median_breakdown(res.first_breakdowns), median_breakdown(res.resync_breakdowns)
    floor = startup + first_b.phases["stage"]
    figures.append(
        f"before writing anything, a first sync pays the start-up and reads the catalog ({first_b.phases['stage']:.2f}"
        f" s in process): {floor:.2f} s together, {floor / d:.2f}× pg_dump"
    )
    return table, figures, breakdown_table(first_b, resync_b), all(ok for *_, ok in goals)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        __doc__,
        profile="also print cProfile's top functions of a sync",
        drop="remove the benchmark's databases and roles, and exit",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command (default 3)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the benchmark databases first")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    setup_django({"SEAMLINE_DB_NAME": APP_DB})
    stack = connect_stack()
    with psycopg.connect(**stack.conninfo, dbname="postgres", autocommit=True) as admin:
        if args.drop:
            drop(admin)
            return 0
        prepare(stack, admin, rebuild=args.rebuild)

    pg_dump = pg_client("pg_dump", stack.server_major)
    from django import get_version

    info = machine(
        {
            "PostgreSQL server": f"{stack.server_version} (dev stack, {stack.host}:{stack.port})",
            "pg_dump": run_timed([str(pg_dump), "--version"]).stdout.strip(),
            "Django": get_version(),
            "psycopg": psycopg.__version__,
        }
    )
    sections, all_hold = [], True
    for shape in MEASURED:
        res = measure(stack, pg_dump, args.runs, shape)
        table, figures, breakdown, holds = report(res, shape)
        all_hold = all_hold and holds
        print("\n" + "\n".join(table) + "\n")
        print("\n".join(f"- {line}" for line in figures))
        print("\nin process (catalog.sync.sync_cluster; medians, seconds):")
        print("\n".join(breakdown))
        if args.profile:
            forget(shape.cluster)
            print("\ncProfile, first sync:\n" + profiled(shape.cluster))
            analyze_app()
            print("\ncProfile, unchanged re-sync:\n" + profiled(shape.cluster))
        what = "the issue 3 database" if not shape.plpgsql else "with 2,000 PL/pgSQL functions (issue 18)"
        sections += [
            f"### `{shape.database}`: {what}",
            "",
            *table,
            "",
            *[bullet(line) for line in figures],
            "",
            "Where the time goes, in process (`catalog.sync.sync_cluster` with its parts timed; medians, seconds):",
            "",
            *breakdown,
            "",
        ]
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))

    if not args.no_docs:
        body = [
            "## Catalog sync against pg_dump (issues 3 and 18)",
            "",
            paragraph(
                f"`bench/catalog_sync.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Whole commands timed as a user "
                "runs them (wall clock; Python and Django start-up included), medians over "
                f"{args.runs} runs after a warm-up, pg_dump and sync measured in the same run against the same "
                "server. The re-sync is of the unchanged database; before each first sync the cluster's synced rows "
                f"are deleted. Seamline's own tables are in a database of their own (`{APP_DB}`), vacuumed and "
                "analysed before each first sync and analysed before each re-sync, as autovacuum keeps them. "
                "Measured twice: on the issue 3 database, and on the same database with ten PL/pgSQL functions per "
                "schema (2,000; one in ten runs dynamic SQL), whose bodies the sync parses (issue 18)."
            ),
            "",
            *sections,
        ]
        reproduce = (
            "Reproduce: `make bench`, or `.venv/bin/python bench/catalog_sync.py [--runs N] [--profile]` with the "
            "dev stack running (`make services`). The benchmark databases are built on the first run and kept; "
            "`--rebuild` rebuilds them, `--drop` removes them (with the benchmark's Seamline database and roles)."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
