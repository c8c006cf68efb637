"""Catalog SQL: what one database really contains, read in a small constant number of queries whatever its size.

Each function is one SQL statement over an open psycopg connection and returns plain dataclasses; identifiers are
returned raw (never quoted), exactly as PostgreSQL stores them. The caller opens the connection read-only with
timeouts (``catalog.monitored.connect``). System schemas (pg_catalog, information_schema, pg_toast, pg_temp_*) and
objects that belong to extensions are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

# relkind -> Relation.kind
RELKINDS = {"r": "table", "p": "partitioned", "v": "view", "m": "matview", "f": "foreign"}

# The SQL below stays ASCII, comments included: psycopg encodes a query in the connection's client encoding, which
# for a database created as LATIN1 or SQL_ASCII cannot represent other characters.


@dataclass(frozen=True)
class ClusterSettings:
    server_version: str  # e.g. "15.18"
    server_version_num: int  # e.g. 150018
    max_connections: int
    superuser_reserved_connections: int
    in_recovery: bool
    current_user: str
    current_user_is_superuser: bool


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    owner: str
    size_bytes: int


@dataclass(frozen=True)
class SchemaRow:
    name: str
    owner: str
    comment: str  # "" when none


@dataclass(frozen=True)
class RelationRow:
    schema: str
    name: str
    kind: str  # one of RELKINDS' values
    owner: str
    estimated_rows: int | None  # None when never analysed (reltuples < 0) or not a table-like relation
    size_bytes: int  # estimated from relpages (heap + TOAST + indexes); 0 for views and partitioned parents
    has_primary_key: bool
    columns: tuple[str, ...]  # live (not dropped) user columns in attnum order
    comment: str


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


@dataclass(frozen=True)
class RelationRef:
    schema: str
    name: str


@dataclass(frozen=True)
class FunctionRef:
    schema: str
    name: str
    identity_arguments: str


@dataclass(frozen=True)
class ViewDependency:
    """A view or matview reads a relation directly (its rewrite rule depends on it). Self-references are excluded."""

    view: RelationRef
    source: RelationRef


@dataclass(frozen=True)
class ForeignKey:
    name: str  # constraint name
    table: RelationRef  # the referencing table
    references: RelationRef  # the referenced table
    columns: tuple[str, ...]
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class Privilege:
    """Privileges granted on a relation to a role other than its owner (from aclexplode over relacl)."""

    relation: RelationRef
    grantee: str  # role name; "PUBLIC" for grants to public
    privileges: tuple[str, ...]  # sorted, e.g. ("INSERT", "SELECT")


@dataclass(frozen=True)
class FunctionDependency:
    """A function depends on a relation where PostgreSQL records it (SQL-standard bodies, argument/return types)."""

    function: FunctionRef
    source: RelationRef


@dataclass
class DatabaseCatalog:
    database: DatabaseInfo
    schemas: list[SchemaRow] = field(default_factory=list)
    relations: list[RelationRow] = field(default_factory=list)
    functions: list[FunctionRow] = field(default_factory=list)
    view_dependencies: list[ViewDependency] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    privileges: list[Privilege] = field(default_factory=list)
    function_dependencies: list[FunctionDependency] = field(default_factory=list)


# The namespaces whose contents we report: everything but PostgreSQL's own schemas, temporary schemas and schemas an
# extension created as one of its members. Every query starts from this CTE, and applies the extension filters below
# to both ends of every edge (view -> source, foreign key, function -> relation), so that an edge never names an
# object the catalog itself leaves out (a view over pg_stat_statements, a function reading pg_class).
# A regular expression rather than LIKE: "_" is a LIKE wildcard, and "%" would need escaping for the driver.
_USER_NAMESPACES = """
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
_NOT_EXTENSION_RELATION = """NOT EXISTS (
              SELECT FROM pg_depend e
              WHERE e.classid = 'pg_class'::regclass AND e.objid = {alias}.oid AND e.deptype = 'e'
          )"""

