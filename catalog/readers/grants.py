"""Grants: table-level privileges held on a relation by roles other than its owner."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .scope import RELKINDS_SQL, USER_NAMESPACES, not_extension_relation
from .statement import Statement


@dataclass(frozen=True)
class Privilege:
    """Privileges granted on a relation to a role other than its owner (from aclexplode over relacl)."""

    schema: str
    name: str
    grantee: str  # role name; "PUBLIC" for grants to public
    privileges: tuple[str, ...]  # sorted, e.g. ("INSERT", "SELECT")


PRIVILEGES = Statement(
    f"""
WITH {USER_NAMESPACES}
SELECT
    n.nspname AS schema,
    c.relname AS name,
    -- grantee 0 is PUBLIC. (A role may really be named "PUBLIC", quoted; it would read the same.)
    -- The same privilege can be granted by several grantors (WITH GRANT OPTION): DISTINCT merges them.
    CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END AS grantee,
    array_agg(DISTINCT acl.privilege_type COLLATE "C" ORDER BY acl.privilege_type COLLATE "C") AS privileges
FROM pg_class c
JOIN user_namespace n ON n.oid = c.relnamespace
-- A NULL relacl means the default (owner-only) privileges: aclexplode(NULL) yields no rows, as wanted.
CROSS JOIN LATERAL aclexplode(c.relacl) AS acl
WHERE c.relkind IN {RELKINDS_SQL}
  AND acl.grantee <> c.relowner
  AND {not_extension_relation("c")}
GROUP BY n.nspname, c.relname, acl.grantee
-- name columns sort bytewise (collation "C"); the text column is made to as well, whatever the database's locale.
ORDER BY n.nspname, c.relname, CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END COLLATE "C"
""",
    Privilege,
)


def privileges(conn: psycopg.Connection) -> list[Privilege]:
    """Table-level grants to roles other than the owner (column-level grants in attacl are not read)."""
    return PRIVILEGES.fetch(conn)
