"""dashboard/states.py: the session states are defined once, and every place that counts by them follows: the
history's counters, the rollups, the labels, and the mapping from pg_stat_activity's state column."""

from __future__ import annotations

from dataclasses import replace

from dashboard import rollups, states
from dashboard.models import ServiceRollup, ServiceSample, StateCounts
from dashboard.readers.activity import Session
from dashboard.summary import state_of

SESSION = Session(
    pid=1, backend_start=None, user="u", application_name="a", database="d", client_addr=None, state="active",
    wait_event_type=None, wait_event=None, xact_seconds=None, query_seconds=None, state_seconds=None, query="",
    blocked_by=(),
)  # fmt: skip


def test_the_history_counts_exactly_the_states_and_their_total():
    counters = [f.name for f in StateCounts._meta.get_fields()]
    assert counters == [*states.STATES, "total"]
    for model in (ServiceSample, ServiceRollup):
        assert {*states.STATES, "total"} <= {f.name for f in model._meta.get_fields()}
    assert (*states.STATES, "total") == rollups.STATES


def test_every_state_has_a_label():
    assert list(states.labels()) == list(states.STATES)
    assert all(states.labels().values())


def test_pg_stat_activitys_states_map_onto_ours_waiting_on_a_lock_first():
    expected = {
        "active": "active",
        "fastpath function call": "active",
        "idle": "idle",
        "idle in transaction": "idle_in_transaction",
        "idle in transaction (aborted)": "idle_in_transaction_aborted",
        None: "unknown",  # not visible to the monitoring role
        "disabled": "unknown",  # track_activities off
    }
    assert {state: state_of(replace(SESSION, state=state)) for state in expected} == expected
    assert state_of(replace(SESSION, wait_event_type="Lock", wait_event="transactionid")) == "waiting"
    assert set(expected.values()) - {"unknown"} <= set(states.STATES)
