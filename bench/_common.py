"""Helpers shared by the benchmarks in bench/: timing whole commands, medians, the machine's description, the
PostgreSQL client binaries, and each benchmark's own section of docs/benchmarks.md.

A helper module, not a benchmark: running it does nothing.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def fmt_seconds(values: Sequence[float]) -> str:
    """'1.23 s (1.20-1.31 s over 3 runs)'."""
    if len(values) == 1:
        return f"{values[0]:.2f} s (1 run)"
    return f"{median(values):.2f} s ({min(values):.2f}-{max(values):.2f} s over {len(values)} runs)"


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
