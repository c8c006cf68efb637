"""What the catalog readers report, as SQL fragments every statement of theirs starts from: user namespaces, objects
that no extension installed, the relation kinds listed, and kind codes named as the catalog names them."""

from __future__ import annotations

# relkind -> Relation.kind
RELKINDS = {"r": "table", "p": "partitioned", "v": "view", "m": "matview", "f": "foreign"}
FUNCTION_KINDS = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}

# The namespaces whose contents we report: everything but PostgreSQL's own schemas, temporary schemas and schemas an
# extension created as one of its members. Every statement starts from this CTE, and applies the extension filters
# below to both ends of every edge (view -> source, foreign key, function -> relation), so that an edge never names
# an object the catalog itself leaves out (a view over pg_stat_statements, a function reading pg_class).
# A regular expression rather than LIKE: "_" is a LIKE wildcard, and "%" would need escaping for the driver.
USER_NAMESPACES = """
    user_namespace AS (
        SELECT n.oid, n.nspname, n.nspowner
        FROM pg_namespace n
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname !~ '^pg_(toast_)?temp_'
          AND NOT EXISTS (
              SELECT FROM pg_depend e
              WHERE e.classid = 'pg_namespace'::regclass AND e.objid = n.oid AND e.deptype = 'e'
          )
    )"""

# Objects an extension installed (pg_stat_statements' views, pg_trgm's functions, ...). An anti-join: the planner runs
# it as a hash join or a probe of pg_depend's (classid, objid) index, linear in either case.
_NOT_EXTENSION_MEMBER = """NOT EXISTS (
              SELECT FROM pg_depend e
              WHERE e.classid = '{catalog}'::regclass AND e.objid = {alias}.oid AND e.deptype = 'e'
          )"""


def not_extension_relation(alias: str) -> str:
    return _NOT_EXTENSION_MEMBER.format(catalog="pg_class", alias=alias)


def not_extension_function(alias: str) -> str:
    return _NOT_EXTENSION_MEMBER.format(catalog="pg_proc", alias=alias)


# The relation kinds the catalog lists (keys of RELKINDS): tables, partitioned tables, views, matviews, foreign
# tables. Indexes, sequences, TOAST tables and composite types are left out.
RELKINDS_SQL = "(" + ", ".join(f"'{code}'" for code in RELKINDS) + ")"


def kind_name(column: str, kinds: dict[str, str]) -> str:
    """SQL naming a "char" kind code as the catalog does (the statements give names, so their rows load as they are)."""
    return f"CASE {column} " + " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in kinds.items()) + " END"
