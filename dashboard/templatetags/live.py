"""Display helpers of the live side."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from dashboard.states import LABELS

register = template.Library()


@register.filter
def state_label(state: str | None) -> str:
    """A session's state as the pages name it (the snapshot keeps the machine name)."""
    if state == "unknown":
        return _("not visible")
    label = LABELS.get(state or "")
    return str(label) if label is not None else state or "—"
