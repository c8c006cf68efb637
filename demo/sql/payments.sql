-- Seamline demo: database "payments", the database-per-service pattern: payment_service owns all of it.
--
-- Run once, as a superuser, on a freshly created empty database, after roles.sql:
--   createdb -h 127.0.0.1 -p 54329 -U postgres payments
--   psql -h 127.0.0.1 -p 54329 -U postgres -v ON_ERROR_STOP=1 --single-transaction -d payments -f demo/sql/payments.sql
-- Plain SQL only (it also runs through psycopg's cursor.execute(text)), in one transaction opened by the caller.
--
-- payments.order_id points at shop's order_service.orders.id by value only: no foreign key can cross databases.
-- Which shop orders were paid follows the rule shop.sql seeds by (orders 1..12000; the last 10 are pending,
-- those with (id * 7919) % 100 < 4 cancelled). Payment history starts at order 6001, when payments moved out into
-- this database (older payments were archived). Amounts are synthetic: they do not reconcile with shop's totals.


DO $$ BEGIN PERFORM setseed(0.17); END $$;

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO payment_svc', current_database());
END
$$;

CREATE SCHEMA payments AUTHORIZATION payment_svc;
COMMENT ON SCHEMA payments IS 'payment_service: payments, refunds and the double-entry ledger';

CREATE TABLE payments.payments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency     char(3) NOT NULL DEFAULT 'EUR',
    method       text NOT NULL CHECK (method IN ('card', 'paypal', 'sepa_debit', 'apple_pay', 'alipay')),
    provider     text NOT NULL,
    provider_ref text NOT NULL UNIQUE,
    status       text NOT NULL CHECK (status IN ('authorized', 'captured', 'failed', 'refunded', 'partially_refunded')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    captured_at  timestamptz
);
CREATE INDEX payments_order_id_idx ON payments.payments (order_id);
CREATE INDEX payments_created_at_idx ON payments.payments (created_at);
COMMENT ON COLUMN payments.payments.order_id IS 'shop.order_service.orders.id, by value: no foreign key across databases';

CREATE TABLE payments.refunds (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   bigint NOT NULL REFERENCES payments.payments (id),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment_id_idx ON payments.refunds (payment_id);

CREATE TABLE payments.ledger_entries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id   bigint NOT NULL REFERENCES payments.payments (id),
    refund_id    bigint REFERENCES payments.refunds (id),
    account      text NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_payment_id_idx ON payments.ledger_entries (payment_id);
CREATE INDEX ledger_entries_refund_id_idx ON payments.ledger_entries (refund_id);
COMMENT ON TABLE payments.ledger_entries IS 'Double-entry ledger: every capture and refund writes one debit and one credit';

-- One payment per paid shop order, about 3 % preceded by a failed attempt (a declined card, say).
WITH paid_orders AS MATERIALIZED (
    SELECT o AS order_id,
           now() - (12000 - o) * interval '80 minutes' + interval '3 minutes' AS paid_at,
           (ARRAY['card', 'card', 'card', 'paypal', 'paypal', 'sepa_debit', 'apple_pay', 'alipay'])
               [1 + floor(random() * 8)::int] AS method,
           (ceil(exp(7.5 + random() * 3.5) / 100) * 100 - 1)::bigint AS amount_cents,
           random() < 0.03 AS failed_first
    FROM generate_series(6001, 12000 - 10) AS o
    WHERE (o * 7919) % 100 >= 4
), attempts AS (
    SELECT order_id, paid_at - interval '2 minutes' AS at, method, amount_cents, 'failed' AS status
    FROM paid_orders WHERE failed_first
    UNION ALL
    SELECT order_id, paid_at, method, amount_cents, 'captured' FROM paid_orders
)
INSERT INTO payments.payments (order_id, amount_cents, currency, method, provider, provider_ref, status, created_at,
                               captured_at)
SELECT a.order_id, a.amount_cents, 'EUR', a.method,
       CASE a.method WHEN 'paypal' THEN 'paypal' WHEN 'sepa_debit' THEN 'adyen' WHEN 'alipay' THEN 'alipay'
                     ELSE 'stripe' END,
       CASE a.method WHEN 'paypal' THEN 'PAYID-' || upper(left(md5(random()::text), 20))
                     WHEN 'alipay' THEN '2026' || left(md5(random()::text), 24)
                     WHEN 'sepa_debit' THEN 'PSP' || upper(left(md5(random()::text), 16))
                     ELSE 'pi_' || left(md5(random()::text), 24) END,
       a.status, a.at,
       CASE WHEN a.status = 'captured' THEN a.at + interval '20 seconds' END
FROM attempts AS a
ORDER BY a.at;

-- About 3 % of captures refunded, a third of those only partly.
WITH picked AS MATERIALIZED (
    SELECT p.id, p.amount_cents, p.captured_at, random() AS r FROM payments.payments AS p WHERE p.status = 'captured'
)
INSERT INTO payments.refunds (payment_id, amount_cents, reason, created_at)
SELECT id,
       CASE WHEN r < 0.01 THEN greatest(1, amount_cents / 2) ELSE amount_cents END,
       (ARRAY['returned item', 'damaged in transit', 'duplicate charge', 'customer changed mind'])[1 + floor(random() * 4)::int],
       captured_at + interval '3 days' + random() * interval '10 days'
FROM picked
WHERE r < 0.03
ORDER BY 4;

UPDATE payments.payments AS p
SET status = CASE WHEN r.amount_cents < p.amount_cents THEN 'partially_refunded' ELSE 'refunded' END
FROM payments.refunds AS r
WHERE r.payment_id = p.id;

INSERT INTO payments.ledger_entries (payment_id, refund_id, account, direction, amount_cents, created_at)
SELECT e.payment_id, e.refund_id, e.account, e.direction, e.amount_cents, e.created_at
FROM (
    SELECT p.id AS payment_id, NULL::bigint AS refund_id, x.account, x.direction, p.amount_cents, p.captured_at AS created_at
    FROM payments.payments AS p
    CROSS JOIN (VALUES ('psp_receivable', 'debit'), ('sales_revenue', 'credit')) AS x (account, direction)
    WHERE p.captured_at IS NOT NULL
    UNION ALL
    SELECT r.payment_id, r.id, x.account, x.direction, r.amount_cents, r.created_at
    FROM payments.refunds AS r
    CROSS JOIN (VALUES ('sales_refunds', 'debit'), ('psp_receivable', 'credit')) AS x (account, direction)
) AS e
ORDER BY e.created_at, e.payment_id, e.direction DESC;

-- ---------------------------------------------------------------------------------------------------------------
-- A read across the database boundary (the seed's §2.3 warns against it): payment_service reads shop's
-- user_service.shared_users through postgres_fdw, to put the customer's email on receipts. Nothing in shop records
-- it; Seamline finds it from this side (an fdw path, undeclared: payment_service does not consume user_service).
-- The server is this one (loopback); the dev server trusts local connections, so the mapping needs no password,
-- which only a superuser may allow (password_required 'false').
-- ---------------------------------------------------------------------------------------------------------------
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER shop_db FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '127.0.0.1', port '{{primary_port}}', dbname 'shop');
GRANT USAGE ON FOREIGN SERVER shop_db TO payment_svc;
CREATE USER MAPPING FOR payment_svc SERVER shop_db OPTIONS (user 'payment_svc', password_required 'false');
CREATE FOREIGN TABLE payments.customers (id bigint, email text, full_name text, country char(2))
    SERVER shop_db OPTIONS (schema_name 'user_service', table_name 'shared_users');
COMMENT ON FOREIGN TABLE payments.customers IS 'shop''s user_service.shared_users, for receipts (postgres_fdw)';
ALTER FOREIGN TABLE payments.customers OWNER TO payment_svc;

ALTER TABLE payments.payments OWNER TO payment_svc;
ALTER TABLE payments.refunds OWNER TO payment_svc;
ALTER TABLE payments.ledger_entries OWNER TO payment_svc;

ANALYZE;

