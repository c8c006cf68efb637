"""What Seamline keeps of a statement's text, and which relations the statement uses.

pg_stat_statements replaces the constants of DML with ``$1``, ``$2``... but keeps those of utility statements, so
``ALTER ROLE x PASSWORD '...'`` or a user mapping's options arrive in clear. Hence two rules: a utility statement's
text is never kept (not even masked), and every literal of a kept text is masked as ``?``, whatever the text says.
Everything comes from PostgreSQL's own scanner and parser (pglast): a text the parser rejects (truncated, another
version's syntax) is still masked by the scanner, and a text the scanner rejects too keeps only what precedes the
point where it gave up, that point and everything after it being masked as one ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError, Token, scan

from catalog import sql
from catalog.sql import RelationUse, resolve, search_path_of

__all__ = ["Parsed", "RelationUse", "parse", "resolve", "search_path_of"]

MASK = "?"
_LITERALS = frozenset({"SCONST", "BCONST", "XCONST", "USCONST", "ICONST", "FCONST"})  # E'' and $$ are SCONST
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})
_GUESSES = {"SELECT": "SELECT", "VALUES": "SELECT", "TABLE": "SELECT"} | {word: word for word in _DML}
# command tags that are not simply the node's name spelt out (PostgreSQL's CreateCommandTag, utility.c)
_TAGS = {
    "CreateStmt": "CREATE TABLE", "IndexStmt": "CREATE INDEX", "ViewStmt": "CREATE VIEW",
    "CreateSeqStmt": "CREATE SEQUENCE", "AlterSeqStmt": "ALTER SEQUENCE", "CreateTrigStmt": "CREATE TRIGGER",
    "RuleStmt": "CREATE RULE", "CreatedbStmt": "CREATE DATABASE", "DropdbStmt": "DROP DATABASE",
    "AlterDatabaseSetStmt": "ALTER DATABASE", "AlterRoleSetStmt": "ALTER ROLE", "VariableShowStmt": "SHOW",
    "ConstraintsSetStmt": "SET CONSTRAINTS", "CheckPointStmt": "CHECKPOINT", "TruncateStmt": "TRUNCATE TABLE",
    "LockStmt": "LOCK TABLE", "DeclareCursorStmt": "DECLARE CURSOR", "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
    "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER", "AlterFdwStmt": "ALTER FOREIGN DATA WRAPPER",
    "CreateForeignServerStmt": "CREATE SERVER", "AlterForeignServerStmt": "ALTER SERVER",
    "CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateStatsStmt": "CREATE STATISTICS", "CreateAmStmt": "CREATE ACCESS METHOD",
    "CreatePLangStmt": "CREATE LANGUAGE",
    "CreateEventTrigStmt": "CREATE EVENT TRIGGER", "CompositeTypeStmt": "CREATE TYPE", "CreateEnumStmt": "CREATE TYPE",
    "CreateRangeStmt": "CREATE TYPE", "AlterEnumStmt": "ALTER TYPE", "SecLabelStmt": "SECURITY LABEL",
    "ReassignOwnedStmt": "REASSIGN OWNED", "CreateOpClassStmt": "CREATE OPERATOR CLASS",
    "CreateOpFamilyStmt": "CREATE OPERATOR FAMILY", "AlterOpFamilyStmt": "ALTER OPERATOR FAMILY",
}  # fmt: skip
# object types whose words in a tag differ from their ObjectType name (AlterObjectTypeCommandTag, utility.c)
_OBJECTS = {
    "MATVIEW": "MATERIALIZED VIEW", "FDW": "FOREIGN DATA WRAPPER", "FOREIGN_SERVER": "SERVER",
    "OPCLASS": "OPERATOR CLASS", "OPFAMILY": "OPERATOR FAMILY", "STATISTIC_EXT": "STATISTICS",
    "TSPARSER": "TEXT SEARCH PARSER", "TSDICTIONARY": "TEXT SEARCH DICTIONARY", "TSTEMPLATE": "TEXT SEARCH TEMPLATE",
    "TSCONFIGURATION": "TEXT SEARCH CONFIGURATION", "LARGEOBJECT": "LARGE OBJECT",
    "COLUMN": "TABLE", "TABCONSTRAINT": "TABLE", "ATTRIBUTE": "TYPE", "DOMCONSTRAINT": "DOMAIN",
}  # fmt: skip
_TRANSACTIONS = {"START": "START TRANSACTION", "ROLLBACK_TO": "ROLLBACK", "PREPARE": "PREPARE TRANSACTION"}


@dataclass(frozen=True)
class Parsed:
    """What Seamline may keep of one pg_stat_statements text.

    ``command`` is the first statement's command tag (for WITH ..., the main statement's). ``utility`` is true when
    any statement of the text is not DML: then ``masked`` is empty and ``relations`` too, as such a text may carry a
    secret. ``parsed`` is false when the parser rejected the text: ``relations`` is then empty, and ``command`` comes
    from the scanner's keywords (``"UNKNOWN"`` for anything but DML, which is then treated as utility).
    """

    command: str
    utility: bool
    masked: str
    relations: tuple[RelationUse, ...]
    parsed: bool


def parse(text: str) -> Parsed:
    """The command, the masked text and the relations of a statement text from pg_stat_statements."""
    try:
        statements = [raw.stmt for raw in parse_sql(text)]
    except (ParseError, RecursionError):  # the error's message quotes the text: it goes no further
        return _unparsed(text)
    if not statements:  # only comments, or nothing
        return Parsed(command="", utility=True, masked="", relations=(), parsed=True)
    commands = [_command(statement) for statement in statements]
    if any(command not in _DML for command in commands):
        return Parsed(command=commands[0], utility=True, masked="", relations=(), parsed=True)
    uses = sql.relations_in(text)
    named = tuple(sorted(uses, key=lambda use: (use.schema or "", use.name, use.access)))
    return Parsed(command=commands[0], utility=False, masked=_masked(text), relations=named, parsed=True)


def _masked(text: str) -> str:
    """``text`` with every literal replaced by ``?``; what lies between tokens (spaces, comments) is kept as it is.

    pglast's tokens carry str indices (it converts libpg_query's byte offsets), the end one inclusive.
    """
    scanned = _scan(text)
    if scanned is None:
        return ""
    tokens, end = scanned
    out, position, previous = [], 0, None
    for token in tokens:
        if token.name in _LITERALS:
            start = token.start
            if previous is not None and previous.name == "NCHAR" and previous.end + 1 == start:
                start = previous.start  # N'...' scans as the keyword NCHAR then the string
            out += [text[position:start], MASK]
            position = token.end + 1
        previous = token
    out.append(text[position:end])
    if end < len(text):
        out.append(MASK)  # what the scanner gave up on: an unterminated literal (or comment, or name) to the end
    return "".join(out)


def _scan(text: str) -> tuple[list[Token], int] | None:
    """The tokens of ``text``, or of its longest prefix the scanner accepts, with the prefix's length.

    A prefix ends where the scanner reported its error, so it cannot end inside a literal that it would then take
    for something else. None when the scanner gives no position.
    """
    end = len(text)
    while True:
        try:
            return scan(text[:end]), end
        except ParseError as error:
            location = error.args[1] if len(error.args) > 1 else None
            if location is None or location >= end:
                return None
            end = location


def _unparsed(text: str) -> Parsed:
    """A text the parser rejected: its statements are told apart by the scanner's semicolons, DML by its keyword."""
    scanned = _scan(text)
    tokens = scanned[0] if scanned else []
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.name == "ASCII_59":
            statements.append([])
        elif token.name not in _COMMENTS:
            statements[-1].append(token)
    commands = [_guess(statement, text) for statement in statements if statement] or ["UNKNOWN"]
    utility = any(command not in _DML for command in commands)
    return Parsed(commands[0], utility, "" if utility else _masked(text), relations=(), parsed=False)


