"""Helpers shared by the benchmarks in bench/: timing whole commands, medians and percentiles, the processes a
benchmark starts (Celery worker and beat, the web server), Django set up with a benchmark's environment, the machine's
description, the PostgreSQL client binaries, and each benchmark's own section of docs/benchmarks.md.

A helper module, not a benchmark: running it does nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"

DOC_HEADER = """# Benchmarks

Speed goals are checked by scripts in `bench/`, not by timed tests: `make bench` runs every one of them against the
dev stack (`make services`) and writes the summary below, every figure next to its goal. Each script prints its
report, rewrites its own section of this file (between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; the rest of
the file is left alone) and exits non-zero when a goal is missed. Figures are medians over repeated runs, or ratios
of medians measured in the same run on the same machine, so that a noisy or slow machine moves both sides of a ratio
together.
"""


@dataclass(frozen=True)
class Timed:
    seconds: float
    stdout: str
    stderr: str


def run_timed(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> Timed:
    """Run a whole command as a user would and measure its wall-clock time; fail loudly if it fails."""
    start = time.perf_counter()
    env = dict(env) if env is not None else None
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed (exit {proc.returncode}): {' '.join(cmd)}")
    return Timed(seconds, proc.stdout, proc.stderr)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def fmt_seconds(values: Sequence[float]) -> str:
    """'1.23 s (1.20-1.31 s over 3 runs)'."""
    if len(values) == 1:
        return f"{values[0]:.2f} s (1 run)"
    return f"{median(values):.2f} s ({min(values):.2f}-{max(values):.2f} s over {len(values)} runs)"


def fmt_set(values: set[int]) -> str:
    """'48 / 50': the distinct counts of repeated runs, in order (one number when every run counted the same)."""
    return " / ".join(str(v) for v in sorted(values))


def fmt_ms(values: Sequence[float]) -> str:
    """'7.9 ms (p95 9.1 ms)': the median and the 95th percentile of times in milliseconds."""
    return f"{median(values):.1f} ms (p95 {percentile(values, 95):.1f} ms)"


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def process_cpu(pid: int, children: bool = True) -> float:
    """User + system CPU seconds of a process, with (``children``) those of its children it has waited for (from
    /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants, live or ended (a process that ended counts in its parent's
    children's time once waited for; one that ended but was not yet waited for is missed)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        total += process_cpu(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                pending += [int(child) for child in task.read_text().split()]
    return total


# --- what a benchmark starts -------------------------------------------------------------------------------------


def exit_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: through the finally blocks that stop what it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def setup_django(env: Mapping[str, str]) -> None:
    """Django in this process, with the environment the benchmark gives the processes it starts (its database, its
    Redis, production mode)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()


class Processes:
    """Commands a benchmark keeps running (Celery worker and beat, the web server), each in a process group of its
    own, with ``env`` over this process' environment, logging to ``logs/NAME.log``.

    How one stops (``stop(name)``, or ``stop_all()``): with ``kill_mode="control-group"`` (the default) TERM goes to
    its whole group, and KILL to the group only if it has not ended after ``grace`` seconds (20); with
    ``kill_mode="mixed"`` (a warm shutdown, as systemd's KillMode=mixed) TERM goes to the main process only, and KILL
    to the group after it ended or after ``grace`` seconds, for the children left behind. With ``pids``, each one's
    pid is written to ``pids/NAME.pid`` while it runs, for ``stop_leftovers`` after a killed run.
    """

    def __init__(
        self,
        logs: Path,
        env: Mapping[str, str],
        *,
        kill_mode: str = "control-group",
        grace: float = 20,
        pids: Path | None = None,
    ) -> None:
        if kill_mode not in ("control-group", "mixed"):
            raise ValueError(f"kill_mode: control-group or mixed, not {kill_mode!r}")
        self.logs, self.env, self.kill_mode, self.grace, self.pids = logs, dict(env), kill_mode, grace, pids
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *cmd: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                list(cmd),
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.pids is not None:
            (self.pids / f"{name}.pid").write_text(str(self.procs[name].pid))

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def check(self) -> None:
        """SystemExit with the end of its log when one of them has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited (status {proc.returncode}):\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self, name: str) -> None:
        self._stop([name])

    def stop_all(self) -> None:
        self._stop(list(self.procs))

    def _stop(self, names: list[str]) -> None:
        """TERM to every one of them first, then each waited for in turn."""
        procs = {name: self.procs.pop(name) for name in names if name in self.procs}
        for proc in procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if self.kill_mode == "mixed":
                        proc.terminate()
                    else:
                        os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=self.grace)
                ended = True
            except subprocess.TimeoutExpired:
                ended = False
            if self.kill_mode == "mixed" or not ended:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if self.pids is not None:
                (self.pids / f"{name}.pid").unlink(missing_ok=True)

    @staticmethod
    def stop_leftovers(pids: Path, marker: bytes) -> None:
        """The process groups a killed run left behind, by the pid files it wrote in ``pids``: KILL to each one whose
        main process still runs a command line holding ``marker`` (a pid may have been reused since)."""
        for pidfile in pids.glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text())
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.killpg(pid, signal.SIGKILL)


