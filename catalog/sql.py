"""Which relations SQL names, read with PostgreSQL's own parser (pglast): statements that ran (dashboard.statements)
and the bodies of functions (catalog.bodies) alike. Names are as written, resolved against a search_path only here
(``resolve``), never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError, parse_sql_json

WRITES = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})  # their "relation" is written


@dataclass(frozen=True)
class RelationUse:
    """A table, view... a statement names, as written: ``schema`` is None when the name is unqualified.

    Names follow PostgreSQL's identifier rules (unquoted ones lower-cased, quoted ones exact); ``access`` is
    ``"write"`` for the target of INSERT, UPDATE, DELETE or MERGE and ``"read"`` for every other reference.
    """

    schema: str | None
    name: str
    access: str


def resolve(use: RelationUse, search_path: Sequence[str], exists: Callable[[str, str], bool]) -> tuple[str, str] | None:
    """The (schema, name) of the relation ``use`` designates, or None when no schema has it (never a guess).

    A qualified name designates itself, if it exists. An unqualified one designates the first match along
    ``search_path`` (already resolved names: "$user" replaced), after pg_catalog when the path does not list it, as
    PostgreSQL searches it first then. Temporary tables (pg_temp, searched before all) are not known here.
    """
    if use.schema is not None:
        return (use.schema, use.name) if exists(use.schema, use.name) else None
    schemas = search_path if "pg_catalog" in search_path else ["pg_catalog", *search_path]
    return next(((schema, use.name) for schema in schemas if exists(schema, use.name)), None)


def search_path_of(setting: str, role: str) -> list[str]:
    """The schema names of a search_path setting as PostgreSQL shows it (``"$user", public``), "$user" being ``role``.

    The setting is read by PostgreSQL's parser as the value of a SET, so identifiers follow its rules: quoted names
    are kept exactly, unquoted ones lower-cased. Raises ValueError for a setting that is not such a list.
    """
    if not setting.strip():
        return []
    try:
        (raw,) = parse_sql(f"SET search_path TO {setting}")  # one statement, or the unpacking raises ValueError
    except (ParseError, ValueError) as error:
        raise ValueError(f"not a search_path: {setting!r}") from error
    args = raw.stmt.args if isinstance(raw.stmt, ast.VariableSetStmt) else None
    if not args or not all(isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String) for arg in args):
        raise ValueError(f"not a search_path: {setting!r}")
    return [role if arg.val.sval == "$user" else arg.val.sval for arg in args]


def parse(text: str) -> list[dict]:
    """The statements of ``text`` as PostgreSQL's parser trees, in libpg_query's JSON form (``{"SelectStmt": {...}}``):
    made five times faster than pglast's node objects, and all ``relations`` needs. Raises ParseError."""
    return [raw["stmt"] for raw in json.loads(parse_sql_json(text)).get("stmts", ()) if "stmt" in raw]


def node(value: object) -> tuple[str | None, object]:
    """A tree value as (node type, its fields): ``{"RangeVar": {...}}`` is a node; a struct a field holds directly
    (a write statement's ``relation``, a ``withClause``), a list or a scalar has no type."""
    if isinstance(value, dict) and len(value) == 1:
        kind, fields = next(iter(value.items()))
        if kind[:1].isupper() and isinstance(fields, dict):
            return kind, fields
    return None, value


def relations_in(text: str) -> set[RelationUse]:
    """The relations every statement of ``text`` names (raises ParseError)."""
    return set().union(*(relations(statement) for statement in parse(text)))


def relations(statement: dict, calls: list[dict] | None = None) -> set[RelationUse]:
    """The relations a DML statement (a parser tree: ``parse``) names, with the CTE names in scope at each reference
    left out; with ``calls``, the fields of every function call found on the way are added to it.

    A CTE is in scope in the statement that defines it, in the CTEs after it and, under WITH RECURSIVE, in all of
    that WITH's CTEs. The target of INSERT, UPDATE, DELETE or MERGE is never a CTE; FOR UPDATE OF names aliases.
    """
    found: set[RelationUse] = set()
    todo: list[tuple[object, frozenset[str]]] = [(statement, frozenset())]
    while todo:
        value, ctes = todo.pop()
        if isinstance(value, list):
            todo.extend((item, ctes) for item in value if isinstance(item, (dict, list)))
            continue
        kind, fields = node(value)
        if not isinstance(fields, dict) or kind == "LockingClause":
            continue
        if kind == "FuncCall" and calls is not None:
            calls.append(fields)
        elif kind == "RangeVar":
            if fields.get("schemaname") or fields["relname"] not in ctes:
                found.add(RelationUse(fields.get("schemaname"), fields["relname"], "read"))
            continue
        if (with_clause := fields.get("withClause")) is not None:
            defined = [node(cte)[1] for cte in with_clause.get("ctes", ())]
            names = [cte["ctename"] for cte in defined]
            for index, cte in enumerate(defined):
                visible = names if with_clause.get("recursive") else names[:index]
                todo.append((cte.get("ctequery"), ctes.union(visible)))
            ctes = ctes.union(names)
        for member, child in fields.items():
            if member == "withClause" or not isinstance(child, (dict, list)):  # scalars: locations, flags, names
                continue
            if kind in WRITES and member == "relation":  # the target: a RangeVar held directly
                found.add(RelationUse(child.get("schemaname"), child["relname"], "write"))
            else:
                todo.append((child, ctes))
    return found
