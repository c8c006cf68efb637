"""Which relations SQL names, read with PostgreSQL's own parser (pglast): statements that ran (dashboard.statements)
and the bodies of functions (catalog.bodies) alike. Names are as written, resolved against a search_path only here
(``resolve``), never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError

WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


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


def relations(statement: ast.Node) -> set[RelationUse]:
    """The relations a DML statement names, with the CTE names in scope at each reference left out.

    A CTE is in scope in the statement that defines it, in the CTEs after it and, under WITH RECURSIVE, in all of
    that WITH's CTEs. The target of INSERT, UPDATE, DELETE or MERGE is never a CTE; FOR UPDATE OF names aliases.
    """
    found: set[RelationUse] = set()
    todo: list[tuple[object, frozenset[str], bool]] = [(statement, frozenset(), False)]
    while todo:
        node, ctes, write = todo.pop()
        if isinstance(node, tuple):
            todo.extend((item, ctes, write) for item in node)
        elif isinstance(node, ast.RangeVar):
            if write or node.schemaname or node.relname not in ctes:
                found.add(RelationUse(node.schemaname, node.relname, "write" if write else "read"))
        elif isinstance(node, ast.Node) and not isinstance(node, ast.LockingClause):
            if (with_clause := getattr(node, "withClause", None)) is not None:
                names = [cte.ctename for cte in with_clause.ctes]
                for index, cte in enumerate(with_clause.ctes):
                    visible = names if with_clause.recursive else names[:index]
                    todo.append((cte.ctequery, ctes.union(visible), False))
                ctes = ctes.union(names)
            target = isinstance(node, WRITES)
            todo.extend(
                (getattr(node, member), ctes, target and member == "relation")
                for member in node
                if member != "withClause"
            )
    return found
