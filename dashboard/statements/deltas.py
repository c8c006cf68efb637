"""What a node's statements did between two samples: pg_stat_statements' counters now, less the node's baseline (its
counters at the previous sample), per entry, never negative and never counted twice.

The extension's own limits decide what a delta is:
- the first sample of a node (or one whose baseline was lost) is a baseline: nothing to subtract from, no delta;
- a full reset (``pg_stat_statements_info.stats_reset`` moved) empties every entry inside the interval: what the
  entries hold now is what happened since, the interval's figures;
- an entry whose counters are lower than last time was reset on its own or evicted and made again: treated as new,
  what it holds now is its delta (as for an entry not seen before);
- a rise of ``dealloc`` means entries were evicted to make room: what they did is missing, and the interval says
  it may be incomplete.

An entry is (database, role, statement id, top level). Entries the monitoring role sees without an id (other roles'
statements, without pg_read_all_stats) are summed per database and role under id None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dashboard.readers.statements import Counters, Info

Key = tuple[str, str, int | None, bool]  # database, role, statement id, top level
COUNTERS = ("calls", "total_exec_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written", "wal_bytes")
Values = tuple[float, ...]  # in COUNTERS' order


@dataclass(frozen=True)
class Baseline:
    """A node's counters at one sample: what the next sample subtracts."""

    at: datetime
    stats_reset: datetime | None  # None before 1.9
    dealloc: int | None
    entries: dict[Key, Values]

    def to_json(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "stats_reset": self.stats_reset.isoformat() if self.stats_reset else None,
            "dealloc": self.dealloc,
            "entries": [[*key, *values] for key, values in self.entries.items()],
        }

    @classmethod
    def from_json(cls, data: dict) -> Baseline:
        return cls(
            at=datetime.fromisoformat(data["at"]),
            stats_reset=datetime.fromisoformat(data["stats_reset"]) if data["stats_reset"] else None,
            dealloc=data["dealloc"],
            entries={(e[0], e[1], e[2], e[3]): tuple(e[4:]) for e in data["entries"]},
        )


@dataclass(frozen=True)
class Interval:
    started_at: datetime
    ended_at: datetime
    reset: bool  # a full reset inside the interval
    evicted: int | None  # entries evicted to make room in the interval; None: the server cannot say (before 1.9)
    deltas: dict[Key, Values]  # only the entries that ran in the interval


def baseline(at: datetime, counters: Iterable[Counters], info: Info | None) -> Baseline:
    """The node's counters now, entries that share a key summed."""
    entries: dict[Key, Values] = {}
    for c in counters:
        key = (c.database or "", c.role or "", c.queryid, c.toplevel)
        values = tuple(getattr(c, name) or 0 for name in COUNTERS)
        before = entries.get(key)
        entries[key] = values if before is None else tuple(a + b for a, b in zip(before, values, strict=True))
    return Baseline(at, info.stats_reset if info else None, info.dealloc if info else None, entries)


def subtract(previous: Baseline, current: Baseline) -> Interval:
    """The interval from ``previous`` to ``current``."""
    reset = (
        current.stats_reset is not None
        and previous.stats_reset is not None
        and current.stats_reset != previous.stats_reset
    )
    if current.dealloc is None or previous.dealloc is None:
        evicted = None
    elif reset or current.dealloc < previous.dealloc:  # the reset set dealloc to 0 too
        evicted = current.dealloc
    else:
        evicted = current.dealloc - previous.dealloc
    deltas: dict[Key, Values] = {}
    for key, now in current.entries.items():
        before = None if reset else previous.entries.get(key)
        if before is not None and all(n >= b for n, b in zip(now, before, strict=True)):
            delta = tuple(n - b for n, b in zip(now, before, strict=True))
        else:  # new, or lower than last time: what it holds now happened since
            delta = now
        if delta[0] > 0:  # calls
            deltas[key] = delta
    return Interval(previous.at, current.at, reset, evicted, deltas)