_NOT_EXTENSION_FUNCTION = """NOT EXISTS (
              SELECT FROM pg_depend e
              WHERE e.classid = 'pg_proc'::regclass AND e.objid = {alias}.oid AND e.deptype = 'e'
          )"""

# The relation kinds the catalog lists (keys of RELKINDS): tables, partitioned tables, views, matviews, foreign
# tables. Indexes, sequences, TOAST tables and composite types are left out.
_RELKINDS_SQL = "('r', 'p', 'v', 'm', 'f')"

FUNCTION_KINDS = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}


def _kind_name(column: str, kinds: dict[str, str]) -> str:
    """SQL naming a "char" kind code as the catalog does (the statements give names, so their rows load as they are)."""
    return f"CASE {column} " + " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in kinds.items()) + " END"


CLUSTER_SETTINGS_SQL = """
SELECT
    -- server_version may carry the packager's suffix ("15.18 (Debian 15.18-0+deb12u1)"): keep the first word.
    split_part(current_setting('server_version'), ' ', 1),
    current_setting('server_version_num')::int,
    current_setting('max_connections')::int,
    current_setting('superuser_reserved_connections')::int,
    pg_is_in_recovery(),
    current_user,
    -- pg_roles rather than pg_authid: the monitoring role is usually not a superuser and cannot read pg_authid.
    coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false)
"""


def cluster_settings(conn: psycopg.Connection) -> ClusterSettings:
    """The server's version, connection limits, role and whether it is a standby. Works on a replica too."""
    row = conn.execute(CLUSTER_SETTINGS_SQL).fetchone()
    return ClusterSettings(*row)


LIST_DATABASES_SQL = """
SELECT d.datname
FROM pg_database d
WHERE NOT d.datistemplate
  AND d.datallowconn
  -- datconnlimit -2 marks a database left invalid by an interrupted DROP DATABASE (15.4, 14.9 and later): it
  -- refuses connections, and all that can be done with it is to drop it.
  AND d.datconnlimit <> -2
ORDER BY d.datname
"""


def list_databases(conn: psycopg.Connection) -> list[str]:
    """Every database that accepts connections and is not a template, sorted by name."""
    return [name for (name,) in conn.execute(LIST_DATABASES_SQL)]


# The size from the page counts VACUUM and ANALYZE keep, like the relations' sizes: pg_database_size would stat every
# file of the database, which costs more than everything else here on a database of many tables.
DATABASE_INFO_SQL = """
SELECT d.datname, pg_get_userbyid(d.datdba),
       ((SELECT coalesce(sum(relpages::bigint), 0) FROM pg_class) * current_setting('block_size')::bigint)::bigint
FROM pg_database d
WHERE d.datname = current_database()
"""


# Changes whenever anything the statements below read could have changed: a row inserted, updated or deleted in
# these catalogs changes its count or the sum of xmins; VACUUM and ANALYZE update pg_class in place (xmin unchanged),
# so page and tuple counts are summed too; a renamed role changes the owners' names. A few sequential scans of the
# catalogs, far cheaper than reading them, so an unchanged database costs one short statement. The xmins are
# grouped first (hashing an xid is cheaper than printing it): each distinct one is converted once, not once a row.
_XMIN_DIGEST = """(SELECT coalesce(sum(n), 0) || ':' || coalesce(sum(x::text::bigint * n), 0)
       FROM (SELECT xmin AS x, count(*) AS n FROM {table} GROUP BY xmin) g)"""

FINGERPRINT_SQL = f"""
SELECT md5(concat_ws('|',
    {_XMIN_DIGEST.format(table="pg_namespace")},
    (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) || ':' || coalesce(sum(relpages::bigint), 0)
            || ':' || coalesce(sum(reltuples), 0) FROM pg_class),
    {_XMIN_DIGEST.format(table="pg_attribute")},
    {_XMIN_DIGEST.format(table="pg_proc")},
    {_XMIN_DIGEST.format(table="pg_constraint")},
    {_XMIN_DIGEST.format(table="pg_depend")},
    {_XMIN_DIGEST.format(table="pg_rewrite")},
    {_XMIN_DIGEST.format(table="pg_description")},
    {_XMIN_DIGEST.format(table="pg_extension")},
    (SELECT md5(string_agg(oid::text || '=' || rolname, ',' ORDER BY oid)) FROM pg_roles)
))
"""


