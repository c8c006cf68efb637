"""Benchmark: what statements sampling costs the monitored server, what it stores, and the Workload page (issue 16).

The monitored side is a throwaway PostgreSQL instance of the dev stack's major version, started here (as the
``postgres`` OS user when run as root) in ``/tmp/seamline-bench-statements`` on a free port from 54339, with
pg_stat_statements preloaded (``pg_stat_statements.max = 10000``, ``track = top``, planning time tracked). Its
database ``app`` holds 20 schemas of 5 tables of 50 columns, one schema per LOGIN role (``bench_r00`` ...
``bench_r19``), and each role runs 250 statements of its own, 5,000 distinct statements in all (distinct
statement ids), each run 3 times, in one of two sets: the short texts first, then (pg_stat_statements emptied with
``pg_stat_statements_reset()``, its texts file too) the realistic ones, which the rest of the run keeps:

- realistic texts, what the goal is measured on: statements as applications and their ORMs send them, every name
  quoted and qualified (``"sR"."tJ"."cK"``), of a length that varies as real ones do (a median of about 400 bytes,
  one in twenty 1 KB or more, up to about 2 KB): reads by id of a few to 50 columns, filtered and ordered reads
  with a LIMIT, updates of a few columns, joins of two and three tables with long column lists; of each role's, 10
  reach the next role's schema (5 reads, 5 updates of its first table);
- short texts, for information: ``SELECT cK FROM sR.tJ WHERE id = $1`` over the role's own tables, and 10 that
  reach the next role's schema (``SELECT cK, id FROM ...`` and ``UPDATE ... SET cK = $1 WHERE id = $2``).

Seamline reads it as ``seamline_bench_monitor`` (LOGIN, member of pg_monitor as docs/security.md says; the cluster
DSN's user) in database ``postgres``, where the extension is created. The setup and this benchmark's own reading of
pg_stat_statements run as ``postgres`` with ``pg_stat_statements.track = none`` (set at connection start), so that
the only statements the instance tracks are the workload's and the monitoring role's.

Seamline's tables live in database ``seamline_bench_statements`` on the dev primary (created and migrated here; its
statements tables emptied at the start of each run), holding one cluster pointed at the instance and 20 services
(5 teams), each listing one role in ``db_roles`` and owning its schema; the catalog is synced once (before the
workload; its statements then forgotten with ``pg_stat_statements_reset()``). Live data goes to Redis database 6
(flushed before and after; `make run` uses 0). Settings are production's (``SEAMLINE_DEBUG=0``), with the
Server-Timing header on. Samples are taken in process (``dashboard.statements.sampler.sample_statements``); no
worker runs.

Measured:

- with each set of statements: the first statements sample of the node (every text fetched) and the second of the
  unchanged server (nothing run between them but the first sample itself; then a third, for information), in
  rounds (``--rounds``, default 5, with the realistic texts; ``--short-rounds``, default 3, with the short ones;
  before each, Seamline's stored statements and the node's baseline are removed, and the monitoring role's own
  entries with ``pg_stat_statements_reset(userid)``), medians: statements sent to the monitored server
  (``MonitoredConnection.statements_sent``, which leaves out BEGIN and COMMIT), the calls pg_stat_statements counts
  for the monitoring role (BEGIN and COMMIT included) and their database time, planning plus execution (read before
  and after each sample from another database, the difference); the texts asked for and fetched; the sample's wall
  time in Seamline, by part; the length of the texts pg_stat_statements holds (``octet_length(query)``) and the
  size of its texts file; and the floor, the database time of ``SELECT count(*) FROM pg_stat_statements(false)``
  run alone by the monitoring role (the extension's own cost of handing out every entry's counters, which no
  reader of them goes below; 3 calls of warm-up, then the median of 15);
- what Seamline stores per node and day at the default 60 s interval: ``--intervals`` (default 60, an hour's worth)
  more samples, each after a pass that runs every one of the 5,000 statements once; the rows each interval adds to
  StatementSample, and the distinct keys of the intervals (what an hour's StatementRollup holds); then a day of them
  built in temporary tables like the partitions (columns and primary key), the intervals' rows repeated in time
  order for 1,440 intervals and 24 hourly rollup buckets, their rows and bytes (``pg_total_relation_size``: heap,
  TOAST, indexes); the texts (StatementText, once per statement, not per day);
- the Workload partial (``/workload/<pk>/`` with ``HX-Request: true``) with 1,000 distinct statements in its 1 h
  window: the stored samples replaced with 2 h of planted ones (120 intervals of 60 s, each holding 200 of the 1,000
  statements in turn and an "other statements" row per service, as the sampler writes them: its top 200 plus the
  rest summed; 20 statements 2.5 times as slow in the last hour, for the regressions list), with the sampler's real
  texts; in process with django.test.Client as a logged-in superuser, the server time (``Server-Timing``) of the
  partial rendered (the cluster's statements version moved before each request, as a sample moves it;
  ``--renders``, default 30, after 3 of warm-up) and served from its fragment (``--requests``, default 300, after 20
  of warm-up, 10 after each render), p50 and p95; cProfile's top functions of the rendered partial on ``--profile``.

Goals (issue 16): the second sample's database time on the monitored server <= 20 % of the first's (with the
realistic texts; the short texts' figures and the floor are reported beside it); the Workload partial's p50 server
time <= 10 ms (served from its fragment, as every viewer but the first after a sample gets it; the rendered figure
is reported beside it).

Run: ``make bench``, or ``.venv/bin/python bench/statements.py [--rounds N] [--short-rounds N] [--intervals N]
[--requests N] [--renders N] [--profile] [--no-docs]``, or ``... --drop`` to remove what it created (database
``seamline_bench_statements``, a throwaway instance left behind by a killed run, Redis database 6) and exit. The
instance is stopped and removed when the run ends, on failure and Ctrl-C too. The report is printed and written to
this benchmark's own section of docs/benchmarks.md (between ``<!-- bench:statements -->`` markers; ``--no-docs``
skips that). Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from bench._common import (  # noqa: E402
    argument_parser,
    bullet,
    connect_dev_stack,
    exit_on_sigterm,
    fmt_ms,
    machine,
    median,
    paragraph,
    percentile,
    pg_client,
    run_timed,
    setup_django,
    write_report,
)
from bench.pools import Instance  # noqa: E402

NAME = "statements"
PY = sys.executable
APP_DB = "seamline_bench_statements"
REDIS_DB = 6  # `make run` uses 0, bench/pools.py 3, bench/load.py 4, bench/map.py 5, the tests their own server
INSTANCE_DIR = Path("/tmp/seamline-bench-statements")
CLUSTER = "bench"
WORKLOAD_DB = "app"  # the roles' statements run here
METER_DB = "bench_meter"  # pg_stat_statements is read from here, untracked
MONITOR = "seamline_bench_monitor"  # the cluster DSN's user: Seamline's statements are this role's
UNTRACKED = "-c pg_stat_statements.track=none"  # the setup's and the meter's sessions
ROLES = 20
TEAMS = 5
TABLES = 5  # per role, in its own schema
COLUMNS = 50  # per table: TABLES x COLUMNS statements per role
CROSS_READS = 5  # per role, of its 250: on the next role's first table
CROSS_WRITES = 5
ROWS = 10  # per table
REPEATS = 3  # each statement run this often before the first sample
PLANTED = 1000  # distinct statements in the Workload window
PLANTED_PER_INTERVAL = 200  # the sampler's TOP
PLANTED_INTERVALS = 120  # 2 h at 60 s: the window and the one before (regressions compare them)
PLANTED_SLOWER = 20  # statements twice as slow in the last hour
INTERVAL_S = 60  # the default statements interval, what storage per day is figured at
GOAL_SECOND_SHARE = 0.20
GOAL_PARTIAL_MS = 10.0
WARM_UP = 20
RENDER_WARM_UP = 3
SERVED_PER_RENDER = 10
SECRET_KEY = "seamline-bench-statements-not-a-secret"
FLOOR = "SELECT count(*) FROM pg_stat_statements(false)"  # the extension's own cost of a counters read
FLOOR_WARM_UP = 3
FLOOR_CALLS = 15
KB = 1024  # a text this long or longer counts as long


def role(r: int) -> str:
    return f"bench_r{r:02d}"


def schema(r: int) -> str:
    return f"s{r:02d}"


def service(r: int) -> str:
    return f"svc-{r:02d}"


def redis_url() -> str:
    return f"redis://127.0.0.1:{os.environ.get('SEAMLINE_REDIS_PORT', '6380')}/{REDIS_DB}"


def bench_env() -> dict[str, str]:
    """What this process (and manage.py migrate) runs with: Seamline's tables, Redis database, production mode."""
    return {
        "SEAMLINE_DB_NAME": APP_DB,
        "SEAMLINE_REDIS_URL": redis_url(),
        "SEAMLINE_DEBUG": "0",
        "SEAMLINE_SECRET_KEY": SECRET_KEY,
        "SEAMLINE_SERVER_TIMING": "1",
        "PYTHONUNBUFFERED": "1",
    }


# --- the monitored side: a throwaway instance and its workload -------------------------------------------------


