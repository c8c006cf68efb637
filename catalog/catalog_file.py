"""The catalog file (YAML): parse and validate the whole file first, then apply it in one transaction.

Validation collects every problem with its path in the file (``services[2].owns[0]``) so a user fixes them all in one
go; nothing is written unless the whole file is valid. Applying a file twice changes nothing the second time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import Prefetch

from . import addresses
from .credentials import destinations, dsn_problem, password_env_problem, shown_dsn
from .models import Cluster, Contract, EventPublication, Ownership, Replica, Service, quote_name
from .ownership import assign_owners

CLUSTER_KEYS = {
    "name", "dsn", "password_env", "auth", "replicas", "databases", "sampling", "replication", "transactions",
    "aliases",
}  # fmt: skip
AUTH_VALUES = ("scram-sha-256", "any")
# cluster key "sampling": file key -> (Cluster field, smallest value)
SAMPLING_KEYS = {
    "interval": ("sample_interval", 1),
    "idle_in_transaction_seconds": ("idle_in_transaction_threshold", 0),
    "long_query_seconds": ("long_query_threshold", 0),
    "statements_interval": ("statements_interval", 10),
}
# cluster key "sampling", the one that is a name: the database whose pg_stat_statements is read ("": the DSN's)
STATEMENTS_DATABASE = "statements_database"
# cluster key "replication": the status thresholds; file key -> Cluster field (same name)
REPLICATION_KEYS = ("lag_warn_seconds", "lag_crit_seconds", "lag_warn_bytes", "lag_crit_bytes", "slot_crit_bytes")
# cluster key "transactions": the hazards' status thresholds (dashboard.hazards); file key -> Cluster field
TRANSACTION_KEYS = (
    "prepared_warn_seconds",
    "prepared_crit_seconds",
    "horizon_warn_seconds",
    "horizon_crit_seconds",
    "horizon_warn_xids",
    "horizon_crit_xids",
    "wraparound_warn_pct",
    "wraparound_crit_pct",
)
THRESHOLDS = {"replication": REPLICATION_KEYS, "transactions": TRANSACTION_KEYS}  # cluster key -> its keys
REPLICA_KEYS = {"name", "dsn"}
SERVICE_KEYS = {
    "name",
    "team",
    "description",
    "oncall",
    "repository_url",
    "application_names",
    "db_roles",
    "search_path",
    "owns",
    "consumes",
    "publishes",
    "subscribes",
    "pool",
}
PUBLISHES_KEYS = {"table", "topic"}
POOL_KEYS = {"size", "max_overflow", "instances"}
NAMEDATALEN = 63  # PostgreSQL truncates identifiers longer than this many bytes


class CatalogFileError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ApplyResult:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    # clusters whose stored password was removed: a node was added, or one's host, port, user or database changed
    passwords_cleared: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


# Limits that keep a hostile or mistaken file from costing minutes or memory before it is refused.
MAX_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 10_000  # clusters, services
MAX_PROBLEMS = 200  # reported; the count of the rest is given


def load(text: str) -> dict[str, Any]:
    """Parse and validate; raise CatalogFileError listing every problem."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise CatalogFileError([f"the file is {size / 1e6:.1f} MB: a catalog file may be {MAX_BYTES // 10**6} MB"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CatalogFileError([f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except RecursionError:
        raise CatalogFileError(["the file is nested too deeply to be a catalog file"]) from None
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CatalogFileError(["the file must be a mapping with 'clusters' and 'services'"])
    for key in ("clusters", "services"):
        # YAML aliases can make a short file name the same list a million times: count before walking
        if isinstance(data.get(key), list) and len(data[key]) > MAX_ENTRIES:
            raise CatalogFileError([f"{key}: {len(data[key])} entries, more than the {MAX_ENTRIES} a file may hold"])
    _unknown(data, {"clusters", "services"}, "", problems)
    clusters = _list(data, "clusters", "", problems)
    services = _list(data, "services", "", problems)

    cluster_names = set(Cluster.objects.values_list("name", flat=True))
    seen: Counter[str] = Counter()
    for i, c in enumerate(clusters):
        path = f"clusters[{i}]"
        if not _mapping(c, path, problems):
            continue
        _unknown(c, CLUSTER_KEYS, path, problems)
        name = _name(c, path, problems)
        if name:
            if "/" in name:
                problems.append(f"{path}.name: must not contain '/'")
            seen[name] += 1
            if seen[name] == 2:
                problems.append(f"{path}.name: duplicate cluster {name!r}")
            cluster_names.add(name)
        _dsn(c.get("dsn"), f"{path}.dsn", problems, required=True)
        _optional_str(c, "password_env", path, problems)
        if isinstance(c.get("password_env"), str) and (problem := password_env_problem(c["password_env"])):
            problems.append(f"{path}.password_env: {problem}")
        if c.get("auth") is not None and c.get("auth") not in AUTH_VALUES:
            problems.append(f"{path}.auth: one of {', '.join(AUTH_VALUES)}")
        sampling = c.get("sampling", {})
        if sampling is not None and not isinstance(sampling, dict):
            problems.append(f"{path}.sampling: must be a mapping with {', '.join(sorted(SAMPLING_KEYS))}")
        elif sampling:
            _unknown(sampling, {*SAMPLING_KEYS, STATEMENTS_DATABASE}, f"{path}.sampling", problems)
            database = sampling.get(STATEMENTS_DATABASE)
            if database is not None and (
                not isinstance(database, str) or len(database.encode()) > NAMEDATALEN or "\x00" in database
            ):
                problems.append(
                    f"{path}.sampling.{STATEMENTS_DATABASE}: must be a database name of at most {NAMEDATALEN} bytes, "
                    f"got {database!r}"
                )
            for key, (_, least) in SAMPLING_KEYS.items():
                v = sampling.get(key)
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < least or v > 86400):
                    problems.append(f"{path}.sampling.{key}: must be a whole number of seconds ≥ {least}, got {v!r}")
        for j, alias in enumerate(_list(c, "aliases", path, problems)):
            if addresses.parse_address(alias) is None:
                problems.append(f"{path}.aliases[{j}]: must be HOST:PORT (a port from 1 to 65535), got {alias!r}")
        for section, keys in THRESHOLDS.items():
            thresholds = c.get(section, {})
            if thresholds is not None and not isinstance(thresholds, dict):
                problems.append(f"{path}.{section}: must be a mapping with {', '.join(keys)}")
            elif thresholds:
                _unknown(thresholds, set(keys), f"{path}.{section}", problems)
                for key in keys:
                    v = thresholds.get(key)
                    most = 100 if key.endswith("_pct") else None
                    if v is not None and (
                        not isinstance(v, int) or isinstance(v, bool) or v < 0 or (most is not None and v > most)
                    ):
                        bound = f"between 0 and {most}" if most is not None else "≥ 0"
                        problems.append(f"{path}.{section}.{key}: must be a whole number {bound}, got {v!r}")
        for j, db in enumerate(_list(c, "databases", path, problems)):
            _identifier(db, f"{path}.databases[{j}]", problems)
        replica_seen: set[str] = set()
        for j, r in enumerate(_list(c, "replicas", path, problems)):
            rpath = f"{path}.replicas[{j}]"
            if not _mapping(r, rpath, problems):
                continue
            _unknown(r, REPLICA_KEYS, rpath, problems)
            rname = _name(r, rpath, problems)
            if rname in replica_seen:
                problems.append(f"{rpath}.name: duplicate replica {rname!r}")
            replica_seen.add(rname)
            _dsn(r.get("dsn"), f"{rpath}.dsn", problems, required=True)

    service_names = set(Service.objects.values_list("name", flat=True))
    file_services = {s.get("name") for s in services if isinstance(s, dict)}
    seen = Counter()
    owners: dict[tuple[str, str, str], str] = {}
    topics: dict[tuple[tuple[str, str, str, str], str], str] = {}
    for i, s in enumerate(services):
        path = f"services[{i}]"
        if not _mapping(s, path, problems):
            continue
        _unknown(s, SERVICE_KEYS, path, problems)
        name = _name(s, path, problems)
        if name:
            seen[name] += 1
            if seen[name] == 2:
                problems.append(f"{path}.name: duplicate service {name!r}")
        for key in ("team", "description", "oncall", "repository_url"):
            _optional_str(s, key, path, problems)
        if isinstance(s.get("repository_url"), str) and s["repository_url"] and not is_web_url(s["repository_url"]):
            problems.append(f"{path}.repository_url: must be an http:// or https:// URL")
        for key in ("application_names", "db_roles", "search_path"):
            for j, v in enumerate(_list(s, key, path, problems)):
                _identifier(v, f"{path}.{key}[{j}]", problems)
        for j, ref in enumerate(_list(s, "owns", path, problems)):
            rpath = f"{path}.owns[{j}]"
            parsed = parse_owns(ref)
            if parsed is None:
                problems.append(f"{rpath}: expected CLUSTER/DATABASE or CLUSTER/DATABASE/SCHEMA, got {ref!r}")
                continue
            cluster, database, schema = parsed
            if cluster not in cluster_names:
                problems.append(f"{rpath}: unknown cluster {cluster!r}")
            _identifier(database, rpath, problems)
            if schema:
                _identifier(schema, rpath, problems)
            other = owners.setdefault(parsed, name or "")
            if other != (name or ""):
                problems.append(f"{rpath}: {ref!r} is already owned by service {other!r}")
        for j, ref in enumerate(_list(s, "consumes", path, problems)):
            rpath = f"{path}.consumes[{j}]"
            if isinstance(ref, dict):
                _unknown(ref, {"service", "columns"}, rpath, problems)
                for k, column in enumerate(_list(ref, "columns", rpath, problems)):
                    parts = split_qualified(column, 3) if isinstance(column, str) else None
                    if parts is None:
                        problems.append(f"{rpath}.columns[{k}]: expected SCHEMA.TABLE.COLUMN, got {column!r}")
                    else:
                        for part in parts:
                            _identifier(part, f"{rpath}.columns[{k}]", problems)
                ref, rpath = ref.get("service"), f"{rpath}.service"
            if not isinstance(ref, str) or ref not in (service_names | file_services):
                problems.append(f"{rpath}: unknown service {ref!r}")
            elif ref == name:
                problems.append(f"{rpath}: a service cannot consume itself")
        for j, entry in enumerate(_list(s, "publishes", path, problems)):
            rpath = f"{path}.publishes[{j}]"
            if not _mapping(entry, rpath, problems):
                continue
            _unknown(entry, PUBLISHES_KEYS, rpath, problems)
            table = parse_table(entry.get("table"))
            if table is None:
                problems.append(
                    f"{rpath}.table: expected CLUSTER/DATABASE/SCHEMA.TABLE (quote a name holding a dot: "
                    f'"my.schema".outbox), got {entry.get("table")!r}'
                )
            else:
                if table[0] not in cluster_names:
                    problems.append(f"{rpath}.table: unknown cluster {table[0]!r}")
                for part in table[1:]:
                    _identifier(part, f"{rpath}.table", problems)
            _topic(entry.get("topic"), f"{rpath}.topic", problems)
            if table is not None and isinstance(entry.get("topic"), str):
                other = topics.setdefault((table, entry["topic"]), name or "")
                if other != (name or ""):
                    problems.append(
                        f"{rpath}: {entry['topic']!r} from {entry['table']!r} is already published by {other!r}"
                    )
        for j, entry in enumerate(_list(s, "subscribes", path, problems)):
            rpath = f"{path}.subscribes[{j}]"
            if _mapping(entry, rpath, problems):
                _unknown(entry, {"topic"}, rpath, problems)
                _topic(entry.get("topic"), f"{rpath}.topic", problems)
        pool = s.get("pool", {})
        if pool is not None and not isinstance(pool, dict):
            problems.append(f"{path}.pool: must be a mapping with size, max_overflow, instances")
        elif pool:
            _unknown(pool, POOL_KEYS, f"{path}.pool", problems)
            for key in POOL_KEYS:
                v = pool.get(key)
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                    problems.append(f"{path}.pool.{key}: must be a whole number ≥ 0, got {v!r}")
    if problems:
        if len(problems) > MAX_PROBLEMS:
            problems = [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS} more problems"]
        raise CatalogFileError(problems)
    return {"clusters": clusters, "services": services}