def catalog_fingerprint(conn: psycopg.Connection) -> str:
    """A digest of the connection's database catalog: equal digests mean read_database would return the same."""
    return conn.execute(FINGERPRINT_SQL).fetchone()[0]


def database_info(conn: psycopg.Connection) -> DatabaseInfo:
    return DatabaseInfo(*conn.execute(DATABASE_INFO_SQL).fetchone())


SCHEMAS_SQL = f"""
WITH {_USER_NAMESPACES}
SELECT n.nspname, pg_get_userbyid(n.nspowner), coalesce(d.description, '')
FROM user_namespace n
-- A join rather than obj_description(): that function looks the catalog up again for every row.
LEFT JOIN pg_description d
       ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
ORDER BY n.nspname
"""


def schemas(conn: psycopg.Connection) -> list[SchemaRow]:
    return [SchemaRow(*row) for row in conn.execute(SCHEMAS_SQL)]


RELATIONS_SQL = f"""
WITH {_USER_NAMESPACES}
SELECT
    n.nspname,
    c.relname,
    {_kind_name("c.relkind", RELKINDS)},
    pg_get_userbyid(c.relowner),
    -- reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14+; 0 before): "unknown", not "empty".
    CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0 THEN c.reltuples::bigint END,
    -- Size from the page counts VACUUM and ANALYZE keep (heap + TOAST + indexes), not pg_total_relation_size: that
    -- one locks each table in turn and would wait behind (and fail on) any ACCESS EXCLUSIVE lock a live database
    -- holds. Views, foreign tables and partitioned parents have no storage of their own.
    CASE WHEN c.relkind IN ('r', 'm')
         THEN (c.relpages::bigint + coalesce(t.relpages, 0) + coalesce(ix.pages, 0))
              * current_setting('block_size')::bigint
         ELSE 0 END,
    EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),
    -- Per relation, an index range scan of pg_attribute (attrelid, attnum): already in column order, linear overall.
    -- ARRAY(subquery) rather than array_agg in a lateral join: no aggregate to run per relation, an eighth faster.
    ARRAY(SELECT a.attname FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum),
    coalesce(d.description, '')
FROM pg_class c
JOIN user_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
LEFT JOIN (
    SELECT i.indrelid, sum(ic.relpages)::bigint AS pages
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    GROUP BY i.indrelid
) ix ON ix.indrelid = c.oid
WHERE c.relkind IN {_RELKINDS_SQL}
  AND {_NOT_EXTENSION_RELATION.format(alias="c")}
ORDER BY n.nspname, c.relname
"""


def relations(conn: psycopg.Connection) -> list[RelationRow]:
    """Tables (partitions included), partitioned tables, views, matviews and foreign tables, by schema and name.

    Reads the catalogs only and takes no lock on any table, so a table locked for VACUUM FULL, TRUNCATE or ALTER
    TABLE neither delays nor fails it. Sizes are therefore estimates, as fresh as the last VACUUM or ANALYZE.
    """
    return [
        RelationRow(
            schema=schema,
            name=name,
            kind=kind,
            owner=owner,
            estimated_rows=estimated_rows,
            size_bytes=size_bytes,
            has_primary_key=has_primary_key,
            columns=tuple(columns),
            comment=comment,
        )
        for schema, name, kind, owner, estimated_rows, size_bytes, has_primary_key, columns, comment in conn.execute(
            RELATIONS_SQL
        )
    ]


