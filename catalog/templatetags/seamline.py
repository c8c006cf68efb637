"""Small display helpers: sizes and numbers through the humanize library, names joined from raw parts."""

from __future__ import annotations

from datetime import timedelta

import humanize
from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def filesize(value: int | None) -> str:
    if value is None:
        return "—"
    return humanize.naturalsize(value, binary=True)


@register.filter
def approx(value: int | None) -> str:
    """A row estimate: 12.3 thousand, or — when PostgreSQL has none."""
    if value is None:
        return "—"
    if get_language() and get_language().startswith("zh"):
        humanize.i18n.activate("zh_CN")
    else:
        humanize.i18n.deactivate()
    return humanize.intword(value) if value >= 1_000_000 else humanize.intcomma(value)


@register.filter
def dotted(parts) -> str:
    return ".".join(parts)


@register.filter
def duration(seconds: float | timedelta | None) -> str:
    """An age or a duration, short: 4 s, 2 min 5 s, 3 h 12 min, 2 d 4 h; — when there is none."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    s = int(seconds)
    if s < 60:
        return _("%(s)d s") % {"s": s}
    if s < 3600:
        return _("%(m)d min %(s)d s") % {"m": s // 60, "s": s % 60}
    if s < 86400:
        return _("%(h)d h %(m)d min") % {"h": s // 3600, "m": s % 3600 // 60}
    return _("%(d)d d %(h)d h") % {"d": s // 86400, "h": s % 86400 // 3600}


@register.filter
def percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    return f"{fraction * 100:.0f} %"