class StatementsInstance(Instance):
    """bench/pools.py's throwaway instance, in a folder of its own, with pg_stat_statements sized for the workload."""

    def __init__(self, bindir: Path) -> None:
        super().__init__(bindir, INSTANCE_DIR)

    def create(self) -> None:
        self._make_folder()
        self._check(
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"),
            "initdb",
        )
        self._start(
            {
                "shared_preload_libraries": "'pg_stat_statements'",
                "pg_stat_statements.max": 10000,
                "pg_stat_statements.track": "top",
                "pg_stat_statements.track_planning": "on",
                # throwaway data
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
        )

    def connect(self, dbname: str, user: str = "postgres", tracked: bool = False) -> psycopg.Connection:
        """A session of the instance; the superuser's are untracked unless ``tracked``."""
        options = {} if tracked or user != "postgres" else {"options": UNTRACKED}
        return psycopg.connect(
            **self.conninfo, user=user, dbname=dbname, autocommit=True, application_name="bench", **options
        )


ARGS = {
    "id": lambda: random.randint(1, ROWS),  # a row of the table
    "value": lambda: random.randint(0, 1000),  # a value written
    "floor": lambda: 0,  # a lower bound every row meets
    "limit": lambda: ROWS,
}


@dataclass(frozen=True)
class Statement:
    role: int
    sql: str  # its parameters as %s, and no constant
    args: tuple[str, ...] = ("id",)  # what each parameter is (ARGS)

    @property
    def params(self) -> tuple[int, ...]:
        return tuple(ARGS[arg]() for arg in self.args)

    @property
    def normalized(self) -> str:
        """Its text as pg_stat_statements keeps it (no constant in it: only its parameters, numbered)."""
        parts = self.sql.split("%s")
        return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def short_statements_of(r: int) -> list[Statement]:
    """Role ``r``'s 250 statements with short texts: its own tables' columns one by one, and on the next role's first
    table CROSS_READS reads and CROSS_WRITES writes (another shape, so that no text is another role's too)."""
    nxt = schema((r + 1) % ROLES)
    out = []
    for j in range(TABLES):
        for k in range(COLUMNS):
            if j == 0 and k < CROSS_READS:
                out.append(Statement(r, f"SELECT c{k}, id FROM {nxt}.t0 WHERE id = %s"))
            elif j == 0 and k < CROSS_READS + CROSS_WRITES:
                out.append(Statement(r, f"UPDATE {nxt}.t0 SET c{k} = %s WHERE id = %s", ("value", "id")))
            else:
                out.append(Statement(r, f"SELECT c{k} FROM {schema(r)}.t{j} WHERE id = %s"))
    return out


def statements_of(r: int) -> list[Statement]:
    """Role ``r``'s 250 statements with realistic texts, the same at every run (drawn from a generator seeded with
    ``r``): its cross-service ones first, CROSS_READS reads (their ``id`` selected last, which no other shape does)
    and CROSS_WRITES updates of the next role's first table; then reads by id (55 %), filtered and ordered reads
    (20 %), updates of a few columns (about 7 %, never of the first table, which the previous role's updates
    reach), and joins of two tables (13 %) and of three (4 %), over its own tables. Every name quoted and
    qualified, as ORMs write them; column lists drawn at random, hence a median length of about 400 bytes, one text
    in twenty 1 KB or more and the longest about 2 KB. No two alike in shape, tables and columns: distinct statement
    ids."""
    rng = random.Random(r)
    own, nxt = schema(r), schema((r + 1) % ROLES)

    def name(sch: str, table: int, column: str = "") -> str:
        return f'"{sch}"."t{table}"' + (f'."{column}"' if column else "")

    def columns(sch: str, table: int, n: int) -> tuple[tuple[int, ...], str]:
        picked = tuple(rng.sample(range(COLUMNS), min(COLUMNS, max(2, n))))
        return picked, ", ".join(name(sch, table, f"c{k}") for k in picked)

    def sets(n: int) -> tuple[tuple[int, ...], str]:
        picked = tuple(rng.sample(range(COLUMNS), n))
        return picked, ", ".join(f'"c{k}" = %s' for k in picked)

    out = []
    for _ in range(CROSS_READS):
        _, listed = columns(nxt, 0, rng.randint(8, 20))
        out.append(
            Statement(r, f"SELECT {listed}, {name(nxt, 0, 'id')} FROM {name(nxt, 0)} WHERE {name(nxt, 0, 'id')} = %s")
        )
    for _ in range(CROSS_WRITES):
        picked, assigned = sets(rng.randint(3, 8))
        out.append(
            Statement(
                r,
                f"UPDATE {name(nxt, 0)} SET {assigned} WHERE {name(nxt, 0, 'id')} = %s",
                ("value",) * len(picked) + ("id",),
            )
        )
    seen: set[tuple[Any, ...]] = set()
    while len(out) < TABLES * COLUMNS:
        shape, j = rng.random(), rng.randrange(TABLES)
        key: tuple[Any, ...]
        if shape < 0.55:
            picked, listed = columns(own, j, int(rng.lognormvariate(2.85, 0.6)))
            key = ("get", j, picked)
            statement = Statement(r, f"SELECT {listed} FROM {name(own, j)} WHERE {name(own, j, 'id')} = %s")
        elif shape < 0.75:
            picked, listed = columns(own, j, int(rng.lognormvariate(2.8, 0.5)))
            a, b = rng.sample(range(COLUMNS), 2)
            key = ("filter", j, picked, a, b)
            statement = Statement(
                r,
                f"SELECT {name(own, j, 'id')}, {listed} FROM {name(own, j)} WHERE ({name(own, j, f'c{a}')} >= %s AND "
                f"{name(own, j, f'c{b}')} >= %s) ORDER BY {name(own, j, 'id')} DESC LIMIT %s",
                ("floor", "floor", "limit"),
            )
        elif shape < 0.83:
            if j == 0:
                continue
            picked, assigned = sets(rng.randint(2, 10))
            key = ("update", j, picked)
            statement = Statement(
                r,
                f"UPDATE {name(own, j)} SET {assigned} WHERE {name(own, j, 'id')} = %s",
                ("value",) * len(picked) + ("id",),
            )
        elif shape < 0.96:
            k = rng.choice([t for t in range(TABLES) if t != j])
            first, listed = columns(own, j, rng.randint(10, 35))
            second, listed_too = columns(own, k, rng.randint(5, 25))
            a = rng.randrange(COLUMNS)
            key = ("join", j, k, first, second, a)
            statement = Statement(
                r,
                f"SELECT {listed}, {listed_too} FROM {name(own, j)} INNER JOIN {name(own, k)} ON "
                f"({name(own, j, 'id')} = {name(own, k, 'id')}) WHERE ({name(own, j, 'id')} = %s AND "
                f"{name(own, k, f'c{a}')} >= %s)",
                ("id", "floor"),
            )
        else:
            j, k, m = rng.sample(range(TABLES), 3)
            first, listed = columns(own, j, rng.randint(25, 45))
            second, listed_too = columns(own, k, rng.randint(15, 35))
            third, listed_also = columns(own, m, rng.randint(10, 25))
            a, b = rng.sample(range(COLUMNS), 2)
            key = ("join3", j, k, m, first, second, third, a, b)
            statement = Statement(
                r,
                f"SELECT {listed}, {listed_too}, {listed_also} FROM {name(own, j)} INNER JOIN {name(own, k)} ON "
                f"({name(own, j, 'id')} = {name(own, k, 'id')}) LEFT OUTER JOIN {name(own, m)} ON "
                f"({name(own, k, 'id')} = {name(own, m, 'id')}) WHERE ({name(own, j, f'c{a}')} >= %s AND "
                f"{name(own, m, f'c{b}')} >= %s) ORDER BY {name(own, j, 'id')} ASC LIMIT %s",
                ("floor", "floor", "limit"),
            )
        if key not in seen:
            seen.add(key)
            out.append(statement)
    return out


def prepare_monitored(instance: StatementsInstance) -> None:
    """Roles, the monitoring role, databases, the extension, and the workload's schemas and tables; untracked."""
    with instance.connect("postgres") as conn:
        instance.version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        for r in range(ROLES):
            conn.execute(f"CREATE ROLE {role(r)} LOGIN")
        conn.execute(f"CREATE ROLE {MONITOR} LOGIN IN ROLE pg_monitor")  # as docs/security.md says
        for database in (WORKLOAD_DB, METER_DB):
            conn.execute(f"CREATE DATABASE {database}")
        conn.execute("CREATE EXTENSION pg_stat_statements")  # where Seamline reads it (the DSN's database)
    with instance.connect(METER_DB) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
    columns = ", ".join(f"c{k} int NOT NULL DEFAULT 0" for k in range(COLUMNS))
    with instance.connect(WORKLOAD_DB) as conn, conn.transaction():
        for r in range(ROLES):
            conn.execute(f"CREATE SCHEMA {schema(r)}")
            for j in range(TABLES):
                conn.execute(f"CREATE TABLE {schema(r)}.t{j} (id int PRIMARY KEY, {columns})")
                conn.execute(f"INSERT INTO {schema(r)}.t{j} (id) SELECT generate_series(1, {ROWS})")
            conn.execute(f"GRANT USAGE ON SCHEMA {schema(r)} TO PUBLIC")
            conn.execute(f"GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA {schema(r)} TO PUBLIC")
    with instance.connect(WORKLOAD_DB) as conn:
        conn.execute("VACUUM ANALYZE")


class Workload:
    """One session per role in database app, kept for the whole run; the statements are a set's (``use``)."""

    def __init__(self, instance: StatementsInstance) -> None:
        self.conns = [instance.connect(WORKLOAD_DB, user=role(r)) for r in range(ROLES)]
        self.statements: list[list[Statement]] = []

    def use(self, make: Callable[[int], list[Statement]]) -> None:
        self.statements = [make(r) for r in range(ROLES)]

    def run(self, repeats: int = 1) -> float:
        """Every statement ``repeats`` times, each role's pipelined on its session; returns the seconds taken."""
        start = time.perf_counter()
        for conn, statements in zip(self.conns, self.statements, strict=True):
            with conn.pipeline(), conn.cursor() as cur:
                for _ in range(repeats):
                    for statement in statements:
                        cur.execute(statement.sql, statement.params)
        return time.perf_counter() - start

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()
        self.conns.clear()


def kind_of(query: str) -> str:
    text = " ".join(query.split())
    upper = text.upper()
    # the extension normalizes pg_stat_statements(false) and (true) alike: told apart by what they select
    if "TOTAL_EXEC_MS" in upper:
        return "counters"
    if "DISTINCT ON (S.QUERYID)" in upper:
        return "texts"
    if "PG_STAT_STATEMENTS_INFO" in upper:
        return "info"
    if "PG_EXTENSION" in upper:
        return "availability"
    if "PG_DB_ROLE_SETTING" in upper:
        return "role settings"
    if upper.startswith(("BEGIN", "START TRANSACTION")):
        return "BEGIN"
    if upper.startswith(("COMMIT", "ROLLBACK")):
        return upper.split()[0]
    return "other: " + text[:60]


@dataclass(frozen=True)
class Texts:
    """The texts pg_stat_statements holds: their number and octet_length, and its texts file's size."""

    count: int
    total_bytes: int
    median_bytes: int
    p90_bytes: int
    max_bytes: int
    long: int  # KB or longer
    file_bytes: int | None  # pg_stat_tmp/pgss_query_texts.stat; None: not found


@dataclass(frozen=True)
class Entry:
    query: str
    calls: int
    plan_ms: float
    exec_ms: float


class Meter:
    """pg_stat_statements read as postgres from database bench_meter, on a session the extension does not track."""

    def __init__(self, instance: StatementsInstance) -> None:
        self.conn = instance.connect(METER_DB)
        self.monitor = self.conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", [MONITOR]).fetchone()[0]

    def monitor_entries(self) -> dict[tuple[int, bool], Entry]:
        """The monitoring role's entries, by (statement id, top level)."""
        rows = self.conn.execute(
            "SELECT queryid, toplevel, query, calls, total_plan_time, total_exec_time FROM pg_stat_statements"
            " WHERE userid = %s",
            [self.monitor],
        ).fetchall()
        return {(q, top): Entry(text, calls, plan, ex) for q, top, text, calls, plan, ex in rows}

    def workload(self) -> dict[str, dict[str, int]]:
        """The workload's statement ids and texts per role (database app)."""
        rows = self.conn.execute(
            "SELECT r.rolname, s.queryid, s.query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
            [WORKLOAD_DB],
        ).fetchall()
        found: dict[str, dict[str, int]] = {}
        for rolname, queryid, query in rows:
            found.setdefault(rolname, {})[query] = queryid
        return found

    def entries(self) -> int:
        return self.conn.execute("SELECT count(*) FROM pg_stat_statements(false)").fetchone()[0]

    def texts(self) -> Texts:
        """The length of the texts pg_stat_statements holds (every entry's), and the size of its texts file."""
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(n), 0), percentile_disc(0.5) WITHIN GROUP (ORDER BY n),"
            " percentile_disc(0.9) WITHIN GROUP (ORDER BY n), max(n), count(*) FILTER (WHERE n >= %s)"
            " FROM (SELECT octet_length(query) AS n FROM pg_stat_statements) AS s",
            [KB],
        ).fetchone()
        size = self.conn.execute("SELECT size FROM pg_stat_file('pg_stat_tmp/pgss_query_texts.stat', true)").fetchone()
        return Texts(*(int(v or 0) for v in row), file_bytes=int(size[0]) if size and size[0] is not None else None)

    def floor(self, instance: StatementsInstance) -> list[float]:
        """The database time (ms, planning plus execution) of each of FLOOR_CALLS calls of FLOOR by the monitoring role
        in database postgres, after FLOOR_WARM_UP: what the extension itself spends handing out every entry's
        counters, which no reader of them goes below."""
        spent = (
            "SELECT calls, total_plan_time + total_exec_time FROM pg_stat_statements(false)"
            " WHERE userid = %s AND queryid = %s AND toplevel"
        )
        times = []
        with instance.connect("postgres", user=MONITOR) as conn:
            for _ in range(FLOOR_WARM_UP):
                conn.execute(FLOOR)
            found = [
                key
                for key, entry in self.monitor_entries().items()
                if " ".join(entry.query.split()).upper().startswith("SELECT COUNT(*) FROM PG_STAT_STATEMENTS(")
            ]
            if len(found) != 1:
                raise SystemExit(f"found {len(found)} entries of {FLOOR!r} in pg_stat_statements")
            queryid = found[0][0]
            for _ in range(FLOOR_CALLS):
                calls, before = self.conn.execute(spent, [self.monitor, queryid]).fetchone()
                conn.execute(FLOOR)
                calls_after, after = self.conn.execute(spent, [self.monitor, queryid]).fetchone()
                if calls_after != calls + 1:
                    raise SystemExit(f"{FLOOR!r}: {calls_after - calls} calls counted, not 1")
                times.append(after - before)
        return times

    def settings(self) -> dict[str, str]:
        """The extension's settings in postgresql.conf (this session's own ``track`` is none)."""
        rows = self.conn.execute(
            "SELECT name, setting FROM pg_file_settings WHERE name LIKE 'pg_stat_statements.%' AND applied"
        ).fetchall()
        return dict(rows)

    def reset(self) -> None:
        self.conn.execute("SELECT pg_stat_statements_reset()")

    def forget_monitor(self) -> None:
        """The monitoring role's entries removed, the others' left (not a full reset: stats_reset does not move)."""
        self.conn.execute("SELECT pg_stat_statements_reset(%s::oid, 0, 0)", [self.monitor])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