FUNCTIONS_SQL = f"""
WITH {_USER_NAMESPACES}
SELECT
    n.nspname,
    p.proname,
    pg_get_function_identity_arguments(p.oid),
    {_kind_name("p.prokind", FUNCTION_KINDS)},
    pg_get_userbyid(p.proowner),
    l.lanname,
    p.prosecdef,
    -- proconfig holds "name=value" strings from SET clauses; the value is kept as PostgreSQL normalised it: a list
    -- of identifiers, quoted where needed ('a, pg_temp', '"My Schema", pg_temp').
    (SELECT substr(cfg, length('search_path=') + 1)
       FROM unnest(p.proconfig) AS cfg
      WHERE starts_with(cfg, 'search_path=')
      LIMIT 1),
    coalesce(d.description, '')
FROM pg_proc p
JOIN user_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0
WHERE {_NOT_EXTENSION_FUNCTION.format(alias="p")}
-- name columns sort bytewise (collation "C"); text ones are made to as well, whatever the database's locale.
ORDER BY n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) COLLATE "C"
"""


def functions(conn: psycopg.Connection) -> list[FunctionRow]:
    """Functions, procedures, aggregates and window functions, by schema, name and identity arguments."""
    return [
        FunctionRow(
            schema=schema,
            name=name,
            identity_arguments=arguments,
            kind=kind,
            owner=owner,
            language=language,
            security_definer=security_definer,
            search_path=search_path,
            comment=comment,
        )
        for schema, name, arguments, kind, owner, language, security_definer, search_path, comment in conn.execute(
            FUNCTIONS_SQL
        )
    ]


VIEW_DEPENDENCIES_SQL = f"""
WITH {_USER_NAMESPACES}
-- A view's query lives in its _RETURN rule; the rule records one pg_depend row per relation *and per column* it
-- reads (hence DISTINCT), plus an internal dependency on the view itself (excluded).
SELECT DISTINCT vn.nspname, v.relname, sn.nspname, s.relname
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class
JOIN user_namespace vn ON vn.oid = v.relnamespace
JOIN pg_depend dep
  ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
 AND dep.refclassid = 'pg_class'::regclass AND dep.refobjid <> r.ev_class
JOIN pg_class s ON s.oid = dep.refobjid
JOIN user_namespace sn ON sn.oid = s.relnamespace
WHERE v.relkind IN ('v', 'm')
  AND s.relkind IN {_RELKINDS_SQL}
  AND {_NOT_EXTENSION_RELATION.format(alias="v")}
  AND {_NOT_EXTENSION_RELATION.format(alias="s")}
ORDER BY 1, 2, 3, 4
"""


def view_dependencies(conn: psycopg.Connection) -> list[ViewDependency]:
    """Direct edges only: a view over a view over a table gives two edges, not three."""
    return [
        ViewDependency(view=RelationRef(vs, vname), source=RelationRef(ss, sname))
        for vs, vname, ss, sname in conn.execute(VIEW_DEPENDENCIES_SQL)
    ]


FOREIGN_KEYS_SQL = f"""
WITH {_USER_NAMESPACES}
SELECT k.conname, tn.nspname, t.relname, rn.nspname, r.relname, cols.columns, cols.referenced_columns
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN user_namespace tn ON tn.oid = t.relnamespace
JOIN pg_class r ON r.oid = k.confrelid
JOIN user_namespace rn ON rn.oid = r.relnamespace
-- conkey and confkey are parallel arrays in key order (not column order): unnest them together.
CROSS JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY u.ord) AS columns, array_agg(ra.attname ORDER BY u.ord) AS referenced_columns
    FROM unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(attnum, refattnum, ord)
    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
    JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.refattnum
) cols
WHERE k.contype = 'f'
  -- A foreign key on (or to) a partitioned table is cloned, under the same name, onto every partition involved;
  -- the clones point at their parent constraint. Only the constraints users declared are reported.
  AND k.conparentid = 0
  AND {_NOT_EXTENSION_RELATION.format(alias="t")}
  AND {_NOT_EXTENSION_RELATION.format(alias="r")}
ORDER BY tn.nspname, t.relname, k.conname
"""