def parse_owns(ref: object) -> tuple[str, str, str] | None:
    if not isinstance(ref, str):
        return None
    parts = ref.split("/", 2)
    if len(parts) < 2 or not all(parts):
        return None
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def parse_table(ref: object) -> tuple[str, str, str, str] | None:
    """CLUSTER/DATABASE/SCHEMA.TABLE -> its four names; None when it is not that."""
    if not isinstance(ref, str):
        return None
    parts = ref.split("/", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    names = split_qualified(parts[2], 2)
    return (parts[0], parts[1], *names) if names else None


def split_qualified(text: str, count: int) -> tuple[str, ...] | None:
    """``SCHEMA.TABLE`` (count 2) or ``SCHEMA.TABLE.COLUMN`` (3) -> its names; a name holding a dot or a quote is
    double-quoted, a quote inside doubled, as in SQL (``"my.schema".outbox``); no case folding: names are
    written as the catalog shows them. None when the text is not exactly ``count`` non-empty names."""
    names, current, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"' and text[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                current.append(c)
        elif c == '"' and not current:
            quoted = True
        elif c == ".":
            names.append("".join(current))
            current = []
        elif c == '"':
            return None  # a quote in the middle of an unquoted name
        else:
            current.append(c)
        i += 1
    if quoted:
        return None
    names.append("".join(current))
    return tuple(names) if len(names) == count and all(names) else None


def _topic(value: object, path: str, problems: list[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: required, a non-empty string")
    elif len(value) > 200:
        problems.append(f"{path}: at most 200 characters")


@transaction.atomic
def apply(data: dict[str, Any]) -> ApplyResult:
    """Write a validated file. Nested lists (replicas, owns, consumes, publishes, subscribes) are replaced: the file
    is their truth."""
    result = ApplyResult()
    clusters = {}
    for c in data["clusters"]:
        before = Cluster.objects.filter(name=c["name"]).first()
        sent_to = destinations(before.node_dsns()) if before else frozenset()
        cluster = _upsert(
            result,
            Cluster,
            {"name": c["name"]},
            {
                "dsn": c["dsn"],
                "password_env": c.get("password_env") or "",
                "databases": list(c.get("databases") or []),
                "aliases": list(c.get("aliases") or []),
                "auth": c.get("auth") or AUTH_VALUES[0],
                **{
                    field: (c.get("sampling") or {}).get(key, Cluster._meta.get_field(field).default)
                    for key, (field, _) in SAMPLING_KEYS.items()
                },
                "statements_database": (c.get("sampling") or {}).get(STATEMENTS_DATABASE) or "",
                **{
                    key: (c.get(section) or {}).get(key, Cluster._meta.get_field(key).default)
                    for section, keys in THRESHOLDS.items()
                    for key in keys
                },
            },
        )
        clusters[cluster.name] = cluster
        keep = []
        for r in c.get("replicas") or []:
            keep.append(_upsert(result, Replica, {"cluster": cluster, "name": r["name"]}, {"dsn": r["dsn"]}).pk)
        _delete(result, Replica.objects.filter(cluster=cluster).exclude(pk__in=keep))
        if cluster.encrypted_password and destinations(cluster.node_dsns()) != sent_to:
            Cluster.objects.filter(pk=cluster.pk).update(encrypted_password="")
            result.passwords_cleared.append(cluster.name)

    services = {}
    for s in data["services"]:
        pool = s.get("pool") or {}
        services[s["name"]] = _upsert(
            result,
            Service,
            {"name": s["name"]},
            {
                "team": s.get("team") or "",
                "description": s.get("description") or "",
                "oncall": s.get("oncall") or "",
                "repository_url": s.get("repository_url") or "",
                "application_names": list(s.get("application_names") or []),
                "db_roles": list(s.get("db_roles") or []),
                "search_path": list(s.get("search_path") or []),
                "subscribes": sorted({e["topic"] for e in s.get("subscribes") or []}),
                "pool_size": pool.get("size") or 0,
                "max_overflow": pool.get("max_overflow") or 0,
                "instances": pool.get("instances", 1) if pool.get("instances") is not None else 1,
            },
        )
    # Ownerships move between services in the same file: free every claim first, then take them.
    for s in data["services"]:
        service = services[s["name"]]
        wanted = {parse_owns(ref) for ref in s.get("owns") or []}
        for o in Ownership.objects.filter(service=service).select_related("cluster"):
            if (o.cluster.name, o.database, o.schema) not in wanted:
                _delete(result, Ownership.objects.filter(pk=o.pk))
    for s in data["services"]:
        service = services[s["name"]]
        for ref in s.get("owns") or []:
            cluster_name, database, schema = parse_owns(ref)
            cluster = clusters.get(cluster_name) or Cluster.objects.get(name=cluster_name)
            _upsert(
                result, Ownership, {"cluster": cluster, "database": database, "schema": schema}, {"service": service}
            )
        providers = []
        for entry in s.get("consumes") or []:
            name, columns = (entry["service"], entry.get("columns") or []) if isinstance(entry, dict) else (entry, [])
            provider = services.get(name) or Service.objects.get(name=name)
            allowed = [list(split_qualified(c, 3)) for c in columns]
            providers.append(
                _upsert(result, Contract, {"consumer": service, "provider": provider}, {"columns": allowed}).pk
            )
        _delete(result, Contract.objects.filter(consumer=service).exclude(pk__in=providers))
    # event publications move between services like ownerships: free every one first, then take them
    wanted_events = {
        s["name"]: {(*parse_table(e["table"]), e["topic"]) for e in s.get("publishes") or []} for s in data["services"]
    }
    for s in data["services"]:
        for e in EventPublication.objects.filter(service=services[s["name"]]).select_related("cluster"):
            if (e.cluster.name, e.database, e.schema, e.table, e.topic) not in wanted_events[s["name"]]:
                _delete(result, EventPublication.objects.filter(pk=e.pk))
    for s in data["services"]:
        for cluster_name, database, schema, table, topic in sorted(wanted_events[s["name"]]):
            cluster = clusters.get(cluster_name) or Cluster.objects.get(name=cluster_name)
            _upsert(
                result,
                EventPublication,
                {"cluster": cluster, "database": database, "schema": schema, "table": table, "topic": topic},
                {"service": services[s["name"]]},
            )
    assign_owners()
    return result


def export() -> dict[str, Any]:
    """The whole catalog in the file's format (never a password: only the name of its environment variable)."""
    clusters = []
    for c in Cluster.objects.prefetch_related("replicas").order_by("name"):
        entry: dict[str, Any] = {"name": c.name, "dsn": shown_dsn(c.dsn)}
        if c.password_env:
            entry["password_env"] = c.password_env
        if c.replicas.all():
            entry["replicas"] = [{"name": r.name, "dsn": shown_dsn(r.dsn)} for r in c.replicas.all()]
        if c.databases:
            entry["databases"] = list(c.databases)
        if c.aliases:
            entry["aliases"] = list(c.aliases)
        if c.auth != AUTH_VALUES[0]:
            entry["auth"] = c.auth
        sampling = {
            key: getattr(c, field)
            for key, (field, _) in SAMPLING_KEYS.items()
            if getattr(c, field) != Cluster._meta.get_field(field).default
        }
        if c.statements_database:
            sampling[STATEMENTS_DATABASE] = c.statements_database
        if sampling:
            entry["sampling"] = sampling
        for section, keys in THRESHOLDS.items():
            thresholds = {
                key: getattr(c, key) for key in keys if getattr(c, key) != Cluster._meta.get_field(key).default
            }
            if thresholds:
                entry[section] = thresholds
        clusters.append(entry)
    services = []
    for s in Service.objects.prefetch_related(
        Prefetch("ownerships", queryset=Ownership.objects.select_related("cluster")),
        Prefetch("contracts_out", queryset=Contract.objects.select_related("provider")),
        Prefetch("event_publications", queryset=EventPublication.objects.select_related("cluster")),
    ).order_by("name"):
        entry = {"name": s.name}
        for key in ("team", "description", "oncall", "repository_url"):
            if getattr(s, key):
                entry[key] = getattr(s, key)
        for key in ("application_names", "db_roles"):
            entry[key] = list(getattr(s, key))
        if s.search_path:
            entry["search_path"] = list(s.search_path)
        entry["owns"] = sorted(o.path for o in s.ownerships.all())
        entry["consumes"] = [
            {"service": c.provider.name, "columns": [".".join(map(quote_name, col)) for col in c.columns]}
            if c.columns
            else c.provider.name
            for c in sorted(s.contracts_out.all(), key=lambda c: c.provider.name)
        ]
        publishes = [{"table": e.table_path, "topic": e.topic} for e in s.event_publications.all()]
        if publishes:
            entry["publishes"] = sorted(publishes, key=lambda e: (e["topic"], e["table"]))
        if s.subscribes:
            entry["subscribes"] = [{"topic": topic} for topic in s.subscribes]
        entry["pool"] = {"size": s.pool_size, "max_overflow": s.max_overflow, "instances": s.instances}
        services.append(entry)
    return {"clusters": clusters, "services": services}


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def _upsert(result: ApplyResult, model, lookup: dict, values: dict):
    # compare foreign keys by id, so an unchanged row costs no query to its related objects
    values = {
        (f"{k}_id" if isinstance(v, models.Model) else k): (v.pk if isinstance(v, models.Model) else v)
        for k, v in values.items()
    }
    obj = model.objects.filter(**lookup).first()
    label = str(model._meta.verbose_name_plural)
    if obj is None:
        obj = model.objects.create(**lookup, **values)
        result.created[label] += 1
        return obj
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    if changed:
        for k in changed:
            setattr(obj, k, values[k])
        obj.save(update_fields=changed)
        result.updated[label] += 1
    return obj


def _delete(result: ApplyResult, queryset) -> None:
    count = queryset.count()
    if count:
        queryset.delete()
        result.deleted[str(queryset.model._meta.verbose_name_plural)] += count


def _unknown(obj: dict, allowed: set[str], path: str, problems: list[str]) -> None:
    for key in obj:
        if key not in allowed:
            where = f"{path}." if path else ""
            problems.append(f"{where}{key}: unknown key (expected one of: {', '.join(sorted(allowed))})")


def _mapping(obj: object, path: str, problems: list[str]) -> bool:
    if not isinstance(obj, dict):
        problems.append(f"{path}: must be a mapping")
        return False
    return True


def _list(obj: dict, key: str, path: str, problems: list[str]) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{path + '.' if path else ''}{key}: must be a list")
        return []
    return value


def _name(obj: dict, path: str, problems: list[str]) -> str | None:
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{path}.name: required, a non-empty string")
        return None
    if len(name) > 100:
        problems.append(f"{path}.name: at most 100 characters")
    return name


def is_web_url(value: str) -> bool:
    """An http(s) URL: the only links a page makes of catalog data."""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


def _optional_str(obj: dict, key: str, path: str, problems: list[str]) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(f"{path}.{key}: must be a string")


def _identifier(value: object, path: str, problems: list[str]) -> None:
    if not isinstance(value, str) or not value:
        problems.append(f"{path}: must be a non-empty string")
    elif len(value.encode()) > NAMEDATALEN:
        problems.append(f"{path}: {value!r} is longer than PostgreSQL's {NAMEDATALEN}-byte identifier limit")


def _dsn(value: object, path: str, problems: list[str], *, required: bool) -> None:
    if value is None or value == "":
        if required:
            problems.append(f"{path}: required")
        return
    if not isinstance(value, str):
        problems.append(f"{path}: must be a string")
        return
    problem = dsn_problem(value)
    if problem:
        problems.append(f"{path}: {problem}")
