"""The catalog's readers: every statement the ownership side sends to a monitored cluster, and nothing else.

One module per concern (the server and its databases, catalog objects, functions, dependencies, grants), each
function one statement over an open connection (``catalog.monitored.connect``: read-only, with timeouts) returning
plain dataclasses. Identifiers come back raw (never quoted), exactly as PostgreSQL stores them. System schemas
(pg_catalog, information_schema, pg_toast, pg_temp_*) and objects that belong to extensions are left out.

Each statement is a ``Statement``: its SQL and the dataclass of its rows, defined once, so that ``catalog.sync``
stages exactly the columns the tests of tests/readers/ read.

The SQL stays ASCII, comments included: psycopg encodes a query in the connection's client encoding, which for a
database created as LATIN1 or SQL_ASCII cannot represent other characters.
"""