def foreign_keys(conn: psycopg.Connection) -> list[ForeignKey]:
    """Declared foreign keys, columns in key order; the per-partition clones of a partitioned one are left out."""
    return [
        ForeignKey(
            name=name,
            table=RelationRef(ts, tname),
            references=RelationRef(rs, rname),
            columns=tuple(columns),
            referenced_columns=tuple(referenced_columns),
        )
        for name, ts, tname, rs, rname, columns, referenced_columns in conn.execute(FOREIGN_KEYS_SQL)
    ]


PRIVILEGES_SQL = f"""
WITH {_USER_NAMESPACES}
SELECT
    n.nspname,
    c.relname,
    -- grantee 0 is PUBLIC. (A role may really be named "PUBLIC", quoted; it would read the same.)
    -- The same privilege can be granted by several grantors (WITH GRANT OPTION): DISTINCT merges them.
    CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END AS grantee_name,
    array_agg(DISTINCT acl.privilege_type COLLATE "C" ORDER BY acl.privilege_type COLLATE "C")
FROM pg_class c
JOIN user_namespace n ON n.oid = c.relnamespace
-- A NULL relacl means the default (owner-only) privileges: aclexplode(NULL) yields no rows, as wanted.
CROSS JOIN LATERAL aclexplode(c.relacl) AS acl
WHERE c.relkind IN {_RELKINDS_SQL}
  AND acl.grantee <> c.relowner
  AND {_NOT_EXTENSION_RELATION.format(alias="c")}
GROUP BY n.nspname, c.relname, acl.grantee
-- name columns sort bytewise (collation "C"); the text column is made to as well, whatever the database's locale.
ORDER BY n.nspname, c.relname, CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END COLLATE "C"
"""


def privileges(conn: psycopg.Connection) -> list[Privilege]:
    """Table-level grants to roles other than the owner (column-level grants in attacl are not read)."""
    return [
        Privilege(relation=RelationRef(schema, name), grantee=grantee, privileges=tuple(privs))
        for schema, name, grantee, privs in conn.execute(PRIVILEGES_SQL)
    ]


FUNCTION_DEPENDENCIES_SQL = f"""
WITH {_USER_NAMESPACES},
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
SELECT pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid), rn.nspname, r.relname
FROM refs
JOIN pg_proc p ON p.oid = refs.proc
JOIN user_namespace pn ON pn.oid = p.pronamespace
JOIN pg_class r ON r.oid = refs.rel
JOIN user_namespace rn ON rn.oid = r.relnamespace
WHERE r.relkind IN {_RELKINDS_SQL}
  AND {_NOT_EXTENSION_FUNCTION.format(alias="p")}
  AND {_NOT_EXTENSION_RELATION.format(alias="r")}
ORDER BY pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid) COLLATE "C", rn.nspname, r.relname
"""


def function_dependencies(conn: psycopg.Connection) -> list[FunctionDependency]:
    """Function -> relation edges PostgreSQL records (see FUNCTION_DEPENDENCIES_SQL), each pair once."""
    return [
        FunctionDependency(function=FunctionRef(fs, fname, arguments), source=RelationRef(rs, rname))
        for fs, fname, arguments, rs, rname in conn.execute(FUNCTION_DEPENDENCIES_SQL)
    ]


def read_database(conn: psycopg.Connection) -> DatabaseCatalog:
    """Everything above for the connection's database: a constant number of statements, whatever its size.

    The catalog as Python objects, for tests and tools. ``catalog.sync`` streams the same statements straight into
    Seamline's database instead (see STAGES there).
    """
    return DatabaseCatalog(
        database=database_info(conn),
        schemas=schemas(conn),
        relations=relations(conn),
        functions=functions(conn),
        view_dependencies=view_dependencies(conn),
        foreign_keys=foreign_keys(conn),
        privileges=privileges(conn),
        function_dependencies=function_dependencies(conn),
    )
