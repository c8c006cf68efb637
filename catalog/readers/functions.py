"""Functions, procedures, aggregates and window functions, and the relations PostgreSQL records them depending on."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .scope import (
    FUNCTION_KINDS,
    RELKINDS_SQL,
    USER_NAMESPACES,
    kind_name,
    not_extension_function,
    not_extension_relation,
)
from .statement import Statement


@dataclass(frozen=True)
class FunctionRow:
    schema: str
    name: str
    identity_arguments: str  # pg_get_function_identity_arguments, e.g. "p_order_id bigint"
    kind: str  # "function" | "procedure" | "aggregate" | "window"
    owner: str
    language: str
    security_definer: bool
    search_path: str | None  # the value of a "search_path=..." entry in proconfig, None when not set
    comment: str


FUNCTIONS = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT
    n.nspname AS schema,
    p.proname AS name,
    pg_get_function_identity_arguments(p.oid) AS identity_arguments,
    {kind_name("p.prokind", FUNCTION_KINDS)} AS kind,
    pg_get_userbyid(p.proowner) AS owner,
    l.lanname AS language,
    p.prosecdef AS security_definer,
    -- proconfig holds "name=value" strings from SET clauses; the value is kept as PostgreSQL normalised it: a list
    -- of identifiers, quoted where needed ('a, pg_temp', '"My Schema", pg_temp').
    (SELECT substr(cfg, length('search_path=') + 1)
       FROM unnest(p.proconfig) AS cfg
      WHERE starts_with(cfg, 'search_path=')
      LIMIT 1) AS search_path,
    coalesce(d.description, '') AS comment
FROM pg_proc p
JOIN user_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0
WHERE {not_extension_function("p")}
-- name columns sort bytewise (collation "C"); text ones are made to as well, whatever the database's locale.
ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) COLLATE "C"
""",
    FunctionRow,
)


def functions(conn: psycopg.Connection) -> list[FunctionRow]:
    """Functions, procedures, aggregates and window functions, by schema, name and identity arguments."""
    return FUNCTIONS.fetch(conn)


@dataclass(frozen=True)
class FunctionDependency:
    """A function depends on a relation where PostgreSQL records it (SQL-standard bodies, argument/return types)."""

    schema: str
    name: str
    identity_arguments: str
    source_schema: str
    source_name: str


FUNCTION_DEPENDENCIES = Statement(
    f"""
WITH {USER_NAMESPACES},
-- What PostgreSQL records for a function: the relations (and their columns) a SQL-standard body (BEGIN ATOMIC /
-- RETURN) reads, and the types of its arguments and result. A table's row type (also an array of it) used there
-- is a dependency on pg_type, mapped back to the table through typrelid. Bodies given as strings (plpgsql, or
-- LANGUAGE sql AS '...') are not analysed by PostgreSQL, so nothing is recorded for them.
refs AS (
    SELECT dep.objid AS proc, dep.refobjid AS rel
    FROM pg_depend dep
    WHERE dep.classid = 'pg_proc'::regclass AND dep.refclassid = 'pg_class'::regclass
    UNION
    SELECT dep.objid, coalesce(nullif(t.typrelid, 0), elem.typrelid)
    FROM pg_depend dep
    JOIN pg_type t ON t.oid = dep.refobjid
    LEFT JOIN pg_type elem ON elem.oid = t.typelem AND t.typcategory = 'A'
    WHERE dep.classid = 'pg_proc'::regclass AND dep.refclassid = 'pg_type'::regclass
)
SELECT pn.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS identity_arguments,
       rn.nspname AS source_schema, r.relname AS source_name
FROM refs
JOIN pg_proc p ON p.oid = refs.proc
JOIN user_namespace pn ON pn.oid = p.pronamespace
JOIN pg_class r ON r.oid = refs.rel
JOIN user_namespace rn ON rn.oid = r.relnamespace
WHERE r.relkind IN {RELKINDS_SQL}
  AND {not_extension_function("p")}
  AND {not_extension_relation("r")}
ORDER BY pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid) COLLATE "C", rn.nspname, r.relname
""",
    FunctionDependency,
)


def function_dependencies(conn: psycopg.Connection) -> list[FunctionDependency]:
    """Function -> relation edges PostgreSQL records (see FUNCTION_DEPENDENCIES), each pair once."""
    return FUNCTION_DEPENDENCIES.fetch(conn)


@dataclass(frozen=True)
class FunctionBody:
    """A function whose body PostgreSQL keeps as a string and records nothing of (PL/pgSQL, or LANGUAGE sql
    AS '...'): what catalog.bodies reads. ``key`` changes when the body, the signature, the language or the
    function's settings (its search_path) change, so a body is parsed again only then; ``source`` is never stored
    (a body may hold a connection string with its password). The signature is what PL/pgSQL's parser needs of it:
    argument names and modes (i, o, b, v, t as pg_proc has them; empty: all IN), and what it returns ("trigger",
    "event_trigger", "void" or "value"; "procedure" for a procedure) and whether a set."""

    schema: str
    name: str
    identity_arguments: str
    language: str
    key: str
    source: str
    argument_names: tuple[str, ...]
    argument_modes: tuple[str, ...]
    returns: str
    returns_set: bool


FUNCTION_BODIES = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS identity_arguments,
       l.lanname AS language,
       md5(concat_ws(E'\n', l.lanname, p.proargnames::text, p.proargmodes::text, p.prorettype::regtype::text,
                     p.proretset::text, p.proconfig::text, p.prosrc)) AS key,
       p.prosrc AS source,
       coalesce(p.proargnames, ARRAY[]::text[]) AS argument_names,
       coalesce(p.proargmodes::text[], ARRAY[]::text[]) AS argument_modes,
       CASE WHEN p.prokind = 'p' THEN 'procedure'
            WHEN p.prorettype = 'trigger'::regtype THEN 'trigger'
            WHEN p.prorettype = 'event_trigger'::regtype THEN 'event_trigger'
            WHEN p.prorettype = 'void'::regtype THEN 'void'
            ELSE 'value' END AS returns,
       p.proretset AS returns_set
FROM pg_proc p
JOIN user_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname IN ('plpgsql', 'sql') AND p.prosqlbody IS NULL AND p.prokind IN ('f', 'p')
  AND {not_extension_function("p")}
ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) COLLATE "C"
""",
    FunctionBody,
)