# --- Seamline's side -------------------------------------------------------------------------------------------

STATEMENT_TABLES = (
    "dashboard_statementsample",
    "dashboard_statementrollup",
    "dashboard_statementinterval",
    "dashboard_statementtext",
)


def catalog_text(instance: StatementsInstance) -> str:
    dsn = f"host=127.0.0.1 port={instance.port} user={MONITOR} dbname=postgres"
    data = {
        "clusters": [{"name": CLUSTER, "dsn": dsn, "databases": [WORKLOAD_DB]}],
        "services": [
            {
                "name": service(r),
                "team": f"team-{r % TEAMS}",
                "db_roles": [role(r)],
                "owns": [f"{CLUSTER}/{WORKLOAD_DB}/{schema(r)}"],
            }
            for r in range(ROLES)
        ],
    }
    return yaml.safe_dump(data, sort_keys=False)


def prepare_app(admin: psycopg.Connection, instance: StatementsInstance) -> Any:
    """Seamline's database for the benchmark: created, migrated, its statements tables emptied, holding the cluster
    (pointed at the instance) and the 20 services, the cluster's catalog synced; returns the cluster."""
    from django.db import connection

    from catalog import catalog_file
    from catalog.models import Cluster, Service
    from catalog.sync import sync_cluster

    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [APP_DB]).fetchone():
        admin.execute(f'CREATE DATABASE "{APP_DB}"')
    run_timed([PY, "manage.py", "migrate", "--noinput", "-v0"], env={**os.environ, **bench_env()})
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(STATEMENT_TABLES)}")
    Cluster.objects.all().delete()  # history and ownerships of earlier runs go with it
    Service.objects.all().delete()
    catalog_file.apply(catalog_file.load(catalog_text(instance)))
    cluster = Cluster.objects.prefetch_related("replicas").get(name=CLUSTER)
    sync_cluster(cluster)
    return Cluster.objects.prefetch_related("replicas").get(name=CLUSTER)


def bench_user() -> Any:
    """A superuser: sees every statement's full text."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.update_or_create(
        username="bench-statements", defaults={"is_staff": True, "is_superuser": True}
    )
    user.set_unusable_password()
    user.save()
    return user


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


# --- a statements sample, measured ------------------------------------------------------------------------------

READ = "the rest of the reading (stored texts looked up, baseline made)"
PARTS = ("connecting", "counters read", "texts read", READ, "keeping texts", "writing the interval")


@dataclass
class Sample:
    label: str
    wall_ms: float = 0.0
    parts: Counter[str] = field(default_factory=Counter)  # ms, PARTS
    sent: int = 0  # statements Seamline sent (MonitoredConnection.statements_sent: BEGIN and COMMIT left out)
    asked: int = 0  # statement ids whose texts were asked for
    fetched: int = 0  # texts the server returned
    fetched_kinds: Counter[str] = field(default_factory=Counter)  # what they were, when few
    entries: int = 0  # pg_stat_statements entries the sample read
    calls: Counter[str] = field(default_factory=Counter)  # the monitoring role's, from pg_stat_statements, by kind
    ms: Counter[str] = field(default_factory=Counter)  # planning + execution
    plan_ms: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] = field(default_factory=dict)
    total_ms: float | None = None  # of medians: the median of the samples' database times
    rest_ms: float | None = None  # of medians: the median of the samples' wall time outside PARTS

    @property
    def rest(self) -> float:
        """Wall time outside PARTS (ms)."""
        return self.wall_ms - sum(self.parts[p] for p in PARTS) if self.rest_ms is None else self.rest_ms

    @property
    def server_ms(self) -> float:
        return sum(self.ms.values()) if self.total_ms is None else self.total_ms

    @property
    def server_calls(self) -> float:
        return sum(self.calls.values())


def median_of(samples: list[Sample]) -> Sample:
    """Samples taken alike in several rounds, as one: the median of each figure (each part and each kind of
    statement on its own, the database time as the median of the samples' totals)."""
    out = Sample(samples[0].label, wall_ms=median([s.wall_ms for s in samples]))
    for name in ("sent", "asked", "fetched", "entries"):
        setattr(out, name, round(median([getattr(s, name) for s in samples])))
    for name in ("parts", "calls", "ms", "plan_ms"):
        keys = set().union(*(getattr(s, name) for s in samples))
        setattr(out, name, Counter({k: median([getattr(s, name)[k] for s in samples]) for k in keys}))
    out.fetched_kinds, out.state = samples[-1].fetched_kinds, samples[-1].state
    out.total_ms = median([s.server_ms for s in samples])
    out.rest_ms = median([s.rest for s in samples])
    return out


def forget(cluster: Any, meter: Meter) -> None:
    """Back to before the first sample: Seamline's stored statements and the node's baseline gone, and the
    monitoring role's own entries removed from pg_stat_statements (the workload's stay as they are)."""
    from django.db import connection

    from dashboard import snapshots
    from dashboard.nodes import PRIMARY
    from dashboard.statements import state

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(STATEMENT_TABLES)}")
    snapshots.client().delete(state.baseline_key(cluster.pk, PRIMARY), state.state_key(cluster.pk, PRIMARY))
    meter.forget_monitor()