# --- the dev stack's PostgreSQL ----------------------------------------------------------------------------------


def connect_dev_stack(host: str, port: int, **kwargs: Any) -> psycopg.Connection:
    """A connection to database postgres of the dev stack's primary, as postgres; when it cannot be reached,
    SystemExit saying so and how to start the stack."""
    try:
        return psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", connect_timeout=5, **kwargs)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {host}:{port} cannot be reached ({exc}); start the dev stack: make services"
        raise SystemExit(message) from None


# --- PostgreSQL client binaries ------------------------------------------------------------------------------------


def _major(version_text: str) -> int | None:
    """15 from 'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'."""
    m = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text) or re.search(r"(\d+)", version_text)
    return int(m.group(1)) if m else None


def pg_bindirs() -> list[tuple[int, Path]]:
    """(major version, bin directory) of the PostgreSQL installations found, newest first, >= 14 only.

    Looks where scripts/devstack does: $SEAMLINE_PG_BINDIR, else /usr/lib/postgresql/*/bin and `pg_config --bindir`.
    """
    if os.environ.get("SEAMLINE_PG_BINDIR"):
        candidates = [Path(os.environ["SEAMLINE_PG_BINDIR"])]
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
            if out:
                candidates.append(Path(out))
        except OSError:
            pass
    found: dict[Path, int] = {}
    for d in candidates:
        pg_dump = d / "pg_dump"
        if not os.access(pg_dump, os.X_OK):
            continue
        text = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True, check=False).stdout
        major = _major(text)
        if major is not None and major >= 14:
            found[d.resolve()] = major
    return sorted(((v, d) for d, v in found.items()), reverse=True)


def pg_client(program: str, server_major: int) -> Path:
    """The client program of the server's own major version; a newer one (which can read an older server) if not."""
    dirs = pg_bindirs()
    for major, d in dirs:
        if major == server_major:
            return d / program
    newer = [(major, d) for major, d in dirs if major > server_major]
    if newer:
        major, d = newer[-1]
        print(f"note: no PostgreSQL {server_major} client found; using {program} {major}", file=sys.stderr)
        return d / program
    raise SystemExit(
        f"no {program} for PostgreSQL {server_major} or newer (looked in /usr/lib/postgresql/*/bin and pg_config; "
        "set SEAMLINE_PG_BINDIR)"
    )


# --- the machine -------------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD")
    if not rev:
        return "unknown"
    return rev + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a figure was measured on: cores, memory, CPU, OS, Python, plus what the caller adds (versions)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    info = {
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "CPU": _cpu_model(),
        "memory": _memory(),
        "OS": f"{_os_name()}, Linux {platform.release()}" if platform.system() == "Linux" else _os_name(),
        "Python": platform.python_version(),
        "commit": _git_revision(),
    }
    info.update(extra or {})
    return info


def machine_markdown(info: Mapping[str, str]) -> str:
    return "\n".join(bullet(f"{key}: {value}") for key, value in info.items())


# --- docs/benchmarks.md ------------------------------------------------------------------------------------------


def paragraph(text: str, width: int = 120) -> str:
    """Markdown prose wrapped at 120 columns, as the rest of docs/ is."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def bullet(text: str, width: int = 120) -> str:
    return textwrap.fill(
        text, width, initial_indent="- ", subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


def section_pattern(name: str) -> re.Pattern[str]:
    """A section of docs/benchmarks.md, markers included; group 1 is its body."""
    return re.compile(rf"<!-- bench:{re.escape(name)} -->(.*?)<!-- /bench:{re.escape(name)} -->", re.DOTALL)


def read_section(name: str, text: str) -> str:
    match = section_pattern(name).search(text)
    return match.group(1) if match else ""


def write_report(name: str, body: Sequence[str], info: Mapping[str, str], reproduce: str) -> None:
    """A benchmark's section of docs/benchmarks.md: its lines (markdown), then the machine it ran on and how to run it
    again (a paragraph)."""
    lines = [*body, "", "Machine:", "", machine_markdown(info), "", paragraph(reproduce)]
    write_section(name, "\n".join(lines))
    print(f"wrote the {name} section of {BENCHMARKS_MD.relative_to(ROOT)}")


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD, first: bool = False) -> None:
    """Replace the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``, keeping the rest; a new section
    goes at the end, or before every other section when ``first``."""
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    text = path.read_text(encoding="utf-8") if path.exists() else DOC_HEADER
    pattern = section_pattern(name)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    elif first and (other := re.search(r"^<!-- bench:\w+ -->$", text, re.MULTILINE)):
        text = text[: other.start()] + block + "\n\n" + text[other.start() :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def argument_parser(doc: str, *, profile: str = "", drop: str = "") -> argparse.ArgumentParser:
    """A benchmark's command line: its docstring's first paragraph as the description, ``--no-docs`` always, and
    ``--profile`` and ``--drop`` with their help when the benchmark has them; the caller adds its own options."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if profile:
        parser.add_argument("--profile", action="store_true", help=profile)
    if drop:
        parser.add_argument("--drop", action="store_true", help=drop)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    return parser
