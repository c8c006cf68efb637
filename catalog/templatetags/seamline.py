"""Small display helpers: sizes and numbers through the humanize library, names joined from raw parts."""

from __future__ import annotations

from datetime import datetime

import humanize
from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from catalog import ages
from catalog.catalog_file import is_web_url
from catalog.credentials import shown_dsn

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


register.filter("duration", ages.duration)
register.filter("shown_dsn", shown_dsn)  # a DSN as pages may show it: no keyword that can carry a secret
register.filter("is_web_url", is_web_url)  # only an http(s) URL from the catalog is made a link


@register.simple_tag
def pager_query(query, param: str, number: int) -> str:
    """The page's query string with ``param`` set to ``number`` (the other parameters kept), for a pager's link."""
    query = query.copy()
    query[param] = str(number)
    return query.urlencode()


@register.filter
def percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    return f"{fraction * 100:.0f} %"


@register.filter
def age(when: datetime | str | None, kind: str = ages.DURATION) -> SafeString | str:
    """How long ago ``when`` was, moving with the clock (catalog.ages): ``{{ view.sampled_at|age }}``, or
    ``{{ run.finished_at|age:"s" }}`` in timesince's words. "—" when there is none."""
    if isinstance(when, str):
        when = parse_datetime(when)
    return ages.marker(when, kind) if when else "—"


@register.simple_tag
def server_now() -> SafeString:
    """This instant on the server, in epoch seconds, as the response leaves (catalog.ages)."""
    return ages.NOW


@register.simple_tag
def duration_formats() -> str:
    """``duration``'s formats in the active language, as a JSON script element, for the browser to tick ages with
    (static/js/live.js)."""
    return json_script(
        {"s": _("%(s)d s"), "ms": _("%(m)d min %(s)d s"), "hm": _("%(h)d h %(m)d min"), "dh": _("%(d)d d %(h)d h")},
        "duration-formats",
    )
