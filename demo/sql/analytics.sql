-- Seamline demo: database "analytics", the analytics service's own (database per service), holding a logical
-- replication copy of order_service's orders from database "shop" (the seed's §4: a read model kept by the data
-- itself rather than by queries across the boundary).
-- Logical replication matches tables by schema-qualified name, so the copies live in a schema named like the
-- publisher's. The slot already exists (the demo loader makes it in "shop" first): made by CREATE SUBSCRIPTION on
-- the publisher's own cluster, it would wait for this very transaction and hang.

CREATE SCHEMA order_service AUTHORIZATION analytics_svc;

CREATE TABLE order_service.orders (
    id          bigint PRIMARY KEY,
    user_id     bigint NOT NULL,
    status      text NOT NULL,
    total_cents bigint NOT NULL,
    currency    char(3) NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE order_service.order_items (
    order_id         bigint NOT NULL,
    line_no          smallint NOT NULL,
    product_id       bigint NOT NULL,
    quantity         int NOT NULL,
    unit_price_cents int NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
ALTER TABLE order_service.orders OWNER TO analytics_svc;
ALTER TABLE order_service.order_items OWNER TO analytics_svc;

-- What the analysts read: revenue per day, from the copy (never from shop).
CREATE SCHEMA reporting AUTHORIZATION analytics_svc;
CREATE VIEW reporting.daily_revenue AS
SELECT date_trunc('day', o.created_at) AS day, o.currency, count(*) AS orders, sum(o.total_cents) AS total_cents
FROM order_service.orders AS o
WHERE o.status <> 'cancelled'
GROUP BY 1, 2;
ALTER VIEW reporting.daily_revenue OWNER TO analytics_svc;

-- The subscription (a superuser's: PostgreSQL 15 lets no other role create one). The dev server trusts local
-- connections, so the connection string holds no password.
CREATE SUBSCRIPTION analytics_orders
    CONNECTION 'host=127.0.0.1 port={{primary_port}} user=postgres dbname=shop application_name=analytics_orders'
    PUBLICATION analytics_orders
    WITH (create_slot = false, slot_name = 'analytics_orders');
