"""What a function's body reads and writes, where PostgreSQL records nothing: PL/pgSQL, and SQL functions whose body
is a string (``LANGUAGE sql AS '...'``). Both are read with PostgreSQL's own parsers (pglast: libpg_query's PL/pgSQL
parser for the function, its SQL parser for each statement and expression in it), never with patterns over text.

A body's relations are names as written (catalog.sql.RelationUse); the sync resolves them against the function's
own ``search_path`` setting, or, when it has none (the names then depend on the caller's), against the function's
schema then ``public``, saying so. Dynamic SQL (``EXECUTE`` of a string built at run time, ``FOR ... IN EXECUTE``,
``OPEN ... FOR EXECUTE``, ``RETURN QUERY EXECUTE``) cannot be read before it runs: the function is reported as not
analysable there, and nothing is guessed. A constant string given to ``EXECUTE`` is read like any statement.

``dblink`` calls (``dblink``, ``dblink_exec``, ``dblink_open``, ``dblink_send_query``) whose connection and statement
are constants name another database: the connection string's host, port and database are kept (nothing else of it:
it may carry a password), with the relations the remote statement names. A connection named by ``dblink_connect``
earlier in the same body is followed; one that is not a constant, or a remote statement built at run time, makes the
function not analysable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast.parser import ParseError, parse_plpgsql_json, scan

from . import addresses
from .sql import RelationUse, node, parse, relations, relations_in

PARSED, DYNAMIC, UNPARSABLE = "parsed", "dynamic", "unparsable"
LANGUAGES = ("plpgsql", "sql")  # the languages whose string bodies are read

# libpg_query's RawParseMode of a PL/pgSQL expression: a whole statement, a type name, an expression, an assignment
_STATEMENT, _TYPE_NAME, _EXPRESSION = 0, 1, 2
_DYNAMIC_STATEMENTS = ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors")


@dataclass(frozen=True)
class Signature:
    """What PL/pgSQL's parser needs of a function's signature (catalog.readers.functions.FunctionBody's fields)."""

    argument_names: tuple[str, ...] = ()
    argument_modes: tuple[str, ...] = ()  # pg_proc's: i, o, b (INOUT), v (VARIADIC), t (TABLE); empty: all IN
    returns: str = "value"  # trigger, event_trigger, void, value, or procedure
    returns_set: bool = False


@dataclass(frozen=True)
class Remote:
    """Relations a body reads or writes in another database through dblink: where the connection string points."""

    host: str
    port: str
    dbname: str
    uses: tuple[RelationUse, ...]


@dataclass(frozen=True)
class Analysis:
    """``state``: PARSED (every statement read), DYNAMIC (read but for dynamic SQL, reported as not analysable) or
    UNPARSABLE (a parser rejected the body: nothing is known of it)."""

    state: str
    uses: tuple[RelationUse, ...] = ()
    remote: tuple[Remote, ...] = ()


_DBLINK_STATEMENT = {"dblink": 1, "dblink_exec": 1, "dblink_open": 2, "dblink_send_query": 1}  # its argument
_DBLINK_CONNECT = ("dblink_connect", "dblink_connect_u")


class _Body:
    """What one body names, as its statements are read in order (a dblink connection is named before it is used)."""

    def __init__(self) -> None:
        self.uses: set[RelationUse] = set()
        self.remote: dict[tuple[str, str, str], set[RelationUse]] = {}
        self.dynamic = False
        self.connections: dict[str, str] = {}  # dblink_connect's names -> connection strings

    def sql(self, text: str) -> None:
        for statement in parse(text):
            calls: list[dict] = []
            self.uses |= relations(statement, calls)
            for call in calls:
                self._dblink(call)

    def _dblink(self, call: dict) -> None:
        names = call.get("funcname") or ()
        name = node(names[-1])[1].get("sval", "") if names else ""
        args = list(call.get("args") or ())
        if name in _DBLINK_CONNECT:
            if len(args) == 2 and (conn_name := _string(args[0])) is not None and (target := _string(args[1])):
                self.connections[conn_name] = target
            return
        if name not in _DBLINK_STATEMENT:
            return
        at = _DBLINK_STATEMENT[name]
        if len(args) <= at:  # dblink('SELECT ...') on the unnamed connection: where it goes is not in the call
            self.dynamic = True
            return
        connection, statement = _string(args[0]), _string(args[at])
        target = self.connections.get(connection, connection) if connection is not None else None
        where = addresses.target(target) if target is not None else None
        if where is None or statement is None:
            self.dynamic = True
            return
        self.remote.setdefault(where, set()).update(relations_in(statement))

    def analysis(self) -> Analysis:
        remote = tuple(Remote(*where, _ordered(uses)) for where, uses in sorted(self.remote.items()))
        return Analysis(DYNAMIC if self.dynamic else PARSED, _ordered(self.uses), remote)


def _ordered(uses: set[RelationUse]) -> tuple[RelationUse, ...]:
    return tuple(sorted(uses, key=lambda use: (use.schema or "", use.name, use.access)))


def _string(value: object) -> str | None:
    """The value of a string constant (cast or not), else None."""
    kind, fields = node(value)
    while kind == "TypeCast":
        kind, fields = node(fields.get("arg"))
    if kind == "A_Const" and "sval" in fields:
        return fields["sval"].get("sval", "")
    return None


def analyse(language: str, body: str, signature: Signature | None = None) -> Analysis:
    """The relations a function's string body names, here and through dblink."""
    read = _Body()
    try:
        if language == "plpgsql":
            _plpgsql(body, signature or Signature(), read)
        else:
            read.sql(body)
    except (ParseError, RecursionError, ValueError):  # a message quoting the body goes no further
        return Analysis(UNPARSABLE)
    return read.analysis()


def definition(body: str, signature: Signature, unqualified_declarations: bool = True) -> str:
    """A CREATE statement PL/pgSQL's parser reads the body in. libpg_query's parser has no catalog to look types up
    in, and stops at any type qualified by a schema other than public: so every argument is ``text`` (its name and
    mode kept: the body may assign to it), and the result one of the kinds the parser treats apart (a trigger's
    NEW and OLD, a set's RETURN NEXT, a procedure's bare RETURN)."""
    modes = signature.argument_modes or ("i",) * len(signature.argument_names)
    arguments = []
    for index, mode in enumerate(modes):
        name = signature.argument_names[index] if index < len(signature.argument_names) else ""
        word = {"o": "OUT ", "b": "INOUT ", "t": "OUT "}.get(mode, "")  # VARIADIC: its array type is unknown
        arguments.append(f"{word}{_identifier(name) + ' ' if name else ''}text")
    outputs = sum(mode in "obt" for mode in modes)
    if signature.returns == "procedure":
        head, returns = "PROCEDURE", ""
    elif signature.returns in ("trigger", "event_trigger", "void") and not outputs:
        head, returns = "FUNCTION", f" RETURNS {signature.returns}"
    elif outputs:
        # one output is the result's type itself (text here), several a record
        head, returns = "FUNCTION", ""
        if signature.returns_set:
            returns = f" RETURNS SETOF {'text' if outputs == 1 else 'record'}"
    else:
        head, returns = "FUNCTION", " RETURNS SETOF text" if signature.returns_set else " RETURNS text"
    tag, n = "$seamline$", 0
    while tag in body:
        n += 1
        tag = f"$seamline{n}$"
    if unqualified_declarations:
        body = _unqualified_declarations(body)
    return f"CREATE {head} seamline_body({', '.join(arguments)}){returns} LANGUAGE plpgsql AS {tag}{body}{tag}"


def _unqualified_declarations(body: str) -> str:
    """The body with the schema taken off the types its DECLARE sections name (``v sales.status;`` becomes
    ``v status;``), for the same reason as the arguments': a type is no path to data. Found with PostgreSQL's
    scanner; ``%TYPE`` and ``%ROWTYPE`` references, which the parser reads without a catalog, are left whole."""
    try:
        tokens = scan(body)
    except ParseError:
        return body  # the parser will say so
    cuts: list[tuple[int, int]] = []
    declaring, start = False, 0
    for index, token in enumerate(tokens):
        if token.name == "DECLARE":
            declaring, start = True, index + 1
        elif declaring and token.name == "BEGIN_P":
            declaring = False
        elif declaring and token.name == "ASCII_59":  # ";": one declaration, tokens[start:index]
            cut = _type_schema(tokens[start:index], body)
            if cut:
                cuts.append(cut)
            start = index + 1
    for first, last in reversed(cuts):
        body = body[:first] + body[last + 1 :]
    return body


def _type_schema(declaration: list, body: str) -> tuple[int, int] | None:
    """Where ``schema.`` is in a declaration ``name [CONSTANT] schema.type ...``, or None."""
    at = 1
    if len(declaration) > at and body[declaration[at].start : declaration[at].end + 1].lower() == "constant":
        at += 1
    parts = declaration[at : at + 4]
    if (
        len(parts) >= 3
        and parts[0].kind != "RESERVED_KEYWORD"
        and parts[1].name == "ASCII_46"  # "."
        and parts[2].kind != "RESERVED_KEYWORD"
        and (len(parts) == 3 or parts[3].name not in ("ASCII_46", "ASCII_37"))  # not a.b.c, not a.b%TYPE
    ):
        return parts[0].start, parts[1].end
    return None


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _plpgsql(body: str, signature: Signature, read: _Body) -> None:
    try:  # most bodies declare no type of another schema: read as they are, without a scan for them first
        tree = json.loads(parse_plpgsql_json(definition(body, signature, unqualified_declarations=False)))
    except ParseError:
        tree = json.loads(parse_plpgsql_json(definition(body, signature)))
    for expression, is_dynamic in _expressions(tree):
        if is_dynamic:
            constant = _constant(expression["query"])
            if constant is None:
                read.dynamic = True
            else:
                read.sql(constant)
            continue
        mode = expression.get("parseMode", _STATEMENT)
        if mode == _STATEMENT:
            read.sql(expression["query"])
        elif mode == _EXPRESSION:
            read.sql(f"SELECT {expression['query']}")
        elif mode != _TYPE_NAME:  # an assignment: "target := expression" (or "="), the expression read
            read.sql(f"SELECT {_assigned(expression['query'])}")


def _expressions(node: Any, dynamic: bool = False) -> Iterator[tuple[dict, bool]]:
    """Every PL/pgSQL expression of the tree, and whether it is a string to run as dynamic SQL."""
    if isinstance(node, list):
        for item in node:
            yield from _expressions(item, dynamic)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "PLpgSQL_expr":
                yield value, dynamic
            elif key in _DYNAMIC_STATEMENTS:
                yield from _expressions({k: v for k, v in value.items() if k != "query"})
                yield from _expressions(value.get("query"), True)
            elif key == "dynquery":  # OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE
                yield from _expressions(value, True)
            else:
                yield from _expressions(value, dynamic)


def _constant(expression: str) -> str | None:
    """The string an EXECUTE runs when its expression is one constant (cast or not), else None (built at run time)."""
    (statement,) = parse(f"SELECT {expression}")
    targets = node(statement)[1].get("targetList") or ()
    return _string(node(targets[0])[1].get("val")) if len(targets) == 1 else None


def _assigned(assignment: str) -> str:
    """The expression of a PL/pgSQL assignment, after its first top-level ``:=`` or ``=`` (PostgreSQL's scanner)."""
    depth = 0
    for token in scan(assignment):
        if token.name in ("ASCII_40", "ASCII_91"):  # ( [
            depth += 1
        elif token.name in ("ASCII_41", "ASCII_93"):
            depth -= 1
        elif depth == 0 and token.name in ("COLON_EQUALS", "ASCII_61"):
            return assignment[token.end + 1 :]
    raise ValueError("not an assignment")
