"""Ages that move with the clock inside pages that do not: a live fragment is rendered once per snapshot and served
for seconds to many viewers, yet "sampled 3 s ago" must read 4 s a second later.

A template writes an age as a marker (``{{ when|age }}``, catalog/templatetags/seamline.py): the moment itself,
between NUL characters, inside a ``<time>`` element that carries it too. Every HTML response is filled on its way out
(``dashboard.middleware.AgesMiddleware``): each marker becomes the age at that instant, in the response's language.
The browser then ticks the ``<time class="age">`` elements itself (static/js/live.js), so that a page whose fragment
is unchanged (a 304) still shows ages that move. NUL is safe as a delimiter: nothing PostgreSQL or Redis supplies can
hold one (PostgreSQL text cannot), and requests carrying one are refused (RejectNulMiddleware). JSON answers carry
ages the same way (``json_marker``, ``fill_json``): a string the encoder writes with its NULs escaped, which becomes
the number of seconds as the answer leaves.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

DURATION, SINCE = "d", "s"  # "4 min 2 s" (``duration`` below), or Django's timesince ("3 hours, 4 minutes")
NOW = SafeString("\x00n0\x00")  # the instant itself, in epoch seconds: the browser's reference for ticking ages
_MARKER = re.compile("\x00([dsn])([0-9]+(?:\\.[0-9]+)?)\x00")
# in JSON, a marker is a string (its NULs escaped by the encoder) that becomes a number: the age in seconds
_JSON_MARKER = re.compile(r'"\\u0000j([0-9]+(?:\.[0-9]+)?)\\u0000"')


def marker(when: datetime, kind: str = DURATION) -> SafeString:
    """The age of ``when`` (an aware datetime), to be filled in when the response leaves."""
    return format_html(
        '<time class="age" datetime="{}" data-age="{}">{}</time>',
        when.astimezone(UTC).isoformat(),
        kind,
        SafeString(f"\x00{kind}{when.timestamp():.3f}\x00"),
    )


def json_marker(when: datetime) -> str:
    """The age of ``when`` in seconds, as a JSON value to be filled in when the response leaves (``fill_json``)."""
    return f"\x00j{when.timestamp():.3f}\x00"


def duration(seconds: float | timedelta | None) -> str:
    """An age or a duration, short: 4 s, 2 min 5 s, 3 h 12 min, 2 d 4 h; — when there is none."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    return _duration(int(seconds), _formats())


def _formats() -> tuple[str, str, str, str]:
    """The four shapes of a duration, in the active language (looked up once per fill, not once per age)."""
    return _("%(s)d s"), _("%(m)d min %(s)d s"), _("%(h)d h %(m)d min"), _("%(d)d d %(h)d h")


def _duration(s: int, formats: tuple[str, str, str, str]) -> str:
    if s < 60:
        return formats[0] % {"s": s}
    if s < 3600:
        return formats[1] % {"m": s // 60, "s": s % 60}
    if s < 86400:
        return formats[2] % {"h": s // 3600, "m": s % 3600 // 60}
    return formats[3] % {"d": s // 86400, "h": s % 86400 // 3600}


def fill(text: str, now: float | None = None) -> str:
    """Every marker of ``text`` replaced by its age at ``now`` (default: this instant), in the active language."""
    if "\x00" not in text:
        return text
    now = time.time() if now is None else now
    formats = _formats()

    def age(match: re.Match[str]) -> str:
        then = float(match[2])
        if match[1] == "n":
            return f"{now:.3f}"
        if match[1] == SINCE:
            return timesince(datetime.fromtimestamp(then, UTC), datetime.fromtimestamp(now, UTC))
        return _duration(int(max(0.0, now - then)), formats)

    return _MARKER.sub(age, text)


def fill_json(text: str, now: float | None = None) -> str:
    """Every JSON marker of ``text`` (JSON encoded with ``json_marker`` values) replaced by its age at ``now`` in
    seconds, to a tenth."""
    now = time.time() if now is None else now
    return _JSON_MARKER.sub(lambda match: f"{max(0.0, now - float(match[1])):.1f}", text)
