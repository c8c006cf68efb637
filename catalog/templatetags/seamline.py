"""Small display helpers: sizes and numbers through the humanize library, names joined from raw parts."""

from __future__ import annotations

import humanize
from django import template
from django.utils.translation import get_language

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
