"""Loads the seed's demo onto the dev primary: roles, databases "shop" and "payments", and the demo catalog.

Idempotent: a database loaded from the current SQL is left as it is (its data is the simulator's by then); one loaded
from an older version of the SQL is dropped and loaded again (the demo's data is synthetic, the catalog and logins live
elsewhere); a database whose load fails is dropped again, so the next run starts clean instead of finding half a demo.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from string import Template

import psycopg
from psycopg import sql

from catalog import catalog_file

HERE = Path(__file__).resolve().parent
DEMO_DATABASES = ("shop", "payments")


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
        for name in DEMO_DATABASES:
            # a foreign server names this server's port (the database SQL's only placeholder)
            text = (HERE / "sql" / f"{name}.sql").read_text().replace("{{primary_port}}", str(primary["port"]))
            marker = "seamline demo " + hashlib.sha256((roles + text).encode()).hexdigest()[:16]
            if name in loaded:
                if loaded[name] == marker:
                    continue
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                with connect(primary, name) as db, db.transaction():
                    db.execute(text)
                    db.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), marker))
            except Exception:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                raise
            created.append(name)
    return created


def load_catalog(primary: dict, replica: dict) -> bool:
    """Apply the demo catalog, pointed at the given primary and replica; return whether anything changed."""
    text = Template((HERE / "catalog.yaml").read_text()).substitute(
        host=primary["host"], primary_port=primary["port"], replica_port=replica["port"]
    )
    return catalog_file.apply(catalog_file.load(text)).changed