def _guess(tokens: list[Token], text: str) -> str:
    """The DML command a statement's first keyword names (past WITH's list, its main statement's), else UNKNOWN."""
    depth, with_depth = 0, None
    for token in tokens:
        depth += {"ASCII_40": 1, "ASCII_41": -1}.get(token.name, 0)
        word = text[token.start : token.end + 1].upper() if token.kind != "NO_KEYWORD" else None
        if with_depth is None and word == "WITH":
            with_depth = depth
        elif with_depth is None and token.name not in {"ASCII_40", "ASCII_41"}:
            return _GUESSES.get(word or "", "UNKNOWN")
        elif with_depth is not None and depth == with_depth and word in _GUESSES:
            return _GUESSES[word]
    return "UNKNOWN"


def _command(statement: ast.Node) -> str:
    """The command tag PostgreSQL gives a raw statement; rare utility statements get their node's name spelt out."""
    match statement:
        case ast.SelectStmt():
            while statement.larg is not None:  # INTO belongs to a set operation's leftmost SELECT
                statement = statement.larg
            return "SELECT INTO" if statement.intoClause else "SELECT"
        case ast.InsertStmt() | ast.UpdateStmt() | ast.DeleteStmt() | ast.MergeStmt():
            return type(statement).__name__.removesuffix("Stmt").upper()
        case ast.VariableSetStmt(kind=kind):
            return "RESET" if kind.name.startswith("VAR_RESET") else "SET"
        case ast.VacuumStmt(is_vacuumcmd=vacuum):
            return "VACUUM" if vacuum else "ANALYZE"
        case ast.TransactionStmt(kind=kind):
            name = kind.name.removeprefix("TRANS_STMT_")
            return _TRANSACTIONS.get(name, name.replace("_", " "))
        case ast.GrantStmt(is_grant=grant) | ast.GrantRoleStmt(is_grant=grant):
            return "GRANT" if grant else "REVOKE"
        case ast.CreateTableAsStmt(is_select_into=True):
            return "SELECT INTO"
        case ast.CreateTableAsStmt(objtype=objtype):
            return "CREATE TABLE AS" if objtype.name == "OBJECT_TABLE" else f"CREATE {_object(objtype)}"
        case ast.CreateFunctionStmt(is_procedure=procedure):
            return "CREATE PROCEDURE" if procedure else "CREATE FUNCTION"
        case ast.DropStmt(removeType=objtype):
            return f"DROP {_object(objtype)}"
        case ast.DefineStmt(kind=objtype):
            return f"CREATE {_object(objtype)}"
        case ast.AlterTableStmt(objtype=objtype) | ast.AlterFunctionStmt(objtype=objtype):
            return f"ALTER {_object(objtype)}"
        case ast.RenameStmt(renameType=objtype) | ast.AlterOwnerStmt(objectType=objtype):
            return f"ALTER {_object(objtype)}"
        case ast.AlterObjectSchemaStmt(objectType=objtype):
            return f"ALTER {_object(objtype)}"
        case ast.DiscardStmt(target=target):
            return "DISCARD " + target.name.removeprefix("DISCARD_")
        case ast.DeallocateStmt(isall=every):
            return "DEALLOCATE ALL" if every else "DEALLOCATE"
        case ast.ClosePortalStmt(portalname=name):
            return "CLOSE CURSOR" if name else "CLOSE CURSOR ALL"
        case ast.FetchStmt(ismove=move):
            return "MOVE" if move else "FETCH"
    name = type(statement).__name__
    spelt = "".join(f" {char}" if char.isupper() and index else char for index, char in enumerate(name[:-4]))
    return _TAGS.get(name, spelt.upper())


def _object(objtype: object) -> str:
    """The words of an ObjectType in a command tag: OBJECT_MATVIEW is "MATERIALIZED VIEW"."""
    name = getattr(objtype, "name", "").removeprefix("OBJECT_")
    return _OBJECTS.get(name, name.replace("_", " "))
