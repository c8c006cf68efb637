"""Display helpers of the live side."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from dashboard.history import state_labels

register = template.Library()


@register.filter
def state_label(state: str | None) -> str:
    """A session's state as the pages name it (the snapshot keeps the machine name)."""
    if state == "unknown":
        return _("not visible")
    return state_labels().get(state or "", state or "—")
