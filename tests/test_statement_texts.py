"""Statement texts (dashboard.statements.texts): masking, utility statements, relations, name resolution.

Plain functions over strings: no database. Expected values are exact, so a change in what is kept shows here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.statements.texts import Parsed, RelationUse, parse, resolve, search_path_of

ROOT = Path(__file__).resolve().parent.parent


def read(name: str, schema: str | None = None) -> RelationUse:
    return RelationUse(schema, name, "read")


def write(name: str, schema: str | None = None) -> RelationUse:
    return RelationUse(schema, name, "write")


# --- masking -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("SELECT 'plain' FROM t", "SELECT ? FROM t"),
        ("SELECT E'it''s', E'it\\'s' FROM t", "SELECT ?, ? FROM t"),
        ("SELECT B'1010', X'ff' FROM t", "SELECT ?, ? FROM t"),
        ("SELECT U&'d\\0061t' FROM t", "SELECT ? FROM t"),
        ("SELECT U&'d!0061t' UESCAPE '!' FROM t", "SELECT ? UESCAPE ? FROM t"),
        ("SELECT N'national' FROM t", "SELECT ? FROM t"),
        ("SELECT $$it's $1$$ FROM t", "SELECT ? FROM t"),
        ("SELECT $body$ a $$ b 'c' $body$ FROM t", "SELECT ? FROM t"),
        ("SELECT 'one'\n'continued' FROM t", "SELECT ? FROM t"),
        ("SELECT 1, 1.5, .5, 5., 1e10, 1.5e-3 FROM t", "SELECT ?, ?, ?, ?, ?, ? FROM t"),
        ("SELECT 1_000, 0x1F, 0o17, 0b101 FROM t", "SELECT ?, ?, ?, ? FROM t"),
        ("SELECT -1, 2::int FROM t", "SELECT -?, ?::int FROM t"),
    ],
)
def test_every_literal_form_is_masked(text, masked):
    result = parse(text)
    assert result.parsed and not result.utility
    assert result.masked == masked


def test_parameters_identifiers_and_comments_are_kept():
    text = "SELECT \"Name\" /* 'kept' */ FROM t WHERE a = $1 AND b = 'x' -- tail 'kept'\n  AND c IN ($2, $3)"
    assert parse(text).masked == (
        "SELECT \"Name\" /* 'kept' */ FROM t WHERE a = $1 AND b = ? -- tail 'kept'\n  AND c IN ($2, $3)"
    )


def test_unicode_text_and_identifiers():
    text = 'SELECT "Kundenübersicht".name FROM "Kundenübersicht" WHERE note = \'Grüße, 東京\' AND id = 7'
    result = parse(text)
    assert result.masked == 'SELECT "Kundenübersicht".name FROM "Kundenübersicht" WHERE note = ? AND id = ?'
    assert result.relations == (read("Kundenübersicht"),)


def test_multibyte_characters_before_a_literal_do_not_shift_the_mask():
    # 2-, 3- and 4-byte characters ahead of each literal: byte offsets used as str indices would cut elsewhere
    text = "SELECT 'ß€😀' || 'tail' AS \"größe😀\", 42 FROM t WHERE x = '€'"
    assert parse(text).masked == 'SELECT ? || ? AS "größe😀", ? FROM t WHERE x = ?'


def test_a_63_byte_identifier_is_kept_whole():
    name = "ä" * 31 + "x"  # 63 bytes in UTF-8, PostgreSQL's longest name
    assert len(name.encode()) == 63
    result = parse(f"SELECT 'v' FROM \"{name}\"")
    assert result.masked == f'SELECT ? FROM "{name}"'
    assert result.relations == (read(name),)


def test_a_longer_identifier_is_truncated_as_postgresql_does():
    result = parse(f'SELECT 1 FROM "{"ä" * 40}"')
    assert result.relations == (read("ä" * 31),)  # 62 bytes: a character is never cut in two


# --- utility statements --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ALTER ROLE app PASSWORD 'secret'", "ALTER ROLE"),
        ("ALTER USER app WITH PASSWORD 'secret' VALID UNTIL '2030-01-01'", "ALTER ROLE"),
        ("CREATE ROLE app LOGIN PASSWORD 'secret'", "CREATE ROLE"),
        ("CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'app', password 'secret')", "CREATE USER MAPPING"),
        ("ALTER USER MAPPING FOR app SERVER remote OPTIONS (SET password 'secret')", "ALTER USER MAPPING"),
        ("SET application_name = 'secret'", "SET"),
        ("SET LOCAL statement_timeout = 'secret'", "SET"),
        ("COPY orders FROM '/srv/secret.csv' WITH (FORMAT csv)", "COPY"),
        ("VACUUM (ANALYZE) orders", "VACUUM"),
        ("CREATE TABLE secret (id int DEFAULT 1)", "CREATE TABLE"),
        ("SELECT 1 AS secret INTO secret_copy FROM orders", "SELECT INTO"),
        ("CREATE TABLE secret_copy AS SELECT * FROM orders WHERE note = 'secret'", "CREATE TABLE AS"),
        ("SELECT 1 FROM t; ALTER ROLE app PASSWORD 'secret'", "SELECT"),  # any utility statement: nothing kept
    ],
)
def test_utility_statements_keep_nothing(text, command):
    result = parse(text)
    assert result == Parsed(command=command, utility=True, masked="", relations=(), parsed=True)
    assert "secret" not in repr(result)


def test_an_unparseable_utility_statement_keeps_nothing_either():
    result = parse("ALTER ROLE app PASSWORD 'secret' SOMETHING NEWER")
    assert result == Parsed(command="UNKNOWN", utility=True, masked="", relations=(), parsed=False)
    assert "secret" not in repr(result)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("SELECT 1", "SELECT"),
        ("VALUES (1), (2)", "SELECT"),
        ("TABLE orders", "SELECT"),
        ("SELECT * FROM jobs FOR UPDATE SKIP LOCKED", "SELECT"),
        ("INSERT INTO t VALUES ($1)", "INSERT"),
        ("UPDATE t SET a = $1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"),
        ("WITH x AS (DELETE FROM q RETURNING *) SELECT * FROM x", "SELECT"),
        ("RESET ALL", "RESET"),
        ("SHOW search_path", "SHOW"),
        ("BEGIN", "BEGIN"),
        ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "START TRANSACTION"),
        ("ROLLBACK TO SAVEPOINT s", "ROLLBACK"),
        ("ANALYZE orders", "ANALYZE"),
        ("GRANT SELECT ON orders TO app", "GRANT"),
        ("REVOKE app FROM other", "REVOKE"),
        ("CREATE INDEX ON orders (created)", "CREATE INDEX"),
        ("ALTER TABLE orders ADD COLUMN note text", "ALTER TABLE"),
        ("CREATE MATERIALIZED VIEW m AS SELECT 1", "CREATE MATERIALIZED VIEW"),
        ("DROP MATERIALIZED VIEW m", "DROP MATERIALIZED VIEW"),
        ("CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$", "CREATE PROCEDURE"),
        ("FETCH 100 FROM c", "FETCH"),
        ("CLOSE c", "CLOSE CURSOR"),
        ("DISCARD ALL", "DISCARD ALL"),
        ("DEALLOCATE ALL", "DEALLOCATE ALL"),
        ("CHECKPOINT", "CHECKPOINT"),
    ],
)
def test_command_tags(text, command):
    result = parse(text)
    assert result.command == command
    assert result.utility is (command not in {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})


def test_a_text_without_a_statement():
    assert parse("/* nothing */ ;") == Parsed(command="", utility=True, masked="", relations=(), parsed=True)


# --- relations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "relations"),
    [
        (
            'SELECT o.id FROM Sales.Orders o JOIN "Order Items" i ON i.order_id = o.id '
            "LEFT JOIN public.customers c ON c.id = o.customer_id WHERE o.total > $1",
            (read("Order Items"), read("customers", "public"), read("orders", "sales")),
        ),
        (
            "SELECT * FROM a WHERE id IN (SELECT a_id FROM b WHERE EXISTS (SELECT 1 FROM c.d))",
            (read("a"), read("b"), read("d", "c")),
        ),
        (
            "WITH recent AS (SELECT * FROM orders WHERE created > $1) "
            "SELECT * FROM recent JOIN customers USING (customer_id)",
            (read("customers"), read("orders")),
        ),
        ("WITH orders AS (SELECT 1) SELECT * FROM orders, app.orders", (read("orders", "app"),)),
        ("WITH t AS (SELECT * FROM t) SELECT * FROM t", (read("t"),)),  # without RECURSIVE, the body's t is the table
        ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT * FROM t", ()),
        ("SELECT * FROM x, (WITH x AS (SELECT 1) SELECT * FROM x) s", (read("x"),)),  # the CTE's scope is inside
        ("SELECT * FROM jobs j WHERE state = $1 FOR UPDATE OF j SKIP LOCKED", (read("jobs"),)),
        ("SELECT nextval($1), * FROM generate_series($2, $3) g, LATERAL unnest(g.a) u", ()),
        (
            "INSERT INTO archive.orders SELECT * FROM orders WHERE created < $1",
            (read("orders"), write("orders", "archive")),
        ),
        ("INSERT INTO events SELECT * FROM events WHERE id = $1", (read("events"), write("events"))),
        (
            "UPDATE orders o SET status = $1 FROM customers c WHERE c.id = o.customer_id AND c.blocked",
            (read("customers"), write("orders")),
        ),
        ("DELETE FROM orders o USING customers c WHERE c.id = o.customer_id", (read("customers"), write("orders"))),
        (
            "MERGE INTO stock s USING incoming i ON s.sku = i.sku "
            "WHEN MATCHED THEN UPDATE SET n = s.n + i.n WHEN NOT MATCHED THEN INSERT VALUES (i.sku, i.n)",
            (read("incoming"), write("stock")),
        ),
        (
            "WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO done SELECT * FROM moved",
            (write("done"), write("queue")),
        ),
        ("WITH t AS (SELECT 1) INSERT INTO t SELECT * FROM t", (write("t"),)),  # a target is never a CTE
    ],
)
def test_relations(text, relations):
    result = parse(text)
    assert result.parsed and not result.utility
    assert result.relations == relations


def test_two_statements_add_up():
    result = parse("SELECT * FROM a WHERE x = 'v'; UPDATE b SET y = 2 WHERE id = $1")
    assert result == Parsed(
        command="SELECT",
        utility=False,
        masked="SELECT * FROM a WHERE x = ?; UPDATE b SET y = ? WHERE id = $1",
        relations=(read("a"), write("b")),
        parsed=True,
    )


# --- texts the parser rejects ------------------------------------------------------------------------------------


def test_a_truncated_text_is_masked_to_its_end():
    result = parse("SELECT * FROM users WHERE name = 'abc")
    assert result == Parsed(
        command="SELECT", utility=False, masked="SELECT * FROM users WHERE name = ?", relations=(), parsed=False
    )
    assert "abc" not in repr(result)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("SELECT 'ok', $q$ secret", "SELECT ?, ?"),  # cut inside a dollar quote
        ("SELECT 'ok' /* secret", "SELECT ? ?"),  # cut inside a comment
        ("SELECT E'\\uZZZZ secret', 1", "SELECT ?"),  # the scanner stops inside the literal: back to its start
        ("SELECT 1 FROM t WHERE note = 'a' QUALIFY x = 'secret'", "SELECT ? FROM t WHERE note = ? QUALIFY x = ?"),
        ("WITH w AS (SELECT 1) UPDATE t SET note = 'secret", "WITH w AS (SELECT ?) UPDATE t SET note = ?"),
    ],
)
def test_unparseable_dml_is_still_masked(text, masked):
    result = parse(text)
    assert (result.parsed, result.utility, result.relations) == (False, False, ())
    assert result.masked == masked
    assert "secret" not in repr(result)


def test_a_text_that_is_not_sql_keeps_nothing():
    assert parse("<insufficient privilege>") == Parsed("UNKNOWN", utility=True, masked="", relations=(), parsed=False)


# --- resolution ----------------------------------------------------------------------------------------------------

TABLES = {("order_svc", "orders"), ("public", "orders"), ("public", "customers"), ("pg_catalog", "pg_class")}


def exists(schema: str, name: str) -> bool:
    return (schema, name) in TABLES


def test_resolve_takes_the_first_schema_of_the_search_path():
    path = ["order_svc", "public"]
    assert resolve(read("orders"), path, exists) == ("order_svc", "orders")
    assert resolve(read("orders"), ["public", "order_svc"], exists) == ("public", "orders")
    assert resolve(read("customers"), path, exists) == ("public", "customers")


def test_resolve_a_qualified_name():
    assert resolve(write("orders", "public"), ["order_svc"], exists) == ("public", "orders")
    assert resolve(read("orders", "billing"), ["public"], exists) is None


def test_resolve_finds_nothing():
    assert resolve(read("invoices"), ["order_svc", "public"], exists) is None
    assert resolve(read("orders"), [], exists) is None


def test_resolve_searches_pg_catalog_first_unless_the_path_lists_it():
    assert resolve(read("pg_class"), ["public"], exists) == ("pg_catalog", "pg_class")
    tables = TABLES | {("public", "pg_class")}
    assert resolve(read("pg_class"), ["public", "pg_catalog"], lambda s, n: (s, n) in tables) == ("public", "pg_class")


# --- search_path ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "schemas"),
    [
        ('"$user", public', ["order_svc", "public"]),
        ('app, "My Schema", Billing', ["app", "My Schema", "billing"]),
        ('"Ünïcode ""quoted""", "UPPER"', ['Ünïcode "quoted"', "UPPER"]),
        ("public", ["public"]),
        ("", []),
        ("  ", []),
    ],
)
def test_search_path_of(setting, schemas):
    assert search_path_of(setting, "order_svc") == schemas


@pytest.mark.parametrize("setting", ["public; DROP TABLE orders", "1", "DEFAULT"])
def test_search_path_of_refuses_what_is_not_a_list_of_names(setting):
    with pytest.raises(ValueError, match="not a search_path"):
        search_path_of(setting, "order_svc")


def test_the_module_needs_neither_django_settings_nor_models():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = "import sys, dashboard.statements.texts; print(sorted(m for m in sys.modules if m.startswith('django')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