def take_sample(cluster: Any, meter: Meter, label: str) -> Sample:
    """One statements sample of the primary, in process, with what it cost the server (pg_stat_statements before
    and after, on the meter's untracked session) and where its wall time went."""
    from dashboard.nodes import PRIMARY
    from dashboard.readers import statements as reader
    from dashboard.statements import sampler

    res = Sample(label)
    original_connect, original_texts = sampler.connect, reader.texts

    @contextmanager
    def counting_connect(*args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        with original_connect(*args, **kwargs) as conn:
            connected = time.perf_counter()
            res.parts["connecting"] += (connected - start) * 1000
            try:
                yield conn
            finally:
                res.sent += conn.statements_sent
                res.parts["connected"] += (time.perf_counter() - connected) * 1000

    def counting_texts(conn: Any, where: Any, queryids: Any) -> dict[int, str]:
        start = time.perf_counter()
        found = original_texts(conn, where, queryids)
        res.parts["texts read"] += (time.perf_counter() - start) * 1000
        res.asked += len(queryids)
        res.fetched += len(found)
        if len(found) <= 50:
            res.fetched_kinds.update(kind_of(text) for text in found.values())
        return found

    def timed(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                res.parts[label] += (time.perf_counter() - start) * 1000

        return wrapper

    before = meter.monitor_entries()
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(sampler, "connect", counting_connect))
        stack.enter_context(mock.patch.object(reader, "texts", counting_texts))
        stack.enter_context(mock.patch.object(reader, "counters", timed(reader.counters, "counters read")))
        stack.enter_context(mock.patch.object(sampler, "_keep_texts", timed(sampler._keep_texts, "keeping texts")))
        stack.enter_context(mock.patch.object(sampler, "_record", timed(sampler._record, "writing the interval")))
        start = time.perf_counter()
        res.state = sampler.sample_statements(cluster, PRIMARY)
        res.wall_ms = (time.perf_counter() - start) * 1000
    if res.state["status"] != "ok":
        raise SystemExit(f"the statements sample failed: {res.state}")
    res.parts[READ] = res.parts.pop("connected") - res.parts["counters read"] - res.parts["texts read"]
    res.entries = res.state.get("entries") or 0
    for key, now in meter.monitor_entries().items():
        was = before.get(key, Entry(now.query, 0, 0.0, 0.0))
        if now.calls == was.calls:
            continue
        kind = kind_of(now.query)
        res.calls[kind] += now.calls - was.calls
        res.plan_ms[kind] += now.plan_ms - was.plan_ms
        res.ms[kind] += (now.plan_ms - was.plan_ms) + (now.exec_ms - was.exec_ms)
    return res


# --- storage ------------------------------------------------------------------------------------------------------


@dataclass
class Storage:
    intervals: int = 0  # intervals of the steady state (every statement run in each)
    sample_rows: list[int] = field(default_factory=list)  # StatementSample rows of each of them
    distinct_keys: int = 0  # distinct StatementSample keys over them: an hour's StatementRollup rows at 60 s
    rollup_rows: int = 0  # StatementRollup rows the samples left (their hour buckets)
    day: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> rows and bytes of a day's partition
    texts: tuple[int, int] = (0, 0)  # StatementText: rows and bytes, once per statement
    build_s: float = 0.0
    pass_s: list[float] = field(default_factory=list)  # each pass of the workload
    samples: list[Sample] = field(default_factory=list)


def total_bytes(cur: Any, table: str) -> int:
    """pg_total_relation_size: heap, TOAST and indexes."""
    cur.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
    return int(cur.fetchone()[0])


def build_day(cluster: Any, ended: list[datetime]) -> dict[str, tuple[int, int]]:
    """A day of one node at INTERVAL_S, built from the measured intervals: temporary tables like the partitions
    (their columns and primary keys), filled in time order with the intervals' StatementSample and
    StatementInterval rows repeated (their times moved on, one interval every INTERVAL_S) for 24 hours, and 24
    hourly StatementRollup buckets of the intervals' keys; each one's rows and bytes."""
    from django.db import connection

    per_day = 86400 // INTERVAL_S
    copies = -(-per_day // len(ended))
    base = datetime(2000, 1, 1, tzinfo=UTC)
    found = {}
    with connection.cursor() as cur:
        for table in ("dashboard_statementsample", "dashboard_statementinterval"):
            day = f"bench_day_{table.removeprefix('dashboard_')}"
            cur.execute(f"CREATE TEMP TABLE {day} (LIKE {table} INCLUDING ALL)")
            cur.execute(f"SELECT * FROM {table} LIMIT 0")
            columns = [c.name for c in cur.description]
            moved = ", ".join(
                f"%s::timestamptz + make_interval(secs => ((g * %s + e.k - 1) * {INTERVAL_S})::float8)"
                if c == "ended_at"
                else f"t.{c}"
                for c in columns
            )
            cur.execute(
                f"INSERT INTO {day} ({', '.join(columns)}) SELECT {moved} FROM {table} t"
                " JOIN unnest(%s::timestamptz[]) WITH ORDINALITY AS e(at, k) ON t.ended_at = e.at"
                " CROSS JOIN generate_series(0, %s) AS g"
                " WHERE t.cluster_id = %s AND g * %s + e.k <= %s ORDER BY g, e.k",
                [base, len(ended), ended, copies - 1, cluster.pk, len(ended), per_day],
            )
            found[table] = (cur.rowcount, total_bytes(cur, day))
        cur.execute("CREATE TEMP TABLE bench_day_statementrollup (LIKE dashboard_statementrollup INCLUDING ALL)")
        keys = "cluster_id, node, service, shared, database, role, queryid, toplevel"
        counters = (
            "calls",
            "total_ms",
            "rows",
            "shared_blks_hit",
            "shared_blks_read",
            "temp_blks_written",
            "wal_bytes",
        )
        cur.execute(
            f"INSERT INTO bench_day_statementrollup ({keys}, bucket, {', '.join(counters)})"
            f" SELECT {keys}, %s::timestamptz + make_interval(hours => h), {', '.join(counters)}"
            f" FROM (SELECT {keys}, {', '.join(f'sum({c}) AS {c}' for c in counters)}"
            f"       FROM dashboard_statementsample WHERE cluster_id = %s AND ended_at = ANY(%s) GROUP BY {keys}) AS k"
            " CROSS JOIN generate_series(0, 23) AS h ORDER BY h",
            [base, cluster.pk, ended],
        )
        found["dashboard_statementrollup"] = (cur.rowcount, total_bytes(cur, "bench_day_statementrollup"))
        for table in found:
            cur.execute(f"DROP TABLE bench_day_{table.removeprefix('dashboard_')}")
    return found


def steady_state(cluster: Any, meter: Meter, workload: Workload, intervals: int) -> Storage:
    """``intervals`` samples, each after a pass of every statement; what they stored, and a day of it."""
    from django.db import connection

    from dashboard.models import StatementRollup, StatementSample, StatementText

    res = Storage(intervals=intervals)
    ended = []
    for i in range(intervals):
        res.pass_s.append(workload.run())
        sample = take_sample(cluster, meter, f"interval {i + 1}")
        res.samples.append(sample)
        ended.append(datetime.fromisoformat(sample.state["sampled_at"]))
    rows = Counter(
        StatementSample.objects.filter(cluster=cluster, ended_at__in=ended).values_list("ended_at", flat=True)
    )
    res.sample_rows = [rows[at] for at in ended]
    res.distinct_keys = (
        StatementSample.objects.filter(cluster=cluster, ended_at__in=ended)
        .values("service", "shared", "database", "role", "queryid", "toplevel")
        .distinct()
        .count()
    )
    res.rollup_rows = StatementRollup.objects.filter(cluster=cluster).count()
    start = time.perf_counter()
    res.day = build_day(cluster, ended)
    res.build_s = time.perf_counter() - start
    with connection.cursor() as cur:
        res.texts = (StatementText.objects.filter(cluster=cluster).count(), total_bytes(cur, "dashboard_statementtext"))
    return res


# --- the Workload partial ----------------------------------------------------------------------------------------


@dataclass
class Planted:
    negative: bool = True  # whether statements with a negative id could be planted (the page links them)
    statements: int = 0
    rows: int = 0
    in_window: int = 0  # distinct statements in the last hour's rows
    seconds: float = 0.0


def negative_ids_link() -> bool:
    """Whether the statement page's URL takes a negative statement id (pg_stat_statements' ids are signed 64-bit
    integers, about half of them negative)."""
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("statement", args=[1, -1])
    except NoReverseMatch:
        return False
    return True


def plant(cluster: Any, meter: Meter, negative: bool) -> Planted:
    """The stored samples replaced with PLANTED_INTERVALS intervals of 60 s ending now: each holds 200 of PLANTED
    real statements of the workload (50 of each role's, its cross-service ones first) in turn and an "other
    statements" row per service, as the sampler writes them; the texts are the sampler's. Without ``negative``, only
    statements whose id is positive (the page cannot link the others)."""
    from django.db import connection
    from django.utils import timezone

    from dashboard import partitions
    from dashboard.models import StatementInterval, StatementSample
    from dashboard.nodes import PRIMARY

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE dashboard_statementsample, dashboard_statementrollup, dashboard_statementinterval")
    by_role = meter.workload()
    chosen: list[tuple[int, int]] = []  # (role index, statement id)
    for r in range(ROLES):
        texts = by_role.get(role(r), {})
        ids = [texts.get(statement.normalized) for statement in statements_of(r)]  # its cross-service ones first
        chosen += [(r, queryid) for queryid in ids if queryid is not None and (negative or queryid > 0)][
            : PLANTED // ROLES
        ]
    if len(chosen) != PLANTED:
        raise SystemExit(f"found {len(chosen)} of the {PLANTED} statements to plant in pg_stat_statements")
    now = timezone.now().replace(microsecond=0)
    partitions.ensure(
        {partitions.day_of(now - timedelta(seconds=INTERVAL_S * PLANTED_INTERVALS)), partitions.day_of(now)}
    )
    samples, intervals = [], []
    slices = PLANTED // PLANTED_PER_INTERVAL
    for i in range(PLANTED_INTERVALS):  # i intervals before now
        at = now - timedelta(seconds=INTERVAL_S * i)
        intervals.append(
            StatementInterval(
                cluster=cluster,
                node=PRIMARY,
                started_at=at - timedelta(seconds=INTERVAL_S),
                ended_at=at,
                evicted=0,
                entries=5100,
            )
        )
        for s, (r, queryid) in enumerate(chosen):
            if s % slices != i % slices:
                continue
            calls = 20 + s % 13
            mean = 0.02 + (s % 17) * 0.01
            if s % (PLANTED // PLANTED_SLOWER) == 0 and i < 60:
                mean *= 2.5  # slower in the last hour: a regression
            samples.append(
                StatementSample(
                    cluster=cluster,
                    node=PRIMARY,
                    ended_at=at,
                    service=service(r),
                    shared=False,
                    database=WORKLOAD_DB,
                    role=role(r),
                    queryid=queryid,
                    toplevel=True,
                    calls=calls,
                    total_ms=calls * mean,
                    rows=calls,
                    shared_blks_hit=calls * 3,
                    shared_blks_read=s % 3,
                    temp_blks_written=0,
                    wal_bytes=0,
                )
            )
        for r in range(ROLES):  # the rest of each service's statements, summed
            samples.append(
                StatementSample(
                    cluster=cluster,
                    node=PRIMARY,
                    ended_at=at,
                    service=service(r),
                    shared=False,
                    database="",
                    role="",
                    queryid=0,
                    toplevel=True,
                    calls=200,
                    total_ms=4.0,
                    rows=200,
                    shared_blks_hit=600,
                    shared_blks_read=0,
                    temp_blks_written=0,
                    wal_bytes=0,
                )
            )
    StatementInterval.objects.bulk_create(intervals)
    StatementSample.objects.bulk_create(samples, batch_size=2000)
    with connection.cursor() as cur:  # as autovacuum would have, on tables that grow all day
        cur.execute("ANALYZE dashboard_statementsample, dashboard_statementinterval, dashboard_statementtext")
    in_window = (
        StatementSample.objects.filter(cluster=cluster, ended_at__gt=now - timedelta(hours=1))
        .exclude(queryid=0)
        .values("queryid")
        .distinct()
        .count()
    )
    return Planted(negative, len(chosen), len(samples), in_window, time.perf_counter() - start)


@dataclass
class Partial:
    rendered_ms: list[float] = field(default_factory=list)  # Server-Timing
    served_ms: list[float] = field(default_factory=list)
    rendered_sql: list[int] = field(default_factory=list)  # statements to Seamline's database per rendered request
    rendered_sql_ms: list[float] = field(default_factory=list)
    served_sql: list[int] = field(default_factory=list)
    rendered_kb: float = 0.0
    client_ms: list[float] = field(default_factory=list)  # served: round trip in process, test client included
    sql_sites: dict[str, list[float]] = field(default_factory=dict)  # rendered: SQL ms by the line that sent it
    profile: str = ""


def time_partial(cluster: Any, renders: int, requests: int, profile: bool) -> Partial:
    """The partial rendered (the cluster's statements version moved first, as a sample moves it) and served from its
    fragment, interleaved: after each render, SERVED_PER_RENDER served requests."""
    from django.db import connection
    from django.test import Client

    from dashboard import snapshots
    from dashboard.statements import state

    client = Client()
    client.force_login(bench_user())
    url = f"/workload/{cluster.pk}/"
    headers = {"HX-Request": "true", "HX-Target": "live"}
    version = state.version_key(cluster.pk)
    redis_client = snapshots.client()
    res = Partial()
    sql = [0, 0.0]
    sites: Counter[str] = Counter()  # a render's SQL time (ms) by the project's line that sent it
    project = (str(ROOT / "dashboard"), str(ROOT / "catalog"))

    def sql_timer(execute: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(*args)
        finally:
            ms = (time.perf_counter() - start) * 1000
            sql[0] += 1
            sql[1] += ms
            frame = next(
                (f for f in reversed(traceback.extract_stack(limit=40)) if f.filename.startswith(project)), None
            )
            if frame is not None:
                where = f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno} ({frame.name})"
                sites[where] += ms

    def get() -> tuple[float, Any]:
        response = client.get(url, headers=headers)
        body = response.content
        if response.status_code != 200 or b'id="live"' not in body or b"<html" in body:
            raise SystemExit(f"unexpected answer from {url} (partial): {response.status_code} {body[:300]!r}")
        return float(response["Server-Timing"].split("dur=", 1)[1]), response

    def render() -> tuple[float, Any]:
        redis_client.incr(version)
        return get()

    for _ in range(RENDER_WARM_UP):
        render()
    for _ in range(WARM_UP):
        get()
    rounds = max(renders, -(-requests // SERVED_PER_RENDER))
    with connection.execute_wrapper(sql_timer):
        for i in range(rounds):
            if i < renders:
                sql[:] = [0, 0.0]
                sites.clear()
                ms, response = render()
                res.rendered_ms.append(ms)
                res.rendered_sql.append(int(sql[0]))
                res.rendered_sql_ms.append(sql[1])
                res.rendered_kb = len(response.content) / 1024
                for where, spent in sites.items():
                    res.sql_sites.setdefault(where, []).append(spent)
            for _ in range(SERVED_PER_RENDER):
                if len(res.served_ms) >= requests:
                    break
                sql[:] = [0, 0.0]
                start = time.perf_counter()
                ms, _ = get()
                res.client_ms.append((time.perf_counter() - start) * 1000)
                res.served_ms.append(ms)
                res.served_sql.append(int(sql[0]))
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            render()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        out.write("cProfile of 10 rendered partials (profiling slows them down)\n")
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        res.profile = out.getvalue()
    return res


def page_contents(cluster: Any) -> dict[str, int]:
    """What the rendered partial lists, from the same functions it calls."""
    from dashboard.statements import workload

    summary = workload.summary(cluster, "1h")
    return {
        "services": len(summary["services"]),
        "top statements": len(workload.top_statements(cluster, "1h")),
        "regressions": len(workload.regressions(cluster, "1h")),
        "run-time paths": len(summary["runtime_paths"]),
        "unresolved names": len(summary["unresolved"]),
    }


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One set of statements on the monitored server, and its samples."""

    name: str  # "realistic" or "short"
    distinct: int = 0  # distinct statement ids the workload made
    entries: int = 0  # pg_stat_statements entries before the first sample
    workload_s: float = 0.0
    texts: Texts | None = None  # what pg_stat_statements holds before the first sample
    first: Sample = field(default_factory=lambda: Sample("first"))
    second: Sample = field(default_factory=lambda: Sample("second"))
    third: Sample = field(default_factory=lambda: Sample("third"))
    rounds: list[list[Sample]] = field(default_factory=list)  # each round's first, second and third sample
    floor_ms: list[float] = field(default_factory=list)  # FLOOR's database time, each call

    @property
    def share(self) -> float:
        """The second sample's database time, of the first's."""
        return self.second.server_ms / self.first.server_ms if self.first.server_ms else float("inf")

    @property
    def floor(self) -> float:
        return median(self.floor_ms)


@dataclass
class Results:
    settings: dict[str, str] = field(default_factory=dict)
    realistic: Scenario = field(default_factory=lambda: Scenario("realistic"))  # the goal's
    short: Scenario = field(default_factory=lambda: Scenario("short"))  # for information
    storage: Storage = field(default_factory=Storage)
    planted: Planted = field(default_factory=Planted)
    contents: dict[str, int] = field(default_factory=dict)
    partial: Partial = field(default_factory=Partial)


def drop(admin: psycopg.Connection, bindir: Path) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{APP_DB}" WITH (FORCE)')
    print(f"dropped database {APP_DB} (if it existed)")
    StatementsInstance(bindir).remove()
    print(f"removed the throwaway instance in {INSTANCE_DIR} (if there was one)")
    flush_redis()
    print(f"flushed Redis database {REDIS_DB}")


def run_scenario(
    sc: Scenario, cluster: Any, meter: Meter, workload: Workload, instance: StatementsInstance, rounds: int
) -> None:
    """The workload's statements run REPEATS times, then ``rounds`` rounds of a first, second and third sample (each
    after Seamline's stored statements, the node's baseline and the monitoring role's entries are removed), then the
    floor."""
    sc.workload_s = workload.run(REPEATS)
    sc.distinct = sum(len(texts) for texts in meter.workload().values())
    sc.entries = meter.entries()
    sc.texts = meter.texts()
    expected = ROLES * TABLES * COLUMNS
    if sc.distinct != expected:
        raise SystemExit(f"{sc.name} texts: {sc.distinct} distinct statements in pg_stat_statements, not {expected}")
    print(
        f"  {sc.name} texts: {sc.distinct} distinct statements of {ROLES} roles, each run {REPEATS} times, in "
        f"{sc.workload_s:.1f} s; {sc.entries} entries in pg_stat_statements, texts of {sc.texts.median_bytes} bytes "
        f"(median), {sc.texts.total_bytes / 1024**2:.2f} MiB in all"
    )
    for n in range(rounds):
        forget(cluster, meter)
        sc.rounds.append([take_sample(cluster, meter, label) for label in ("first", "second", "third")])
        print(
            f"  {sc.name} texts, round {n + 1}: "
            + "; ".join(
                f"{s.label} sample {s.fetched} texts, {s.sent} statements, {s.server_ms:.1f} ms on the server, "
                f"{s.wall_ms:.0f} ms wall"
                for s in sc.rounds[-1]
            )
        )
    sc.first, sc.second, sc.third = (median_of([r[i] for r in sc.rounds]) for i in range(3))
    sc.floor_ms = meter.floor(instance)
    print(
        f"  {sc.name} texts: the floor ({FLOOR}) {sc.floor:.1f} ms, {sc.floor / sc.first.server_ms:.0%} of the "
        "first sample"
    )


def measure(args: Any, admin: psycopg.Connection, instance: StatementsInstance) -> Results:
    res = Results()
    meter: Meter | None = None
    workload: Workload | None = None
    try:
        flush_redis()
        instance.create()
        prepare_monitored(instance)
        cluster = prepare_app(admin, instance)
        print(f"  PostgreSQL {instance.version} at 127.0.0.1:{instance.port}; catalog synced, {ROLES} services")
        meter = Meter(instance)
        res.settings = meter.settings()
        workload = Workload(instance)
        for scenario, make, rounds in (
            (res.short, short_statements_of, args.short_rounds),
            (res.realistic, statements_of, args.rounds),
        ):
            # the sync's statements, or the other set's, forgotten (and the texts file emptied): the server holds
            # this set's alone
            meter.reset()
            workload.use(make)
            run_scenario(scenario, cluster, meter, workload, instance, rounds)
        res.storage = steady_state(cluster, meter, workload, args.intervals)
        print(
            f"  {args.intervals} intervals with every statement run: {median(res.storage.sample_rows):.0f} sample "
            f"rows each, {res.storage.distinct_keys} distinct keys over them"
        )

        res.planted = plant(cluster, meter, negative_ids_link())
        res.contents = page_contents(cluster)
        print(
            f"  planted {res.planted.rows} rows ({res.planted.in_window} statements in the last hour) in "
            f"{res.planted.seconds:.1f} s; the partial lists {res.contents}"
        )
        res.partial = time_partial(cluster, args.renders, args.requests, args.profile)
    finally:
        if workload:
            workload.close()
        if meter:
            meter.close()
        if instance.created:
            instance.remove()
        flush_redis()
    return res


def fmt_range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def median_text(sc: Scenario) -> str:
    return f"median {sc.texts.median_bytes:,} bytes" if sc.texts else "no text"


def share_text(sc: Scenario) -> str:
    """The second sample's database time vs the first's, and the range of the rounds' shares."""
    ratios = [r[1].server_ms / r[0].server_ms for r in sc.rounds if r[0].server_ms]
    low, high = min(ratios, default=sc.share), max(ratios, default=sc.share)
    return (
        f"{sc.second.server_ms:.1f} ms vs {sc.first.server_ms:.1f} ms ({sc.share:.0%}; {low:.0%}–{high:.0%} in the "
        f"{len(sc.rounds)} rounds)"
    )


def describe_texts(t: Texts | None) -> str:
    """The length of the texts pg_stat_statements holds, in words."""
    if t is None:
        return "texts not read"
    held = f"{t.file_bytes / 1024**2:.2f} MiB" if t.file_bytes is not None else "not found"
    return (
        f"{t.count:,} texts of {t.median_bytes:,} bytes (median; 90th percentile {t.p90_bytes:,}, longest "
        f"{t.max_bytes:,}; {t.long:,} of 1 KiB or more), {t.total_bytes:,} bytes ({t.total_bytes / 1024**2:.2f} MiB) "
        f"in all (`sum(octet_length(query))`; its texts file {held})"
    )


def yes(ok: bool | None) -> str:
    return "—" if ok is None else "yes" if ok else "**no**"


def report(res: Results) -> tuple[list[str], list[str], list[str], list[str], list[str], bool]:
    """The goals table, the samples table, the storage table, the partial's table, the figures (markdown lines), and
    whether every goal holds."""
    real, short = res.realistic, res.short
    first, second, third = real.first, real.second, real.third
    part = res.partial
    served, rendered = median(part.served_ms), median(part.rendered_ms)
    st = res.storage
    day_rows = sum(rows for rows, _ in st.day.values())
    day_bytes = sum(size for _, size in st.day.values())
    goals: list[tuple[str, str, str, bool | None]] = [
        (
            f"second statements sample's database time on the monitored server vs the first's ({real.distinct:,} "
            f"statements, realistic texts: {median_text(real)}; planning + execution)",
            share_text(real),
            f"≤ {GOAL_SECOND_SHARE:.0%} of the first",
            real.share <= GOAL_SECOND_SHARE,
        ),
        (
            "texts fetched and statements sent to the monitored server, first vs second sample",
            f"{first.fetched:,} vs {second.fetched} texts; {first.sent} vs {second.sent} statements",
            "reported",
            None,
        ),
        (
            f"the same with short texts ({short.distinct:,} statements, {median_text(short)}): the second sample's "
            "database time vs the first's",
            share_text(short),
            "reported",
            None,
        ),
        (
            f"the floor: `{FLOOR}` alone, {real.entries:,} entries (the extension's own cost in every sample, which "
            "no reader of the counters goes below), database time, of the first sample's",
            f"{real.floor:.1f} ms, {real.floor / first.server_ms:.0%} with realistic texts (short texts: "
            f"{short.floor:.1f} ms, {short.floor / short.first.server_ms:.0%})",
            "reported",
            None,
        ),
        (
            f"Seamline's rows and bytes stored per node per day at {INTERVAL_S} s (samples, intervals, rollups)",
            f"{day_rows:,} rows, {day_bytes / 1024**2:.0f} MiB",
            "reported",
            None,
        ),
        (
            f"`/workload/<pk>/` partial served from its fragment, {res.planted.in_window:,} statements in the window, "
            "server time p50 (p95)",
            fmt_ms(part.served_ms),
            f"p50 ≤ {GOAL_PARTIAL_MS:.0f} ms",
            served <= GOAL_PARTIAL_MS,
        ),
        (
            "the same partial rendered (the first request after a sample), server time p50 (p95)",
            fmt_ms(part.rendered_ms),
            "reported",
            None,
        ),
    ]
    table = ["| figure | measured | goal | holds |", "| --- | --- | --- | --- |"]
    table += [f"| {label} | {value} | {goal} | {yes(ok)} |" for label, value, goal, ok in goals]

    steady = st.samples
    samples = [
        "| sample (medians of the rounds) | texts asked (fetched) | statements sent "
        "| calls on the server | database time on the server (planning) | of which the counters "
        "| of which the texts | wall time in Seamline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, s in (
        (f"realistic texts ({len(real.rounds)} rounds): first (a baseline)", first),
        ("realistic texts: second, unchanged server", second),
        ("realistic texts: third, unchanged server (information)", third),
        (f"short texts ({len(short.rounds)} rounds): first (a baseline)", short.first),
        ("short texts: second, unchanged server", short.second),
        ("short texts: third, unchanged server", short.third),
    ):
        samples.append(
            f"| {label} | {s.asked:,} ({s.fetched:,}) | {s.sent} | {s.server_calls:.0f} | {s.server_ms:.1f} ms "
            f"({sum(s.plan_ms.values()):.1f} ms) | {s.ms['counters']:.1f} ms | {s.ms['texts']:.1f} ms "
            f"| {s.wall_ms:.0f} ms |"
        )
    if steady:
        samples.append(
            f"| realistic texts: each of {len(steady)} more, every statement run since the last (medians) "
            f"| {median([s.asked for s in steady]):.0f} ({median([s.fetched for s in steady]):.0f}) "
            f"| {median([s.sent for s in steady]):.0f} | {median([s.server_calls for s in steady]):.0f} "
            f"| {median([s.server_ms for s in steady]):.1f} ms "
            f"({median([sum(s.plan_ms.values()) for s in steady]):.1f} ms) "
            f"| {median([s.ms['counters'] for s in steady]):.1f} ms "
            f"| {median([s.ms['texts'] for s in steady]):.1f} ms | {median([s.wall_ms for s in steady]):.0f} ms |"
        )

    labels = {
        "dashboard_statementsample": "StatementSample",
        "dashboard_statementinterval": "StatementInterval",
        "dashboard_statementrollup": "StatementRollup",
    }
    storage = [
        "| table | rows per node per day | bytes per row | per node per day |",
        "| --- | ---: | ---: | ---: |",
    ]
    for t, (rows, size) in st.day.items():
        storage.append(f"| {labels[t]} | {rows:,} | {size / max(1, rows):.0f} | {size / 1024**2:.1f} MiB |")
    storage.append(f"| all, per day | {day_rows:,} | | {day_bytes / 1024**2:.1f} MiB |")
    text_rows, text_bytes = st.texts
    storage.append(
        f"| StatementText: once per statement, not per day | {text_rows:,} here | {text_bytes / max(1, text_rows):.0f} "
        f"| {text_bytes / 1024**2:.1f} MiB once |"
    )

    partial = [
        "| partial | requests | server time p50 | p95 | statements to Seamline's database (their time) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| served from its fragment | {len(part.served_ms)} | {served:.1f} ms | "
        f"{percentile(part.served_ms, 95):.1f} ms | {median(part.served_sql):.0f} |",
        f"| rendered | {len(part.rendered_ms)} | {rendered:.1f} ms | {percentile(part.rendered_ms, 95):.1f} ms | "
        f"{median(part.rendered_sql):.0f} ({median(part.rendered_sql_ms):.1f} ms) |",
    ]

    def kinds(s: Sample) -> str:
        return ", ".join(
            f"{k} {s.calls[k]:.0f} call{'s' if s.calls[k] != 1 else ''} {s.ms[k]:.2f} ms" for k in sorted(s.calls)
        )

    def parts(s: Sample) -> str:
        return ", ".join(f"{p} {s.parts[p]:.0f} ms" for p in PARTS) + f", the rest {s.rest:.0f} ms"

    settings = ", ".join(f"`{k} = {v}`" for k, v in sorted(res.settings.items()))
    asked = ", ".join(f"{k} {n}" for k, n in sorted(second.fetched_kinds.items()))
    hours = 3600 // INTERVAL_S

    def rounds(sc: Scenario) -> str:
        return "; ".join(" / ".join(f"{s.server_ms:.1f}" for s in r) + " ms" for r in sc.rounds)

    figures = [
        f"the monitored server ({settings}): {ROLES} roles in database `{WORKLOAD_DB}`, {ROLES * TABLES * COLUMNS:,} "
        f"distinct statements in each of two sets, each statement run {REPEATS} times, pg_stat_statements emptied "
        "(`pg_stat_statements_reset()`, its texts file too) before each set. Realistic texts (ORM-like: every name "
        "quoted and qualified; reads by id of a few to 50 columns, filtered and ordered reads, updates, joins of "
        f"two and three tables with long column lists; {real.workload_s:.1f} s): {describe_texts(real.texts)}. "
        f"Short texts (`SELECT cK FROM sR.tJ WHERE id = $1`, {short.workload_s:.1f} s): {describe_texts(short.texts)}",
        "each round: Seamline's stored statements and the node's baseline removed, and the monitoring role's own "
        "entries removed from pg_stat_statements (`pg_stat_statements_reset(userid)`, the workload's entries left "
        "as they are), then three samples one after the other; the figures are the medians of the rounds; the "
        f"database time of the rounds' samples, first / second / third: realistic texts {rounds(real)}; short "
        f"texts {rounds(short)}",
        f"the floor: `{FLOOR}` run by the monitoring role in database `postgres` ({FLOOR_WARM_UP} calls of warm-up, "
        f"then {FLOOR_CALLS}, each read from pg_stat_statements before and after; median): {real.floor:.2f} ms "
        f"with the realistic texts ({1000 * real.floor / max(real.entries, 1):.1f} µs per entry; calls "
        f"{min(real.floor_ms):.2f}–{max(real.floor_ms):.2f} ms), {short.floor:.2f} ms with the short ones (calls "
        f"{min(short.floor_ms):.2f}–{max(short.floor_ms):.2f} ms); it reads no text",
        f"realistic texts, first sample, by statement (the monitoring role's, from pg_stat_statements): {kinds(first)}",
        f"second sample: {kinds(second)}; "
        + (
            f"the {second.asked} texts it asked for ({asked or 'none'}) are new entries since the first sample read "
            "the counters"
            if second.asked
            else "it asks for no text: the monitoring role's own statements, new since the first sample read the "
            "counters, are counted but their texts never fetched"
        )
        + "; asking for any text has the server read every entry's text (`pg_stat_statements(true)`, filtered "
        "afterwards)",
        f"third sample: {kinds(third)}",
        f"short texts, first sample: {kinds(short.first)}; second: {kinds(short.second)}",
        f"wall time of a sample in Seamline, by part: realistic texts, first {parts(first)}; second {parts(second)}"
        + (f"; the last of the {len(steady)} more {parts(steady[-1])}" if steady else "")
        + f"; short texts, first {parts(short.first)} (the statements task's soft time limit is 15 s)",
        f"storage: {st.intervals} intervals sampled one after the other (not {INTERVAL_S} s apart: what a row holds "
        f"does not depend on it), each after a pass running every one of the {real.distinct:,} statements (realistic "
        f"texts) once "
        f"({median(st.pass_s):.1f} s); each interval stores {fmt_range(st.sample_rows)} "
        'StatementSample rows (its top 200 statements by time and an "other statements" row per service and for '
        f"the unattributed); the {st.intervals} intervals hold {st.distinct_keys:,} distinct keys, what an hour's "
        "StatementRollup holds"
        + ("" if st.intervals >= hours else f" (fewer intervals than an hour's {hours}: fewer keys than an hour's)")
        + f". A day's rows and bytes: temporary tables like the partitions (columns, primary key), filled in time "
        f"order with the measured intervals' rows repeated for 1,440 intervals and 24 hourly buckets of their keys "
        f"({st.build_s:.1f} s), pg_total_relation_size (heap, TOAST, indexes); a live rollup partition carries "
        "more (each bucket's rows are updated at every interval of its hour, leaving dead rows to autovacuum)",
        f"the Workload partial: {res.planted.rows:,} planted StatementSample rows ({PLANTED_INTERVALS} intervals of "
        f'{INTERVAL_S} s: 200 of the {res.planted.statements:,} statements each, in turn, and an "other statements" '
        "row per service) with the sampler's texts; it lists "
        + ", ".join(f"{v} {k}" for k, v in res.contents.items())
        + f"; {part.rendered_kb:.0f} KiB; a served request's round trip in process (test client included) "
        f"{fmt_ms(part.client_ms)}",
    ]
    slowest = sorted(part.sql_sites.items(), key=lambda item: -median(item[1]))[:5]
    figures.append(
        f"a render's time in Seamline's database ({median(part.rendered_sql):.0f} statements, "
        f"{median(part.rendered_sql_ms):.0f} ms of {rendered:.0f} ms; the rest is Python: the ORM's rows, the "
        "summaries, the template), by the line that sent the statements, medians: "
        + ", ".join(f"`{where}` {median(times):.1f} ms" for where, times in slowest)
        + f"; only {PLANTED_INTERVALS * INTERVAL_S // 3600} h of samples are stored here, and what reads them all "
        "(`summary`'s latest `ended_at`, with no lower bound in time) reads more with a week's retention"
    )
    if not res.planted.negative:
        figures.append(
            "only statements with a positive id were planted: the statement page's URL (`dashboard/urls.py`, "
            "`<int:queryid>`) takes no negative id, so the partial fails (NoReverseMatch, a 500) as soon as it "
            "lists a statement whose id is negative, as about half of pg_stat_statements' ids are"
        )
    all_hold = all(ok for *_, ok in goals if ok is not None)
    return table, samples, storage, partial, figures, all_hold


def interpretation(res: Results) -> str:
    """A paragraph saying what the figures mean, from the figures."""
    from django.conf import settings

    real, short = res.realistic, res.short
    first, second, third = real.first, real.second, real.third
    part, st = res.partial, res.storage
    rendered, served = median(part.rendered_ms), median(part.served_ms)
    per_interval = median(st.sample_rows)
    day_bytes = sum(size for _, size in st.day.values())
    texts, short_texts = real.texts or Texts(0, 0, 0, 0, 0, 0, None), short.texts or Texts(0, 0, 0, 0, 0, 0, None)
    counters = second.ms["counters"]
    rest = second.server_ms - counters - second.ms["texts"]
    extra = first.server_ms - second.server_ms
    text = (
        f"With realistic texts ({texts.median_bytes:,} bytes median, {texts.total_bytes / 1024**2:.1f} MiB in all), "
        f"the second sample costs the server {second.server_ms:.1f} ms, {real.share:.0%} of the first's "
        f"{first.server_ms:.1f} ms: "
        + ("the goal holds. " if real.share <= GOAL_SECOND_SHARE else "the goal is missed. ")
    )
    if second.asked:
        text += (
            f"The second sample still asks for {second.asked} texts, and asking for any text has the server read "
            f"every entry's text and filter afterwards ({second.ms['texts']:.1f} ms). "
        )
    else:
        text += "The second sample asks for no text: "
    text += (
        f"it pays what every sample pays, reading the counters of {second.entries:,} entries ({counters:.1f} ms) "
        f"and {rest:.1f} ms of smaller statements (availability, info, role settings). The counters read cannot "
        f"go below the extension's own `pg_stat_statements(false)`, {real.floor:.1f} ms here "
        f"({real.floor / first.server_ms:.0%} of the first sample; the rest of the read, {counters - real.floor:.1f} "
        f"ms, is making and sending {second.entries:,} rows; tried and reverted: having the server send only the "
        "entries of the roles whose entries, calls and time, summed per role and database, moved since the last "
        "sample, which made the second sample 28.4 ms instead of 26.7 and a sample after every statement ran 35.6 ms "
        "instead of 25.6: the extra pass over the entries costs more than the rows it saves). The first sample's "
        "texts cost "
        f"{first.ms['texts']:.1f} ms, {first.ms['texts'] / max(first.ms['counters'], 1e-9):.1f} times its "
        "counters read; the 20 % holds when what the first sample costs beyond the second (here "
        f"{extra:.1f} ms, its texts) is at least four times the second ({4 * second.server_ms:.1f} ms)"
        + (", as it is here. " if real.share <= GOAL_SECOND_SHARE else ", which it is not here. ")
        + f"With the short texts ({short_texts.median_bytes:,} bytes median, "
        f"{short_texts.total_bytes / 1024**2:.2f} MiB in all) the texts cost {short.first.ms['texts']:.1f} ms, "
        f"{short.first.ms['texts'] / max(short.first.ms['counters'], 1e-9):.1f} times the counters read "
        f"({short.first.ms['counters']:.1f} ms), and the second sample is {short.share:.0%} of the first "
        f"({short.second.server_ms:.1f} ms vs {short.first.server_ms:.1f} ms). "
    )
    keeping = first.parts["keeping texts"]
    if keeping:
        text += (
            f"In Seamline, the first sample with realistic texts takes {first.wall_ms / 1000:.1f} s, "
            f"{keeping / 1000:.1f} s of it keeping the {first.fetched:,} texts (each parsed and masked), against the "
            f"statements task's soft time limit of {settings.STATEMENTS_SOFT_TIME_LIMIT} s; with the short texts, "
            f"{short.first.wall_ms / 1000:.1f} s. "
        )
    text += (
        f"The statements sent do not grow with the number of statements: {first.sent} in the first sample, "
        + (
            f"{second.sent} in the second and the third"
            if second.sent == third.sent
            else f"{second.sent} in the second, {third.sent} in the third"
        )
        + f" (BEGIN and COMMIT aside). Storage does not grow "
        f'with it either: {per_interval:.0f} StatementSample rows per interval (the top 200 and an "other '
        f'statements" row per service), {day_bytes / 1024**2:.0f} MiB per node and day with the intervals and '
        f"rollups. An hour's rollups hold {st.distinct_keys:,} keys here, not {per_interval:.0f}: the top 200 by "
        "time is not the same in every interval (every statement runs once per interval, and those near the 200th "
        "place trade places), so how many keys an hour holds depends on how far a workload's top statements stand "
        "out. "
        f"The Workload partial served from its fragment takes {served:.1f} ms (p50), "
        f"{'within' if served <= GOAL_PARTIAL_MS else 'beyond'} the goal; rendering it, which the first request "
        f"after each sample pays (for each window, filter and permission), takes {rendered:.0f} ms, "
        f"{median(part.rendered_sql_ms):.0f} ms of it in Seamline's database."
    )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(
        __doc__,
        profile="also print cProfile's top functions of the rendered partial",
        drop="remove what the benchmark created, and exit",
    )
    parser.add_argument(
        "--intervals", type=int, default=60, help="samples with every statement run, for storage (default 60)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of first, second and third sample, realistic texts (default 5)"
    )
    parser.add_argument(
        "--short-rounds", type=int, default=3, help="rounds of first, second and third sample, short texts (default 3)"
    )
    parser.add_argument("--requests", type=int, default=300, help="timed requests of the served partial (default 300)")
    parser.add_argument("--renders", type=int, default=30, help="timed requests of the rendered partial (default 30)")
    args = parser.parse_args(argv)
    if args.intervals < 5 or args.requests < 20 or args.renders < 5 or args.rounds < 1 or args.short_rounds < 1:
        parser.error(
            "--intervals must be at least 5, --requests at least 20, --renders at least 5, --rounds and "
            "--short-rounds 1"
        )

    exit_on_sigterm()
    setup_django(bench_env())
    from django.conf import settings

    with connect_dev_stack(settings.PG_HOST, settings.PG_PORT, autocommit=True) as admin:
        major = int(admin.execute("SHOW server_version_num").fetchone()[0]) // 10000
        bindir = pg_client("initdb", major).parent
        if args.drop:
            drop(admin, bindir)
            return 0
        instance = StatementsInstance(bindir)
        started = time.perf_counter()
        print(
            f"statements benchmark: {ROLES * TABLES * COLUMNS:,} statements of {ROLES} roles, short texts then "
            f"realistic ones ({args.short_rounds} and {args.rounds} rounds), {args.intervals} intervals, "
            f"{args.renders} rendered and {args.requests} served partials"
        )
        res = measure(args, admin, instance)
    elapsed = time.perf_counter() - started

    import redis
    from django import get_version

    info = machine(
        {
            "PostgreSQL server (monitored)": f"{instance.version} (throwaway instance, same machine)",
            "Seamline's database": f"dev stack, {settings.PG_HOST}:{settings.PG_PORT}",
            "Redis": redis.Redis.from_url(redis_url()).info("server")["redis_version"],
            "Django": get_version(),
            "psycopg": psycopg.__version__,
        }
    )
    table, samples, storage, partial, figures, all_hold = report(res)
    summary = interpretation(res)
    real, short = res.realistic, res.short
    print("\n" + "\n".join(table))
    print("\n" + "\n".join(samples))
    print("\n" + "\n".join(storage))
    print("\n" + "\n".join(partial) + "\n")
    print("\n".join(f"- {line}" for line in figures))
    print("\n" + paragraph(summary))
    if res.partial.profile:
        print("\n" + res.partial.profile)
    print(f"\nthe benchmark took {elapsed:.0f} s")
    print("\n" + ("every goal holds" if all_hold else "GOAL MISSED: see the figures above"))

    if not args.no_docs:
        body = [
            "## Statements sampling and the Workload page (issue 16)",
            "",
            paragraph(
                f"`bench/statements.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The monitored cluster is a "
                f"throwaway PostgreSQL instance with pg_stat_statements (`max` 10,000, `track` top, planning "
                f"tracked) on which {ROLES} roles run {real.distinct:,} distinct statements, in two sets one after "
                "the other (pg_stat_statements emptied in between). The goal is measured on the realistic texts, "
                "ORM-like statements (every name quoted and qualified, column lists, joins, filters) whose length "
                f"varies as real ones do: {describe_texts(real.texts)}. The short texts, `SELECT cK FROM sR.tJ WHERE "
                f"id = $1`: {describe_texts(short.texts)}, are reported beside them, and so is the floor, the "
                f"database time of `{FLOOR}` alone, the extension's own cost in every sample. Seamline reads the "
                "instance as a monitoring role of its own (pg_monitor), so that pg_stat_statements, read from "
                "another database on a session it does not track, gives what each sample cost the server (planning "
                "plus execution time of the monitoring role's statements, before and after the sample); first, "
                f"second and third sample in {len(real.rounds)} rounds with the realistic texts, "
                f"{len(short.rounds)} with the short ones, medians. Samples run in "
                f"process (`sample_statements`), against Seamline's own database (`{APP_DB}` on the dev stack) "
                f"with {ROLES} services, one role each. Storage (realistic texts): {res.storage.intervals} more "
                "samples, each after every statement ran once. The Workload partial: 2 h of planted samples, "
                f"{res.planted.in_window:,} distinct statements in the last hour's, in process (django.test.Client, a "
                "superuser, `SEAMLINE_DEBUG=0`), server time from the Server-Timing header: rendered (the cluster's "
                f"statements version moved before each request, as a sample moves it; {len(res.partial.rendered_ms)} "
                f"requests) and served from its fragment ({len(res.partial.served_ms)} requests, {SERVED_PER_RENDER} "
                "after each render)."
            ),
            "",
            *table,
            "",
            "Each sample, what it cost the server and Seamline:",
            "",
            *samples,
            "",
            f"Stored per node and day at {INTERVAL_S} s, every statement running in every interval:",
            "",
            *storage,
            "",
            f"The Workload partial, {res.planted.in_window:,} statements in the 1 h window:",
            "",
            *partial,
            "",
            *[bullet(line) for line in figures],
            "",
            paragraph(summary),
        ]
        reproduce = (
            "Reproduce: `make bench`, or `.venv/bin/python bench/statements.py [--rounds N] [--short-rounds N] "
            "[--intervals N] [--requests N] [--renders N] [--profile]` with the dev stack running (`make services`). "
            "It starts and removes its own monitored instance; `--drop` removes its Seamline database "
            f"(`{APP_DB}`) and anything a killed run left behind."
        )
        write_report(NAME, body, info, reproduce)
    return 0 if all_hold else 1


if __name__ == "__main__":
    sys.exit(main())
