"""Loads the seed's demo onto the dev primary: roles, databases "shop", "payments" and "analytics" (a logical replica of
shop's orders), and the demo catalog.

Idempotent: a database loaded from the current SQL is left as it is (its data is the simulator's by then); one loaded
from an older version of the SQL is dropped and loaded again (the demo's data is synthetic, the catalog and logins live
elsewhere); a database whose load fails is dropped again, so the next run starts clean instead of finding half a demo.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import psycopg
from psycopg import sql

from catalog import catalog_file

HERE = Path(__file__).resolve().parent
DEMO_DATABASES = ("shop", "payments", "analytics")  # publishers before their subscribers
# A subscriber database, the databases it subscribes to, and the slots its subscriptions stream from: made in the
# publisher before the subscriber is loaded (CREATE SUBSCRIPTION on the publisher's own cluster cannot make its slot).
SUBSCRIBES_TO = {"analytics": ("shop",)}
SLOTS = {"analytics": (("shop", "analytics_orders"),)}


@dataclass
class LoadReport:
    created_databases: list[str]
    catalog_changed: bool


def connect(params: dict, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        **params, dbname=dbname, autocommit=True, connect_timeout=5, application_name="seamline-demo-loader"
    )


def load_demo(primary: dict, replica: dict) -> LoadReport:
    created = load_databases(primary)
    return LoadReport(created_databases=created, catalog_changed=load_catalog(primary, replica))


def load_databases(primary: dict) -> list[str]:
    """Create and fill the demo databases that do not exist yet; return their names."""
    created = []
    roles = (HERE / "sql" / "roles.sql").read_text()
    # a foreign server and a subscription name this server's port (the database SQL's only placeholder)
    texts = {
        name: (HERE / "sql" / f"{name}.sql").read_text().replace("{{primary_port}}", str(primary["port"]))
        for name in DEMO_DATABASES
    }
    markers = {}
    for name in DEMO_DATABASES:
        # a database is loaded again when its SQL changed, or that of a database it subscribes to
        needs = "".join(texts[n] for n in (*SUBSCRIBES_TO.get(name, ()), name))
        markers[name] = "seamline demo " + hashlib.sha256((roles + needs).encode()).hexdigest()[:16]
    with connect(primary, "postgres") as conn:
        conn.execute(roles)
        # the demo cluster's statement statistics are read through its DSN's database (the dev stack preloads it)
        with contextlib.suppress(psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported):
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        loaded = dict(
            conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = ANY(%s)",
                [list(DEMO_DATABASES)],
            ).fetchall()
        )
        stale = [name for name in DEMO_DATABASES if name in loaded and loaded[name] != markers[name]]
        for name in reversed(stale):  # subscribers before their publishers
            _drop_database(conn, primary, name)
        for name in DEMO_DATABASES:
            if name in loaded and name not in stale:
                continue
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                for publisher, slot in SLOTS.get(name, ()):
                    with connect(primary, publisher) as pub:
                        pub.execute(
                            "SELECT pg_create_logical_replication_slot(%s, 'pgoutput') "
                            "WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %s)",
                            [slot, slot],
                        )
                with connect(primary, name) as db, db.transaction():
                    db.execute(texts[name])
                    db.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), markers[name]))
            except Exception:
                _drop_database(conn, primary, name)
                raise
            created.append(name)
    return created


def drop_subscriptions(db: psycopg.Connection) -> None:
    """Drop the subscriptions of the connection's database (autocommit), leaving their slots to their publishers:
    a database holding a subscription cannot be dropped."""
    for (subscription,) in db.execute(
        "SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"
    ).fetchall():
        ident = sql.Identifier(subscription)
        db.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
        db.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(ident))
        db.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))


def _drop_database(conn: psycopg.Connection, primary: dict, name: str) -> None:
    """Drop a demo database, and first what would keep it: its subscriptions (their slots are the publisher's to
    drop) and the logical slots in it."""
    with contextlib.suppress(psycopg.OperationalError), connect(primary, name) as db:
        drop_subscriptions(db)
    for _attempt in range(50):  # a slot's WAL sender takes a moment to go once its subscriber is gone
        busy = conn.execute(
            "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots "
            "WHERE database = %s AND active_pid IS NOT NULL",
            [name],
        ).fetchone()[0]
        if not busy:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s", [name]
            )
            break
        time.sleep(0.1)
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_catalog(primary: dict, replica: dict) -> bool:
    """Apply the demo catalog, pointed at the given primary and replica; return whether anything changed."""
    text = Template((HERE / "catalog.yaml").read_text()).substitute(
        host=primary["host"], primary_port=primary["port"], replica_port=replica["port"]
    )
    return catalog_file.apply(catalog_file.load(text)).changed
