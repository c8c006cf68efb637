"""catalog/readers/functions.py on the real stack: functions of every kind, and what PostgreSQL records them
reading."""

from __future__ import annotations

from catalog.readers import functions
from catalog.readers.functions import FunctionDependency, FunctionRow
from tests.hostile import FUNNY_FN, OWNER, QUOTED, UNICODE, Q, U


def test_it_lists_functions_of_every_kind_with_security_definer_and_search_path(hostile_conn):
    def fn(schema, name, args, kind="function", language="sql", definer=False, path=None, comment="", owner="postgres"):
        return FunctionRow(schema, name, args, kind, owner, language, definer, path, comment)

    assert functions.functions(hostile_conn) == [
        fn(
            QUOTED,
            "definer_with_path",
            "p_order_id bigint",
            language="plpgsql",
            definer=True,
            path=f"{U}, pg_temp",
            owner=OWNER,
        ),
        fn(QUOTED, "definer_without_path", "", definer=True),
        fn("public", "count_orders", f'orders {Q}."Orders"[]'),
        fn("public", "do_nothing", "", kind="procedure", language="plpgsql"),
        fn("public", "first_order", "", language="plpgsql"),
        fn("public", FUNNY_FN, '"Count" integer, label text'),
        fn("public", FUNNY_FN, "text", comment='<script>alert("fn")</script> it\'s'),
        fn("public", "invoker_with_path", "", path="a, pg_temp"),
        fn("public", "my_row_number", "", kind="window", language="internal"),
        fn("public", "my_sum", "integer", kind="aggregate", language="internal"),
        fn("public", "next_ticket", ""),
        fn("public", "order_note", "o_id bigint"),
        fn("public", "pair_sum", "p pair"),
        fn("public", "statement_count", ""),
        fn(UNICODE, "customer_count", ""),
    ]


def test_it_lists_the_relations_functions_read_or_take_as_row_types(hostile_conn):
    assert functions.function_dependencies(hostile_conn) == [
        FunctionDependency("public", "count_orders", f'orders {Q}."Orders"[]', QUOTED, "Orders"),
        FunctionDependency("public", "first_order", "", QUOTED, "Orders"),
        FunctionDependency("public", "order_note", "o_id bigint", QUOTED, "Orders"),
        FunctionDependency(UNICODE, "customer_count", "", UNICODE, "Customers"),
    ]
