"""What the demo's services do: their reads and writes, and the misbehaviour that gives the dashboard something to
show (a leaked transaction holding a row lock, slow reports, write bursts that make the replica lag, an analyst with
no application_name, a two-phase commit left prepared while its coordinator is away). The machinery that runs it
(pools, threads, start-up and shutdown) is demo.simulator's.
"""

from __future__ import annotations

import contextlib
import queue
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

Log = Callable[[str], None]
POOL_TIMEOUT = 3.0  # short, so a worker notices a stop request or an outage quickly
IN_DOUBT_PREFIX = "seamline-demo-2pc-"  # the gids of the demo's prepared transactions


@dataclass(frozen=True)
class Service:
    name: str  # also the application_name
    role: str
    dbname: str
    schema: str
    instances: int
    max_pool: int
    required: str  # relations, resolved through the service's search_path before traffic starts


USER = Service("user_service", "user_svc", "shop", "user_service", 2, 3, "profiles addresses sessions shared_users")
_ORDER_RELATIONS = (
    "orders order_items order_events product_prices customer_names order_summaries carrier_tracking_summary"
)
ORDER = Service("order_service", "order_svc", "shop", "order_service", 3, 4, _ORDER_RELATIONS)
PRODUCT = Service(
    "product_service", "product_svc", "shop", "product_service", 2, 3, "products categories price_history"
)
PAYMENT = Service("payment_service", "payment_svc", "payments", "payments", 2, 3, "payments refunds ledger_entries")
SERVICES = (USER, ORDER, PRODUCT, PAYMENT)
WORKERS_PER_INSTANCE = 2

REPLICA_REPORTS = (
    "SELECT date_trunc('day', created_at) AS day, count(*), sum(total_cents) FROM orders"
    " WHERE created_at > now() - interval '14 days' GROUP BY 1 ORDER BY 1",
    "SELECT p.sku, sum(i.quantity) AS units FROM order_items i JOIN product_prices p ON p.id = i.product_id"
    " JOIN orders o ON o.id = i.order_id WHERE o.created_at > now() - interval '30 days'"
    " GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
    "SELECT status, count(*), avg(item_count) FROM order_summaries"
    " WHERE created_at > now() - interval '7 days' GROUP BY 1",
    "SELECT c.country, count(*), sum(o.total_cents) FROM orders o JOIN customer_names c ON c.id = o.user_id GROUP BY 1",
)
ANALYST_QUERIES = (
    "SELECT country, count(*) FROM public.users GROUP BY 1 ORDER BY 2 DESC",
    "SELECT date_trunc('week', created_at) AS week, count(*), sum(total_cents) / 100.0 AS revenue"
    " FROM order_service.orders WHERE created_at > now() - interval '90 days' GROUP BY 1 ORDER BY 1",
    "SELECT c.name, count(DISTINCT i.order_id) AS orders, sum(i.quantity) AS units FROM order_service.order_items i"
    " JOIN product_service.products p ON p.id = i.product_id JOIN product_service.categories c ON c.id = p.category_id"
    " GROUP BY 1 ORDER BY 3 DESC",
    "SELECT u.email, count(o.id), sum(o.total_cents) FROM public.users u"
    " JOIN order_service.orders o ON o.user_id = u.id GROUP BY 1 ORDER BY 3 DESC LIMIT 20",
)
# A carrier tracking feed lands in the order log: tens of MB of WAL in one statement.
BURST_SQL = """
INSERT INTO order_events (order_id, event_type, payload)
SELECT 1 + floor(random() * %(max_order)s)::bigint, 'tracking_update',
       jsonb_build_object('carrier', (ARRAY['DHL', 'UPS', 'PostNL', 'SF Express'])[1 + g %% 4],
                          'tracking_no', upper(left(md5(random()::text), 16)),
                          'status', (ARRAY['in_transit', 'at_hub', 'out_for_delivery', 'delayed'])[1 + g %% 4],
                          'raw', repeat(md5(g::text), 6))
FROM generate_series(1, %(rows)s) AS g
"""
SLOW_SQL = """
WITH pause AS MATERIALIZED (SELECT pg_sleep(%s))
SELECT c.name, count(*) AS products, sum(p.stock) AS units, sum(p.stock::bigint * p.price_cents) AS stock_value_cents
FROM pause, products p JOIN categories c ON c.id = p.category_id
GROUP BY c.name ORDER BY stock_value_cents DESC
"""


