"""`make bench` (``python -m bench``): every benchmark in bench/, one after the other, then the summary at the top of
docs/benchmarks.md — the machine, every figure next to its goal, how long each benchmark took and how to run it alone.

Each benchmark writes its own section (see bench/_common.py); this reads their goals tables back, so a figure shows in
the summary exactly as its benchmark reported it. Exit status 1 when a benchmark failed, missed a goal, or the whole
run took longer than its own goal (20 minutes on a 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BENCHMARKS_MD, ROOT, machine, machine_markdown, paragraph, read_section, write_section

BENCH = Path(__file__).resolve().parent
GOAL_MINUTES = 20
GOALS_HEADER = re.compile(r"^\|\s*(?P<first>[^|]+?)\s*\|.*\|\s*goal\s*\|\s*holds\s*\|\s*$", re.IGNORECASE)


@dataclass
class Outcome:
    name: str
    seconds: float
    status: int
    title: str = ""
    goals: list[list[str]] = field(default_factory=list)  # [figure, measured, goal, holds]

    @property
    def command(self) -> str:
        return f".venv/bin/python bench/{self.name}.py"

    @property
    def missed(self) -> bool:
        return self.status != 0 or any("no" in holds.lower() for *_, holds in self.goals)


def benchmarks() -> list[str]:
    return sorted(path.stem for path in BENCH.glob("[!_]*.py"))


def goals_of(body: str) -> tuple[str, list[list[str]]]:
    """A section's title and the rows of its goals tables (header ``| … | goal | holds |``), as
    [figure, measured, goal, holds]: the first column, the columns before "goal" joined, then goal and holds."""
    title = next((line[3:].strip() for line in body.splitlines() if line.startswith("## ")), "")
    rows: list[list[str]] = []
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if not GOALS_HEADER.match(line):
            continue
        header = cells_of(line)
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = cells_of(row)
            if len(cells) != len(header) or not cells[-2]:  # a row without a goal (a total, say)
                continue
            if len(header) == 4:
                measured = cells[1]
            else:  # several measured columns: name each
                measured = ", ".join(f"{name} {value}" for name, value in zip(header[1:-2], cells[1:-2], strict=True))
            rows.append([cells[0], measured, cells[-2], cells[-1]])
    return title, rows


def cells_of(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def versions() -> dict[str, str]:
    def server(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    pg_port = os.environ.get("SEAMLINE_PG_PORT", "54329")
    redis_port = os.environ.get("SEAMLINE_REDIS_PORT", "6380")
    postgres = server(["psql", "-h", "127.0.0.1", "-p", pg_port, "-U", "postgres", "-Atc", "SHOW server_version"])
    redis = server(["redis-cli", "-p", redis_port, "INFO", "server"])
    redis = next((line.split(":", 1)[1] for line in redis.splitlines() if line.startswith("redis_version:")), redis)
    packages = ", ".join(f"{name} {metadata.version(name)}" for name in ("Django", "celery", "psycopg", "redis"))
    return {"PostgreSQL": postgres, "Redis": redis, "packages": packages}


def summary(outcomes: list[Outcome], total: float, started: datetime, complete: bool) -> str:
    within = total <= GOAL_MINUTES * 60
    lines = [
        "## Summary: every figure and its goal",
        "",
        paragraph(
            f"`make bench`, {started:%Y-%m-%d %H:%M} UTC: {len(outcomes)} benchmarks in {total / 60:.1f} minutes "
            f"(goal: ≤ {GOAL_MINUTES} minutes on a 2-core machine; "
            f"{'holds' if within else 'missed'}){'' if complete else ', only some of them (see below)'}. "
            "Each benchmark's section below has its method, its full figures and where the time goes; run one alone "
            "with the command in the last table."
        ),
        "",
        machine_markdown(machine(versions())),
        "",
        "| benchmark | figure | measured | goal | holds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for outcome in outcomes:
        if outcome.status != 0:
            lines.append(
                f"| {outcome.name} | it exited with status {outcome.status}: any figures of its below are from an "
                "earlier run | — | — | **no** |"
            )
        for figure, measured, goal, holds in outcome.goals:
            lines.append(f"| {outcome.name} | {figure} | {measured} | {goal} | {holds} |")
    lines.append(
        f"| all | `make bench`, every benchmark | {total / 60:.1f} min | ≤ {GOAL_MINUTES} min | "
        f"{'yes' if within else '**no**'} |"
    )
    lines += ["", "| benchmark | section | run time | exit | reproduce |", "| --- | --- | --- | --- | --- |"]
    for outcome in outcomes:
        lines.append(
            f"| {outcome.name} | {outcome.title or '—'} | {outcome.seconds:.0f} s | {outcome.status} | "
            f"`{outcome.command}` |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="run only these benchmarks (default: all of them)")
    args = parser.parse_args(argv)
    names = args.only or benchmarks()
    unknown = sorted(set(names) - set(benchmarks()))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (there are {', '.join(benchmarks())})")
    started, clock = datetime.now(UTC), time.perf_counter()
    outcomes = []
    for name in names:
        print(f"\n=== bench/{name}.py", flush=True)
        begun = time.perf_counter()
        status = subprocess.run([sys.executable, str(BENCH / f"{name}.py")], cwd=ROOT).returncode
        outcomes.append(Outcome(name, time.perf_counter() - begun, status))
        print(f"=== bench/{name}.py: exit {status} after {outcomes[-1].seconds:.0f} s", flush=True)
    total = time.perf_counter() - clock
    text = BENCHMARKS_MD.read_text(encoding="utf-8")
    for outcome in outcomes:
        outcome.title, outcome.goals = goals_of(read_section(outcome.name, text))
    write_section("summary", summary(outcomes, total, started, complete=names == benchmarks()), first=True)
    print(f"\nmake bench: {total / 60:.1f} min; summary written to {BENCHMARKS_MD.relative_to(ROOT)}")
    failed = [o.name for o in outcomes if o.missed]
    if failed or total > GOAL_MINUTES * 60:
        print(f"missed: {', '.join(failed) or 'the total time'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
