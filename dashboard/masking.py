"""Query text with its literals masked: what every viewer may see of a session's query.

Strings (quoted, escape, bit, hex, dollar-quoted) and numbers become ``?``, as values are what carry personal data and
secrets; keywords, identifiers (quoted ones too), operators, placeholders and comments stay, as they tell a DBA which
statement it is. The text comes from ``pg_stat_activity.query``, cut at ``track_activity_query_size``: a literal cut
open at the end masks everything after its opening quote. Tokens come from sqlparse's lexer (a Django dependency).
"""

from __future__ import annotations

import re

from sqlparse import tokens as T
from sqlparse.lexer import tokenize

MASK = "?"
# E'...', B'...', X'...', N'...': the letter before the quote belongs to the literal
_PREFIXES = {"e", "b", "x", "n"}
_DIGITS = re.compile(r"^\d[\d_]*(\.\d*)?$")  # 1_000 (PostgreSQL 16), which the lexer reads as a name


def mask_literals(query: str) -> str:
    out: list[str] = []
    for ttype, value in tokenize(query):
        if ttype in T.Literal and ttype is not T.Literal.String.Symbol:  # Symbol: a "quoted identifier"
            if out and out[-1].lower() in _PREFIXES and value[:1] == "'":
                out.pop()
            out.append(MASK)
        elif ttype is T.Error and value in {"'", '"', "$"}:
            out.append(MASK)  # an opening quote with no end: the rest is inside the literal
            break
        elif ttype in T.Name and _DIGITS.match(value):
            out.append(MASK)
        else:
            out.append(value)
    return "".join(out)