class Traffic:
    """Each step runs one unit of work on a pool and returns how long to pause. Mixed into demo.simulator.Simulator,
    which provides the pools, logging (say, error), the stop event, and cancellable() for long statements."""

    def stepper(self, svc: Service, who: str, pool: ConnectionPool) -> Callable[[random.Random], float]:
        step = {USER: self.user_step, ORDER: self.order_step, PRODUCT: self.product_step, PAYMENT: self.payment_step}
        return lambda rng: step[svc](who, pool, rng)

    # -- user_service ------------------------------------------------------------------------------------------------
    def user_step(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        uid, roll = rng.randint(1, self.max_user), rng.random()
        with pool.connection(POOL_TIMEOUT) as conn:
            if roll < 0.6:  # profile page, through the seed's view over public.users
                conn.execute(
                    "SELECT u.email, u.full_name, p.display_name, p.locale, p.time_zone FROM shared_users u"
                    " LEFT JOIN profiles p ON p.user_id = u.id WHERE u.id = %s",
                    (uid,),
                ).fetchone()
                conn.execute(
                    "SELECT kind, line1, city, postal_code FROM addresses WHERE user_id = %s ORDER BY is_default DESC",
                    (uid,),
                ).fetchall()
            elif roll < 0.8:  # login
                ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
                conn.execute(
                    "INSERT INTO sessions (user_id, expires_at, user_agent, ip) VALUES"
                    " (%s, now() + interval '30 days', %s, %s)",
                    (uid, rng.choice(("ShopApp/4.12.0 (Android 14)", "Mozilla/5.0 Firefox/128.0")), ip),
                )
            elif roll < 0.92:  # logout
                conn.execute(
                    "DELETE FROM sessions WHERE id = (SELECT id FROM sessions WHERE user_id = %s LIMIT 1)", (uid,)
                )
            else:
                conn.execute(
                    "UPDATE profiles SET locale = %s, updated_at = now() WHERE user_id = %s",
                    (rng.choice(("en-US", "en-GB", "de-DE", "zh-CN", "fr-FR")), uid),
                )
        return rng.uniform(0.2, 1.0)

    # -- order_service -----------------------------------------------------------------------------------------------
    def order_step(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        # One worker of another instance walks into the leaked row lock: the dashboard's blocked session.
        with self._lock:
            target = self.locked_order if not self.victim_sent and not who.startswith(f"{ORDER.name}-1") else None
            self.victim_sent = self.victim_sent or target is not None
        if target is not None:
            self.edit_locked_order(who, pool, target)
            return 0.5
        roll = rng.random()
        if roll < 0.35:
            self.place_order(pool, rng)
        elif roll < 0.7:
            with pool.connection(POOL_TIMEOUT) as conn:
                conn.execute(
                    "SELECT id, status, total_cents, item_count FROM order_summaries WHERE user_id = %s"
                    " ORDER BY created_at DESC LIMIT 10",
                    (rng.randint(1, self.max_user),),
                ).fetchall()
        elif roll < 0.85:
            results = []
            with contextlib.suppress(queue.Empty):
                while len(results) < 5:
                    results.append(self.paid.get_nowait())
            with pool.connection(POOL_TIMEOUT) as conn:
                for order_id, ok in results:
                    if ok:
                        conn.execute(
                            "UPDATE orders SET status = 'paid', updated_at = now()"
                            " WHERE id = %s AND status = 'pending'",
                            (order_id,),
                        )
                    conn.execute(
                        "INSERT INTO order_events (order_id, event_type) VALUES (%s, %s)",
                        (order_id, "paid" if ok else "payment_failed"),
                    )
                    # the event for other services, through the outbox (the demo runs no relay: it only grows)
                    conn.execute(
                        "INSERT INTO outbox (topic, aggregate_id, payload) VALUES ('order-events', %s,"
                        " jsonb_build_object('event', %s::text))",
                        (order_id, "paid" if ok else "payment_failed"),
                    )
        else:  # the warehouse picks up paid orders; SKIP LOCKED keeps the instances out of each other's way
            with pool.connection(POOL_TIMEOUT) as conn:
                for old, new in (("shipped", "delivered"), ("paid", "shipped")):
                    conn.execute(
                        "WITH batch AS (SELECT id FROM orders WHERE status = %s ORDER BY created_at LIMIT 5"
                        " FOR UPDATE SKIP LOCKED),"
                        " moved AS (UPDATE orders o SET status = %s, updated_at = now()"
                        " FROM batch WHERE o.id = batch.id RETURNING o.id)"
                        " INSERT INTO order_events (order_id, event_type) SELECT id, %s FROM moved",
                        (old, new, new),
                    )
        return rng.uniform(0.2, 1.0)

    def place_order(self, pool: ConnectionPool, rng: random.Random) -> None:
        # Sorted, so concurrent orders lock product rows in the same order and cannot deadlock.
        wanted = sorted(rng.sample(range(1, self.max_product + 1), rng.choice((1, 1, 1, 2, 2, 3, 4))))
        with pool.connection(POOL_TIMEOUT) as conn, conn.transaction():
            prices = dict(
                conn.execute("SELECT id, price_cents FROM product_prices WHERE id = ANY(%s)", (wanted,)).fetchall()
            )
            lines = []
            for pid in wanted:
                qty = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                if (
                    pid in prices
                    and conn.execute("SELECT product_service.reserve_stock(%s, %s)", (pid, qty)).fetchone()[0]
                ):
                    lines.append((pid, qty, prices[pid]))
            if not lines:
                return
            (order_id,) = conn.execute(
                "INSERT INTO orders (user_id) VALUES (%s) RETURNING id", (rng.randint(1, self.max_user),)
            ).fetchone()
            conn.cursor().executemany(
                "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price_cents)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(order_id, n, *line) for n, line in enumerate(lines, 1)],
            )
            # order_total is SECURITY DEFINER without a search_path: it works only because ours is order_service
            (total,) = conn.execute("SELECT order_total(%s)", (order_id,)).fetchone()
            conn.execute("UPDATE orders SET total_cents = %s WHERE id = %s", (total, order_id))
            conn.execute(
                "INSERT INTO order_events (order_id, event_type, payload) VALUES (%s, 'created', %s)",
                (order_id, Jsonb({"channel": rng.choice(("web", "ios", "android")), "total_cents": total})),
            )
        self.max_order = max(self.max_order, order_id)
        with contextlib.suppress(queue.Full):
            self.to_pay.put_nowait((order_id, total))

    def leak_transaction(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        """A forgotten transaction: holds a row lock while idle for 30-90 s, then the next one 20-40 s later."""
        with pool.connection(POOL_TIMEOUT) as conn:
            # One row only: FOR UPDATE next to OFFSET would lock every row skipped as well.
            row = conn.execute(
                "SELECT id FROM orders WHERE id = (SELECT id FROM orders WHERE status IN ('pending', 'paid')"
                " ORDER BY id DESC LIMIT 1 OFFSET %s) FOR UPDATE",
                (rng.randint(0, 20),),
            ).fetchone()
            if row is None:
                return 5.0
            hold, t0 = rng.uniform(30, 90), monotonic()
            self.say(f"{who}: leaked transaction opened: row lock on order {row[0]}, idle for {hold:.0f} s")
            with self._lock:
                self.locked_order, self.victim_sent = row[0], False
            self.stop.wait(hold)
            with self._lock:
                self.locked_order = None
            try:
                conn.rollback()
                ended = "rolled back"
            except psycopg.OperationalError:  # someone terminated the session, from the dashboard say
                ended = "found terminated"
        self.say(f"{who}: leaked transaction {ended} after {monotonic() - t0:.0f} s")
        return rng.uniform(20, 40)

    def in_doubt_payment(self, who: str, params: dict, rng: random.Random) -> float:
        """The seed's two-phase commit (§3.3) with a coordinator that goes away: a payment authorized and prepared
        (PREPARE TRANSACTION), left in doubt for 6-9 min, past the 5 min WARN, then committed when the coordinator
        comes back; the next one 10-15 min later. A stopped simulator rolls it back (``resolve_in_doubt``)."""
        gid = f"{IN_DOUBT_PREFIX}{uuid.uuid4().hex[:12]}"
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO payments (order_id, amount_cents, method, provider, provider_ref, status)"
                " VALUES (%s, %s, 'card', 'stripe', %s, 'authorized')",
                (rng.randint(1, self.max_order), rng.randint(500, 50000), f"pi_{uuid.uuid4().hex[:24]}"),
            )
            conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gid)))
        hold = rng.uniform(360, 540)
        self.say(f"{who}: payment prepared as {gid}, in doubt for {hold:.0f} s (its coordinator is away)")
        if not self.stop.wait(hold):
            self.resolve_in_doubt(params, "COMMIT PREPARED")
            self.say(f"{who}: {gid} committed: the coordinator came back")
        return rng.uniform(600, 900)

    @staticmethod
    def resolve_in_doubt(params: dict, how: str = "ROLLBACK PREPARED") -> None:
        """Resolve every prepared transaction of the demo's (at shutdown, and at start for a run that was killed)."""
        with psycopg.connect(**params, autocommit=True) as conn:
            gids = conn.execute(
                "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s AND database = current_database()",
                (IN_DOUBT_PREFIX + "%",),
            ).fetchall()
            for (gid,) in gids:
                with contextlib.suppress(psycopg.errors.UndefinedObject):  # resolved meanwhile
                    conn.execute(sql.SQL(how + " {}").format(sql.Literal(gid)))

    def edit_locked_order(self, who: str, pool: ConnectionPool, order_id: int) -> None:
        with pool.connection(POOL_TIMEOUT) as conn:
            t0 = monotonic()
            self.say(f"{who}: support note on order {order_id} is blocked by the leaked transaction")
            with self.cancellable(conn):
                conn.execute("UPDATE orders SET updated_at = now() WHERE id = %s", (order_id,))
            conn.execute(
                "INSERT INTO order_events (order_id, event_type, payload) VALUES (%s, 'note_added', %s)",
                (order_id, Jsonb({"note": "customer asked about delivery date"})),
            )
        if not self.stop.is_set():
            self.say(f"{who}: support note on order {order_id} went through after waiting {monotonic() - t0:.0f} s")

    def write_burst(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        """The minutely tracking import: a summary refresh, then tens of MB of inserts and the previous feed deleted.

        On its own the replica replays such a burst in a fraction of a second. The refresh's lock, though, has to
        wait there for the running BI report (up to max_standby_streaming_delay), and the burst queues up behind it.
        """
        # In production the two meet by chance; here the import waits for a report to start, so every burst lags.
        self.bi_report_started.clear()
        for _ in range(50):
            if self.bi_report_started.wait(0.5) or self.stop.is_set():
                break
        if self.stop.is_set():
            return 0.0
        rows, t0 = rng.randint(60_000, 90_000), monotonic()
        with pool.connection(POOL_TIMEOUT) as conn, self.cancellable(conn):
            (lsn0,) = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
            conn.execute("REFRESH MATERIALIZED VIEW carrier_tracking_summary")
            conn.commit()
            conn.execute(BURST_SQL, {"rows": rows, "max_order": self.max_order})
            conn.commit()
            deleted = conn.execute(
                "DELETE FROM order_events WHERE event_type = 'tracking_update'"
                " AND created_at < now() - interval '45 seconds'"
            ).rowcount
            conn.commit()
            (wal,) = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0,)).fetchone()
        self.say(
            f"{who}: write burst: {rows} tracking updates inserted, {deleted} old ones deleted, "
            f"{wal / 2**20:.0f} MB of WAL in {monotonic() - t0:.1f} s"
        )
        return rng.uniform(50, 70)

    def replica_report(self, pool: ConnectionPool, rng: random.Random) -> float:
        with pool.connection(POOL_TIMEOUT) as conn:
            conn.execute(rng.choice(REPLICA_REPORTS)).fetchall()
        return rng.uniform(2, 5)

    def replica_bi_report(self, pool: ConnectionPool, rng: random.Random) -> float:
        """A BI tool's slow carrier report, back to back, each under max_standby_streaming_delay (30 s)."""
        with pool.connection(POOL_TIMEOUT) as conn, self.cancellable(conn):
            # Takes its lock at once: a REFRESH replayed from now on waits for the whole report.
            conn.execute("SELECT count(*) FROM carrier_tracking_summary")
            self.bi_report_started.set()
            conn.execute(
                "WITH pause AS MATERIALIZED (SELECT pg_sleep(%s)) SELECT carrier, event_type, events"
                " FROM pause, carrier_tracking_summary ORDER BY events DESC",
                (rng.uniform(6, 20),),
            ).fetchall()
        return rng.uniform(0.2, 1.0)

    # -- product_service ---------------------------------------------------------------------------------------------
    def product_step(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        pid, roll = rng.randint(1, self.max_product), rng.random()
        with pool.connection(POOL_TIMEOUT) as conn:
            if roll < 0.5:
                conn.execute(
                    "SELECT p.id, p.sku, p.name, p.price_cents, p.stock FROM products p"
                    " WHERE p.category_id = (SELECT category_id FROM products WHERE id = %s) AND p.is_active"
                    " ORDER BY p.name LIMIT 24",
                    (pid,),
                ).fetchall()
            elif roll < 0.72:
                conn.execute(
                    "SELECT price_cents, changed_at FROM price_history WHERE product_id = %s"
                    " ORDER BY changed_at DESC LIMIT 10",
                    (pid,),
                ).fetchall()
            elif roll < 0.8:  # best sellers, straight from order_service's table: no contract covers it
                conn.execute(
                    "SELECT product_id, sum(quantity) AS units FROM order_service.order_items"
                    " WHERE product_id BETWEEN %s AND %s GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
                    (pid, pid + 50),
                ).fetchall()
            elif roll < 0.9:  # restock what runs low
                conn.execute(
                    "UPDATE products SET stock = stock + %s, updated_at = now() WHERE id = (SELECT id FROM"
                    " products WHERE stock < 50 ORDER BY stock LIMIT 1 FOR UPDATE SKIP LOCKED)",
                    (rng.randint(50, 300),),
                )
            else:
                row = conn.execute(
                    "UPDATE products SET price_cents = greatest(99, price_cents + %s),"
                    " updated_at = now() WHERE id = %s RETURNING price_cents",
                    (rng.choice((-500, -200, 200, 500)), pid),
                ).fetchone()
                if row:
                    conn.execute("INSERT INTO price_history (product_id, price_cents) VALUES (%s, %s)", (pid, row[0]))
        return rng.uniform(0.2, 1.0)

    def slow_query(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        seconds = rng.uniform(5, 15)
        self.say(f"{who}: slow query started (stock valuation report, ~{seconds:.0f} s)")
        with pool.connection(POOL_TIMEOUT) as conn, self.cancellable(conn):
            conn.execute(SLOW_SQL, (seconds,)).fetchall()
        return rng.uniform(20, 40)

    # -- payment_service ---------------------------------------------------------------------------------------------
    def payment_step(self, who: str, pool: ConnectionPool, rng: random.Random) -> float:
        try:
            order_id, amount = self.to_pay.get_nowait()
        except queue.Empty:
            order_id, amount = 0, 0
        with pool.connection(POOL_TIMEOUT) as conn:
            if order_id and amount > 0:
                self.record_payment(conn, rng, order_id, amount)
            elif rng.random() < 0.9:
                conn.execute(
                    "SELECT status, amount_cents, created_at FROM payments WHERE order_id = %s"
                    " ORDER BY created_at DESC",
                    (rng.randint(6001, self.max_order),),
                ).fetchall()
                conn.execute(
                    "SELECT status, count(*), sum(amount_cents) FROM payments"
                    " WHERE created_at > now() - interval '1 day' GROUP BY status"
                ).fetchall()
            else:
                self.refund(conn, rng)
        return rng.uniform(0.2, 1.0)

    def record_payment(self, conn: psycopg.Connection, rng: random.Random, order_id: int, amount: int) -> None:
        ok = rng.random() > 0.05  # a declined card now and then
        method = rng.choice(("card", "card", "paypal", "sepa_debit", "apple_pay", "alipay"))
        provider = {"paypal": "paypal", "sepa_debit": "adyen", "alipay": "alipay"}.get(method, "stripe")
        with conn.transaction():
            (pay_id,) = conn.execute(
                "INSERT INTO payments (order_id, amount_cents, method, provider, provider_ref, status, captured_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
                (order_id, amount, method, provider, f"pi_{uuid.uuid4().hex[:24]}", "captured" if ok else "failed", ok),
            ).fetchone()
            if ok:
                conn.cursor().executemany(
                    "INSERT INTO ledger_entries (payment_id, account, direction, amount_cents) VALUES (%s, %s, %s, %s)",
                    [(pay_id, "psp_receivable", "debit", amount), (pay_id, "sales_revenue", "credit", amount)],
                )
        with contextlib.suppress(queue.Full):
            self.paid.put_nowait((order_id, ok))

    def refund(self, conn: psycopg.Connection, rng: random.Random) -> None:
        with conn.transaction():
            row = conn.execute(
                "SELECT id, amount_cents FROM payments WHERE status = 'captured' AND id >= %s"
                " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                (rng.randint(1, 5000),),
            ).fetchone()
            if row is None:
                return
            (refund_id,) = conn.execute(
                "INSERT INTO refunds (payment_id, amount_cents, reason) VALUES (%s, %s, %s) RETURNING id",
                (*row, "returned item"),
            ).fetchone()
            conn.cursor().executemany(
                "INSERT INTO ledger_entries (payment_id, refund_id, account, direction, amount_cents)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (row[0], refund_id, "sales_refunds", "debit", row[1]),
                    (row[0], refund_id, "psp_receivable", "credit", row[1]),
                ],
            )
            conn.execute("UPDATE payments SET status = 'refunded' WHERE id = %s", (row[0],))

    # -- analyst -----------------------------------------------------------------------------------------------------
    def analyst_query(self, pool: ConnectionPool, rng: random.Random) -> float:
        with pool.connection(POOL_TIMEOUT) as conn:
            conn.execute(rng.choice(ANALYST_QUERIES)).fetchall()
        return rng.uniform(3, 8)
