"""dashboard/statements/deltas.py: what a node's statements did between two samples, whatever the extension did in
between (a full reset, an entry reset or evicted and made again, evictions), never negative, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.readers.statements import Counters, Info
from dashboard.statements import deltas

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RESET = T0 - timedelta(days=1)


def entry(queryid: int | None, calls: int, ms: float, role: str = "r", toplevel: bool = True) -> Counters:
    return Counters(role, "db", queryid, toplevel, calls, ms, calls, 10 * calls, calls, 0, 100 * calls)


def base(at: datetime, entries: list[Counters], dealloc: int = 0, reset: datetime = RESET) -> deltas.Baseline:
    return deltas.baseline(at, entries, Info(dealloc, reset))


def test_a_delta_is_what_ran_since_and_an_idle_entry_has_none():
    before = base(T0, [entry(1, 10, 5.0), entry(2, 3, 1.0)])
    after = base(T0 + timedelta(minutes=1), [entry(1, 15, 7.5), entry(2, 3, 1.0), entry(3, 2, 0.2)])
    interval = deltas.subtract(before, after)
    assert interval.deltas[("db", "r", 1, True)] == (5, 2.5, 5, 50, 5, 0, 500)
    assert ("db", "r", 2, True) not in interval.deltas  # did not run
    assert interval.deltas[("db", "r", 3, True)][0] == 2  # new: all it holds ran in the interval
    assert not interval.reset and interval.evicted == 0


def test_a_full_reset_counts_what_ran_after_it_and_nothing_is_negative():
    before = base(T0, [entry(1, 100, 50.0)], dealloc=7)
    after = base(T0 + timedelta(minutes=1), [entry(1, 4, 2.0)], dealloc=0, reset=T0 + timedelta(seconds=30))
    interval = deltas.subtract(before, after)
    assert interval.reset and interval.evicted == 0
    assert interval.deltas[("db", "r", 1, True)][:2] == (4, 2.0)


def test_an_entry_lower_than_last_time_is_new():
    before = base(T0, [entry(1, 100, 50.0)])
    after = base(T0 + timedelta(minutes=1), [entry(1, 6, 3.0)])  # reset on its own, or evicted and made again
    assert deltas.subtract(before, after).deltas[("db", "r", 1, True)][:2] == (6, 3.0)


def test_evictions_mark_the_interval_and_an_old_server_cannot_say():
    before = base(T0, [entry(1, 1, 1.0)], dealloc=3)
    after = base(T0 + timedelta(minutes=1), [entry(1, 2, 2.0)], dealloc=5)
    assert deltas.subtract(before, after).evicted == 2
    old = deltas.baseline(T0, [entry(1, 1, 1.0)], None), deltas.baseline(T0, [entry(1, 2, 2.0)], None)
    assert deltas.subtract(*old).evicted is None


def test_entries_without_an_id_are_summed_per_role_and_a_baseline_round_trips():
    current = base(T0, [entry(None, 2, 1.0, role="other"), entry(None, 3, 2.0, role="other"), entry(9, 1, 1.0)])
    assert current.entries[("db", "other", None, True)][:2] == (5, 3.0)
    assert deltas.Baseline.from_json(current.to_json()) == current
