"""Which service owns which schema: derived from the declared Ownership rows, stored on Schema.service.

A schema-level claim wins over a whole-database claim; a whole-database claim covers every schema but ``public``,
which is never owned implicitly.
"""

from __future__ import annotations

from .models import Ownership, Schema
from .versioning import bump


def owner_lookup(cluster_ids: list[int] | None = None) -> dict[tuple[int, str, str], int]:
    """(cluster id, database, schema or "") -> service id."""
    claims = Ownership.objects.all()
    if cluster_ids is not None:
        claims = claims.filter(cluster_id__in=cluster_ids)
    return {(o.cluster_id, o.database, o.schema): o.service_id for o in claims}


def owner_of(claims: dict[tuple[int, str, str], int], cluster_id: int, database: str, schema: str) -> int | None:
    exact = claims.get((cluster_id, database, schema))
    if exact is not None or schema == "public":
        return exact
    return claims.get((cluster_id, database, ""))


def assign_owners(cluster_ids: list[int] | None = None) -> int:
    """Bring Schema.service in line with the declarations; return how many schemas changed owner."""
    claims = owner_lookup(cluster_ids)
    schemas = Schema.objects.select_related("database").only(
        "id", "name", "service_id", "database__cluster_id", "database__name"
    )
    if cluster_ids is not None:
        schemas = schemas.filter(database__cluster_id__in=cluster_ids)
    changed = []
    for schema in schemas:
        service_id = owner_of(claims, schema.database.cluster_id, schema.database.name, schema.name)
        if schema.service_id != service_id:
            schema.service_id = service_id
            changed.append(schema)
    Schema.objects.bulk_update(changed, ["service"], batch_size=1000)
    if changed:
        bump()
    return len(changed)
