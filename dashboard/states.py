"""The states a client session is counted in, defined once: snapshots, history rows and their rollups, charts, the
API and /metrics all count by these. "waiting" (on a lock) wins over the state column, which reads "active" then."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

STATES = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "waiting")

LABELS = {
    "active": _("active"),
    "idle": _("idle"),
    "idle_in_transaction": _("idle in transaction"),
    "idle_in_transaction_aborted": _("idle in transaction (aborted)"),
    "waiting": _("waiting on a lock"),
}


def labels() -> dict[str, str]:
    """The states' labels in the active language."""
    return {state: str(label) for state, label in LABELS.items()}
