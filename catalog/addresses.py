"""Which catalogued cluster a server address names: a foreign server's (postgres_fdw) host, port and database, matched
against the host and port of every node's DSN and the cluster's ``aliases`` (the names other servers reach it by).

Addresses are compared as written, host names lower-cased, a missing port as 5432 (libpq's and the server's
default), host lists (``host=a,b``) by each of their hosts. A loopback address (``localhost``, 127.0.0.0/8, ``::1``,
a Unix socket directory, or no host at all) in a foreign server is the server that holds the foreign table, seen
from itself: it stands for that cluster's own hosts on the port given. Where several clusters answer to an address,
the one whose synced databases include the database named wins, then the foreign table's own cluster; if that still
leaves more than one, the address is ambiguous and resolves to none (listed as outside the catalog, never guessed).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field

from psycopg import conninfo

DEFAULT_PORT = 5432
RESOLVED_WRAPPERS = ("postgres_fdw",)  # the wrappers whose server options name a PostgreSQL


def is_loopback(host: str) -> bool:
    if not host or host == "localhost" or host.startswith("/") or host.startswith("@"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoints(host: str, port: str) -> list[tuple[str, int]]:
    """(host, port) pairs of libpq's ``host`` and ``port`` values (comma lists; one port for every host; empty:
    the default). An unreadable port gives no pair."""
    hosts = [h.strip().lower() for h in host.split(",")] if host else [""]
    ports = [p.strip() for p in port.split(",")] if port else [""]
    if len(ports) == 1:
        ports = ports * len(hosts)
    pairs = []
    for h, p in zip(hosts, ports, strict=False):
        if p and not (p.isascii() and p.isdigit()):
            continue
        pairs.append((h, int(p) if p else DEFAULT_PORT))
    return pairs


def parse_address(value: object) -> tuple[str, int] | None:
    """("host", port) of "HOST:PORT" (an IPv6 host in brackets: "[::1]:5432"), host lower-cased; None if not one."""
    if not isinstance(value, str) or ":" not in value or "\x00" in value:
        return None
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]").strip().lower()
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536 or len(host) > 253:
        return None
    return host, int(port)


def target(connection: str) -> tuple[str, str, str] | None:
    """(host, port, dbname) of a libpq connection string (key/value or URI), nothing else of it (it may carry a
    password); None if it is not one."""
    try:
        params = conninfo.conninfo_to_dict(connection)
    except Exception:  # noqa: BLE001 - psycopg raises ProgrammingError; anything unreadable is "not one"
        return None
    if not params:
        return None
    host = str(params.get("host") or params.get("hostaddr") or "")
    return host, str(params.get("port") or ""), str(params.get("dbname") or "")


def label(host: str, port: str) -> str:
    """HOST:PORT as a foreign server names it, for a path whose server is outside the catalog."""
    return ",".join(f"{h or 'localhost'}:{p}" for h, p in endpoints(host, port)) or host


@dataclass
class AddressBook:
    clusters: dict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    hosts: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # each cluster's nodes' hosts
    names: dict[int, str] = field(default_factory=dict)
    databases: set[tuple[int, str]] = field(default_factory=set)  # (cluster, database) synced

    def add(self, cluster: int, name: str, dsns: list[str], aliases: list[str]) -> None:
        """A cluster, by its nodes' DSNs and its aliases (HOST:PORT)."""
        self.names[cluster] = name
        nodes = [target(dsn) for dsn in dsns]
        found = [pair for node in nodes if node for pair in endpoints(node[0], node[1])]
        found += [pair for alias in aliases if (pair := parse_address(alias))]
        for host, port in found:
            self.clusters[(host, port)].add(cluster)
            self.hosts[cluster].add(host)

    def resolve(self, own: int, wrapper: str, host: str, port: str, dbname: str) -> int | None:
        """The cluster a foreign server of cluster ``own`` names, or None (not a PostgreSQL wrapper, no database
        named, no catalogued cluster at that address, or more than one)."""
        if wrapper not in RESOLVED_WRAPPERS or not dbname:
            return None
        found: set[int] = set()
        for h, p in endpoints(host, port):
            for candidate in self.hosts[own] if is_loopback(h) else (h,):
                found |= self.clusters.get((candidate, p), set())
        with_database = {c for c in found if (c, dbname) in self.databases}
        found = with_database or found
        if len(found) > 1 and own in found:
            found = {own}
        return next(iter(found)) if len(found) == 1 else None
