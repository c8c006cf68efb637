-- Seamline demo: database "shop", several services sharing one database, one schema per service.
-- Modelled on the design document's example (user_service, order_service, product_service in one database,
-- user_service.shared_users over public.users, search_path set per service in the DSN).
--
-- Run once, as a superuser, on a freshly created empty database, after roles.sql:
--   createdb -h 127.0.0.1 -p 54329 -U postgres shop
--   psql -h 127.0.0.1 -p 54329 -U postgres -v ON_ERROR_STOP=1 --single-transaction -d shop -f demo/sql/shop.sql
-- It also runs through psycopg's cursor.execute(text) in one go, so: plain SQL only, no psql meta-commands.
-- Run in one transaction (demo/loader.py opens it; with psql add --single-transaction): a reader (the traffic
-- simulator) sees either nothing or the whole loaded demo.
-- Every name is schema-qualified: the loader's search_path is not the services' one.


-- Same data on every load, so screenshots and payments.sql (which refers to order ids) stay consistent.
DO $$ BEGIN PERFORM setseed(0.42); END $$;

-- ---------------------------------------------------------------------------------------------------------------
-- Schemas, one per service
-- ---------------------------------------------------------------------------------------------------------------
CREATE SCHEMA user_service AUTHORIZATION user_svc;
CREATE SCHEMA order_service AUTHORIZATION order_svc;
CREATE SCHEMA product_service AUTHORIZATION product_svc;

COMMENT ON SCHEMA user_service IS 'user_service: profiles, addresses, login sessions';
COMMENT ON SCHEMA order_service IS 'order_service: orders, order items, order event log';
COMMENT ON SCHEMA product_service IS 'product_service: catalogue, prices, stock';

-- ---------------------------------------------------------------------------------------------------------------
-- Seed vocabularies (temporary, gone at COMMIT)
-- ---------------------------------------------------------------------------------------------------------------
CREATE TEMP TABLE seed_countries (
    code        char(2) PRIMARY KEY,
    weight      int NOT NULL,
    locale      text NOT NULL,
    time_zone   text NOT NULL,
    first_names text[] NOT NULL,
    last_names  text[] NOT NULL,
    cities      text[] NOT NULL,
    streets     text[] NOT NULL
) ON COMMIT DROP;

INSERT INTO seed_countries VALUES
('US', 22, 'en-US', 'America/New_York',
 '{James,Mary,Michael,Jennifer,David,Emily,Chris,Ashley,Daniel,Olivia}',
 '{Smith,Johnson,Williams,Brown,Jones,Miller,Davis,Garcia,Wilson,Moore}',
 '{"New York",Chicago,Austin,Seattle,Denver,Boston}',
 '{"Main Street","Oak Avenue","Maple Drive","Pine Street","Elm Road","Cedar Lane"}'),
('DE', 12, 'de-DE', 'Europe/Berlin',
 '{Lukas,Anna,Jonas,Lea,Felix,Laura,Max,Sophie,Paul,Marie}',
 '{Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Hoffmann,Koch}',
 '{Berlin,Hamburg,München,Köln,Leipzig,Stuttgart}',
 '{Hauptstraße,Lindenweg,Bahnhofstraße,Gartenstraße,Schillerstraße,Goethestraße}'),
('GB', 10, 'en-GB', 'Europe/London',
 '{Oliver,Amelia,Harry,Isla,George,Ava,Jack,Grace,Noah,Freya}',
 '{Taylor,Evans,Thomas,Roberts,Walker,Wright,Hughes,Green,Hall,Wood}',
 '{London,Manchester,Bristol,Leeds,Edinburgh,Cardiff}',
 '{"High Street","Station Road","Church Lane","Victoria Road","Park Avenue","Mill Lane"}'),
('FR', 8, 'fr-FR', 'Europe/Paris',
 '{Louis,Camille,Hugo,Chloé,Jules,Manon,Léo,Inès,Gabriel,Julie}',
 '{Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau}',
 '{Paris,Lyon,Marseille,Toulouse,Nantes,Lille}',
 '{"Rue de la République","Avenue Victor Hugo","Rue Pasteur","Boulevard Voltaire","Rue du Moulin"}'),
('CN', 12, 'zh-CN', 'Asia/Shanghai',
 '{Wei,Fang,Min,Jing,Lei,Yan,Jun,Xiu,Tao,Hui}',
 '{Wang,Li,Zhang,Liu,Chen,Yang,Huang,Zhao,Wu,Zhou}',
 '{上海,北京,深圳,杭州,成都,广州}',
 '{南京路,中山路,人民路,解放路,建设路,长安街}'),
('JP', 6, 'ja-JP', 'Asia/Tokyo',
 '{Haruto,Yui,Sota,Hina,Ren,Aoi,Yuto,Sakura,Riku,Mio}',
 '{Sato,Suzuki,Takahashi,Tanaka,Watanabe,Ito,Yamamoto,Nakamura,Kobayashi,Kato}',
 '{東京,大阪,横浜,名古屋,札幌}',
 '{中央通り,明治通り,表参道,桜通り,青山通り}'),
('BR', 6, 'pt-BR', 'America/Sao_Paulo',
 '{João,Maria,Pedro,Ana,Lucas,Juliana,Gabriel,Beatriz,Rafael,Larissa}',
 '{Silva,Santos,Oliveira,Souza,Lima,Pereira,Costa,Rodrigues,Almeida,Ferreira}',
 '{"São Paulo","Rio de Janeiro",Curitiba,Recife,"Porto Alegre"}',
 '{"Rua das Flores","Avenida Paulista","Rua Augusta","Avenida Brasil","Rua XV de Novembro"}'),
('IN', 8, 'en-IN', 'Asia/Kolkata',
 '{Aarav,Priya,Rohan,Ananya,Vikram,Diya,Arjun,Kavya,Rahul,Neha}',
 '{Sharma,Patel,Singh,Kumar,Gupta,Reddy,Iyer,Nair,Mehta,Joshi}',
 '{Bengaluru,Mumbai,Delhi,Pune,Chennai,Hyderabad}',
 '{"MG Road","Park Street","Linking Road","Brigade Road","Anna Salai"}'),
('NL', 4, 'nl-NL', 'Europe/Amsterdam',
 '{Daan,Emma,Sem,Julia,Luuk,Tess,Bram,Sanne,Thijs,Fleur}',
 '{Jansen,Visser,Smit,Bakker,Mulder,Bos,Vos,Peters,Hendriks,Dekker}',
 '{Amsterdam,Rotterdam,Utrecht,Eindhoven,"Den Haag"}',
 '{Kerkstraat,Dorpsstraat,Molenweg,Stationsweg,Prinsengracht}'),
('ES', 5, 'es-ES', 'Europe/Madrid',
 '{Hugo,Lucía,Martín,Sofía,Pablo,Carmen,Álvaro,Elena,Diego,Paula}',
 '{García,Fernández,González,Rodríguez,López,Martínez,Sánchez,Pérez,Gómez,Ruiz}',
 '{Madrid,Barcelona,Valencia,Sevilla,Bilbao}',
 '{"Calle Mayor","Gran Vía","Calle del Sol","Avenida de la Constitución","Calle Real"}'),
('IT', 4, 'it-IT', 'Europe/Rome',
 '{Leonardo,Giulia,Francesco,Chiara,Alessandro,Sara,Lorenzo,Martina,Matteo,Giorgia}',
 '{Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci,Marino,Greco}',
 '{Roma,Milano,Torino,Napoli,Bologna}',
 '{"Via Roma","Via Garibaldi","Corso Italia","Via Dante","Via Mazzini"}'),
('PL', 3, 'pl-PL', 'Europe/Warsaw',
 '{Jakub,Zuzanna,Antoni,Julia,Jan,Maja,Szymon,Hanna,Filip,Lena}',
 '{Nowak,Kowalski,Wiśniewski,Wójcik,Kowalczyk,Kamiński,Lewandowski,Zieliński,Woźniak,Dąbrowski}',
 '{Warszawa,Kraków,Gdańsk,Wrocław,Poznań}',
 '{"ulica Długa","ulica Polna","ulica Lipowa","ulica Słoneczna","ulica Ogrodowa"}');

-- Email local parts are ASCII: fold the accents the names above use.
CREATE FUNCTION pg_temp.ascii_fold(s text) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN translate(lower(s), 'áàâãäçéèêëíìîïñóòôõöúùûüśźżłńąę', 'aaaaaceeeeiiiinooooouuuuszzlnae');

CREATE TEMP TABLE seed_categories (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    parent_slug text,
    brands      text[],
    nouns       text[],
    min_cents   int,
    max_cents   int
) ON COMMIT DROP;

INSERT INTO seed_categories VALUES
('electronics', 'Electronics', NULL, NULL, NULL, NULL, NULL),
('home-kitchen', 'Home & Kitchen', NULL, NULL, NULL, NULL, NULL),
('sports-outdoors', 'Sports & Outdoors', NULL, NULL, NULL, NULL, NULL),
('books', 'Books', NULL, NULL, NULL, NULL, NULL),
('fashion', 'Fashion', NULL, NULL, NULL, NULL, NULL),
('headphones', 'Headphones', 'electronics', '{Sonora,Auralis,Kestrel,Bassline}',
 '{"Over-Ear Headphones","Wireless Earbuds","Gaming Headset","Noise-Cancelling Headphones"}', 1999, 39999),
('phone-accessories', 'Phone Accessories', 'electronics', '{Voltix,Anchorage,Lumen,Kestrel}',
 '{"Phone Case","USB-C Charger","Power Bank","Screen Protector","Braided Cable"}', 599, 8999),
('smart-home', 'Smart Home', 'electronics', '{Nestor,Lumen,Hausa,Brightway}',
 '{"Smart Plug","Smart Bulb","Door Sensor","Thermostat","Security Camera"}', 1499, 24999),
('cookware', 'Cookware', 'home-kitchen', '{Nordvik,Castiron & Co,Ferro,Maison Blanc}',
 '{"Frying Pan","Saucepan","Dutch Oven","Wok","Stock Pot"}', 1999, 19999),
('coffee-tea', 'Coffee & Tea', 'home-kitchen', '{Barista Lab,Nordvik,Kettlebrook,Crema}',
 '{"Coffee Grinder","French Press","Electric Kettle","Espresso Machine","Tea Set"}', 1499, 59999),
('running', 'Running', 'sports-outdoors', '{Stride,Trailhead,Pacer,Northwind}',
 '{"Running Shoes","Running Shorts","Water Bottle","Headlamp","Hydration Vest"}', 999, 17999),
('camping', 'Camping', 'sports-outdoors', '{Trailhead,Summit Gear,Northwind,Basecamp}',
 '{"Two-Person Tent","Sleeping Bag","Camping Stove","Backpack 40L","LED Lantern"}', 1999, 49999),
('fiction', 'Fiction', 'books', '{Harbour Press,Vintage Lane,Blue Door Books}',
 '{"Novel","Short Stories","Mystery","Poetry Collection"}', 799, 2999),
('tech-books', 'Tech Books', 'books', '{O''Rourke Media,Packet Press,No Starch Lane}',
 '{"Guide to PostgreSQL","Python Handbook","Distributed Systems Primer","SQL Cookbook"}', 1999, 5999),
('shoes', 'Shoes', 'fashion', '{Cobbler & Sons,Stride,Urbano}',
 '{"Leather Sneakers","Chelsea Boots","Loafers","Sandals"}', 2999, 18999),
('outerwear', 'Outerwear', 'fashion', '{Northwind,Fjellrev,Urbano}',
 '{"Rain Jacket","Down Parka","Fleece Jacket","Wool Coat"}', 3999, 34999);

-- ---------------------------------------------------------------------------------------------------------------
-- public.users: the shared table every service leans on. Owned by postgres on purpose, by no service.
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE public.users (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email            text NOT NULL UNIQUE,
    full_name        text NOT NULL,
    country          char(2) NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz,
    is_active        boolean NOT NULL DEFAULT true,
    marketing_opt_in boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE public.users IS 'Shared user table: read by several services (through user_service.shared_users), owned by none';
COMMENT ON COLUMN public.users.country IS 'ISO 3166-1 alpha-2';

WITH weighted AS (
    SELECT array_agg(c.code ORDER BY c.code) AS codes FROM seed_countries c, generate_series(1, c.weight)
), picked AS MATERIALIZED (
    SELECT g, w.codes[1 + floor(random() * cardinality(w.codes))::int] AS country, random() AS r1, random() AS r2,
           now() - (5000 - g) * interval '5 hours' - random() * interval '5 hours' AS created_at
    FROM generate_series(1, 5000) AS g, weighted AS w
), named AS MATERIALIZED (
    SELECT p.*, c.first_names[1 + floor(p.r1 * cardinality(c.first_names))::int] AS first_name,
           c.last_names[1 + floor(p.r2 * cardinality(c.last_names))::int] AS last_name
    FROM picked AS p JOIN seed_countries AS c ON c.code = p.country
)
INSERT INTO public.users (id, email, full_name, country, created_at, last_login_at, is_active, marketing_opt_in)
OVERRIDING SYSTEM VALUE
SELECT g,
       pg_temp.ascii_fold(first_name) || '.' || pg_temp.ascii_fold(last_name) || g || '@'
           || (ARRAY['example.com', 'example.net', 'example.org', 'mail.example.com'])[1 + g % 4],
       first_name || ' ' || last_name,
       country,
       created_at,
       CASE WHEN random() < 0.85 THEN created_at + (now() - created_at) * random() END,
       random() > 0.03,
       random() < 0.4
FROM named
ORDER BY g;

-- The design document's view, verbatim: user_service exposes the shared table in its own schema.
CREATE VIEW user_service.shared_users AS SELECT * FROM public.users;

-- ---------------------------------------------------------------------------------------------------------------
-- user_service
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE user_service.profiles (
    user_id      bigint PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    locale       text NOT NULL DEFAULT 'en-US',
    time_zone    text NOT NULL DEFAULT 'UTC',
    avatar_url   text,
    bio          text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_service.addresses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('shipping', 'billing')),
    recipient   text NOT NULL,
    line1       text NOT NULL,
    city        text NOT NULL,
    postal_code text NOT NULL,
    country     char(2) NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_user_id_idx ON user_service.addresses (user_id);

CREATE TABLE user_service.sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    bigint NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    user_agent text,
    ip         inet
);
CREATE INDEX sessions_user_id_idx ON user_service.sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON user_service.sessions (expires_at);
COMMENT ON TABLE user_service.sessions IS 'Login sessions; expired rows are deleted by user_service';

INSERT INTO user_service.profiles (user_id, display_name, locale, time_zone, avatar_url, bio, updated_at)
SELECT u.id, split_part(u.full_name, ' ', 1), c.locale, c.time_zone,
       CASE WHEN random() < 0.6 THEN 'https://cdn.example.com/avatars/' || u.id || '.jpg' END,
       CASE WHEN random() < 0.2 THEN 'Shopping from ' || u.country || ' since ' || extract(year FROM u.created_at) END,
       u.created_at + (now() - u.created_at) * random()
FROM public.users AS u JOIN seed_countries AS c ON c.code = u.country
WHERE random() < 0.92;

-- Everyone has a shipping address, about a third a separate billing one. The random pick is made per user in a
-- materialized CTE: a random() filter next to a join may be evaluated once per joined row of the other side.
WITH a AS MATERIALIZED (
    SELECT u.id, u.full_name, u.country, u.created_at, random() < 0.35 AS has_billing FROM public.users AS u
)
INSERT INTO user_service.addresses (user_id, kind, recipient, line1, city, postal_code, country, is_default, created_at)
SELECT a.id, k.kind, a.full_name,
       (1 + floor(random() * 180))::int || ' ' || c.streets[1 + floor(random() * cardinality(c.streets))::int],
       c.cities[1 + floor(random() * cardinality(c.cities))::int],
       lpad(floor(random() * 99999)::int::text, 5, '0'),
       a.country, k.kind = 'shipping', a.created_at
FROM a
JOIN seed_countries AS c ON c.code = a.country
CROSS JOIN (VALUES ('shipping'), ('billing')) AS k (kind)
WHERE k.kind = 'shipping' OR a.has_billing
ORDER BY a.id, k.kind DESC;

INSERT INTO user_service.sessions (user_id, created_at, expires_at, user_agent, ip)
SELECT s.id, s.created_at, s.created_at + interval '30 days',
       (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0',
              'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15',
              'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148',
              'ShopApp/4.12.0 (Android 14)'])[1 + floor(random() * 4)::int],
       ((81 + floor(random() * 120))::int || '.' || floor(random() * 256)::int || '.'
           || floor(random() * 256)::int || '.' || (1 + floor(random() * 254))::int)::inet
FROM (SELECT u.id, now() - random() * interval '20 days' AS created_at
      FROM public.users AS u TABLESAMPLE BERNOULLI (40)) AS s;

-- ---------------------------------------------------------------------------------------------------------------
-- product_service
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE product_service.categories (
    id        int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug      text NOT NULL UNIQUE,
    name      text NOT NULL,
    parent_id int REFERENCES product_service.categories (id)
);

CREATE TABLE product_service.products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    category_id int NOT NULL REFERENCES product_service.categories (id),
    price_cents int NOT NULL CHECK (price_cents >= 0),
    stock       int NOT NULL DEFAULT 0 CHECK (stock >= 0),
    is_active   boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_id_idx ON product_service.products (category_id);
COMMENT ON COLUMN product_service.products.price_cents IS 'Current price in euro cents; order_service reads it through order_service.product_prices';

-- No primary key, on purpose: an append-only audit table someone never gave a key (a classic catalogue finding).
CREATE TABLE product_service.price_history (
    product_id  bigint NOT NULL REFERENCES product_service.products (id),
    price_cents int NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_history_product_idx ON product_service.price_history (product_id, changed_at);
COMMENT ON TABLE product_service.price_history IS 'Every price change; deliberately without a primary key';

INSERT INTO product_service.categories (slug, name)
SELECT slug, name FROM seed_categories WHERE parent_slug IS NULL ORDER BY slug;
INSERT INTO product_service.categories (slug, name, parent_id)
SELECT s.slug, s.name, p.id
FROM seed_categories AS s JOIN product_service.categories AS p ON p.slug = s.parent_slug
ORDER BY s.slug;

WITH leaves AS (
    SELECT array_agg(c.id ORDER BY c.id) AS ids FROM product_service.categories AS c WHERE c.parent_id IS NOT NULL
), picked AS MATERIALIZED (
    SELECT g, l.ids[1 + floor(random() * cardinality(l.ids))::int] AS category_id, random() AS r1, random() AS r2
    FROM generate_series(1, 2000) AS g, leaves AS l
)
INSERT INTO product_service.products (id, sku, name, category_id, price_cents, stock, is_active, updated_at)
OVERRIDING SYSTEM VALUE
SELECT p.g,
       upper(left(replace(c.slug, '-', ''), 3)) || '-' || lpad(p.g::text, 6, '0'),
       s.brands[1 + floor(p.r1 * cardinality(s.brands))::int] || ' '
           || (ARRAY['Classic', 'Pro', 'Compact', 'Everyday', 'Premium', 'Lite', 'Max', 'Eco'])[1 + p.g % 8] || ' '
           || s.nouns[1 + floor(p.r2 * cardinality(s.nouns))::int],
       c.id,
       (floor((s.min_cents + random() * (s.max_cents - s.min_cents)) / 100) * 100 + 99)::int,
       CASE WHEN random() < 0.05 THEN 0 ELSE floor(random() * 400)::int END,
       random() > 0.02,
       now() - random() * interval '90 days'
FROM picked AS p
JOIN product_service.categories AS c ON c.id = p.category_id
JOIN seed_categories AS s ON s.slug = c.slug
ORDER BY p.g;

-- Older prices first, then the current one, so the newest history row matches products.price_cents.
WITH h AS MATERIALIZED (
    SELECT p.id, p.price_cents, p.updated_at, 1 + floor(random() * 3)::int AS older_prices
    FROM product_service.products AS p
)
INSERT INTO product_service.price_history (product_id, price_cents, changed_at)
SELECT h.id, greatest(99, h.price_cents + (floor(random() * 11) - 5)::int * 100),
       h.updated_at - n * interval '60 days' - random() * interval '30 days'
FROM h CROSS JOIN LATERAL generate_series(1, h.older_prices) AS n
UNION ALL
SELECT h.id, h.price_cents, h.updated_at FROM h
ORDER BY 3;

CREATE FUNCTION product_service.reserve_stock(p_product_id bigint, p_quantity integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = product_service, pg_temp
AS $$
BEGIN
    UPDATE products SET stock = stock - p_quantity, updated_at = now()
    WHERE id = p_product_id AND stock >= p_quantity AND is_active;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION product_service.reserve_stock(bigint, integer) IS
    'Stock reservation API for order_service; SECURITY DEFINER with a fixed search_path (the safe way)';

-- ---------------------------------------------------------------------------------------------------------------
-- order_service
-- ---------------------------------------------------------------------------------------------------------------
CREATE TABLE order_service.orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES public.users (id),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_cents bigint NOT NULL DEFAULT 0,
    currency    char(3) NOT NULL DEFAULT 'EUR',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id_idx ON order_service.orders (user_id);
CREATE INDEX orders_status_created_idx ON order_service.orders (status, created_at);

CREATE TABLE order_service.order_items (
    order_id         bigint NOT NULL REFERENCES order_service.orders (id) ON DELETE CASCADE,
    line_no          smallint NOT NULL,
    product_id       bigint NOT NULL REFERENCES product_service.products (id),
    quantity         int NOT NULL CHECK (quantity > 0),
    unit_price_cents int NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_id_idx ON order_service.order_items (product_id);
COMMENT ON COLUMN order_service.order_items.product_id IS
    'Cross-service foreign key into product_service.products: couples the two services at the database level';

CREATE TABLE order_service.order_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint NOT NULL,
    event_type text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_id_idx ON order_service.order_events (order_id);
CREATE INDEX order_events_created_at_idx ON order_service.order_events (created_at);
COMMENT ON TABLE order_service.order_events IS
    'Append-only order log, also fed by the carrier tracking import (bulk writes every minute)';

-- Order ids 1..12000 with a status derived from the id, so payments.sql can tell which orders were paid without
-- reading this database: the last 10 are pending, those with (id * 7919) % 100 < 4 cancelled, the rest paid.
CREATE TEMP TABLE seed_orders ON COMMIT DROP AS
SELECT g AS id,
       1 + floor(random() * 5000)::bigint AS user_id,
       1 + floor(random() * random() * 5)::int AS item_count,
       now() - (12000 - g) * interval '80 minutes' - random() * interval '80 minutes' AS created_at
FROM generate_series(1, 12000) AS g;

CREATE TEMP TABLE seed_items ON COMMIT DROP AS
SELECT i.order_id, i.line_no, p.id AS product_id, i.quantity, p.price_cents AS unit_price_cents
FROM (SELECT o.id AS order_id, n::smallint AS line_no, 1 + floor(random() * 2000)::bigint AS product_id,
             CASE WHEN random() < 0.8 THEN 1 ELSE 2 + floor(random() * 3)::int END AS quantity
      FROM seed_orders AS o CROSS JOIN LATERAL generate_series(1, o.item_count) AS n) AS i
JOIN product_service.products AS p ON p.id = i.product_id;

INSERT INTO order_service.orders (id, user_id, status, total_cents, currency, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT o.id, o.user_id, s.status, t.total, 'EUR', o.created_at,
       CASE s.status WHEN 'delivered' THEN o.created_at + interval '4 days'
                     WHEN 'shipped' THEN o.created_at + interval '1 day'
                     ELSE o.created_at + interval '5 minutes' END
FROM seed_orders AS o
JOIN (SELECT order_id, sum(quantity::bigint * unit_price_cents) AS total FROM seed_items GROUP BY order_id) AS t
    ON t.order_id = o.id
CROSS JOIN LATERAL (SELECT CASE
    WHEN o.id > 12000 - 10 THEN 'pending'
    WHEN (o.id * 7919) % 100 < 4 THEN 'cancelled'
    WHEN o.created_at > now() - interval '2 days' THEN 'paid'
    WHEN o.created_at > now() - interval '6 days' THEN 'shipped'
    ELSE 'delivered' END AS status) AS s
ORDER BY o.id;

INSERT INTO order_service.order_items (order_id, line_no, product_id, quantity, unit_price_cents)
SELECT order_id, line_no, product_id, quantity, unit_price_cents FROM seed_items ORDER BY order_id, line_no;

INSERT INTO order_service.order_events (order_id, event_type, payload, created_at)
SELECT e.order_id, e.event_type, e.payload, e.created_at
FROM (
    SELECT o.id AS order_id, 'created' AS event_type,
           jsonb_build_object('channel', (ARRAY['web', 'ios', 'android'])[1 + o.id % 3], 'total_cents', o.total_cents)
               AS payload,
           o.created_at
    FROM order_service.orders AS o
    UNION ALL
    SELECT o.id, 'paid', jsonb_build_object('amount_cents', o.total_cents), o.created_at + interval '3 minutes'
    FROM order_service.orders AS o WHERE o.status IN ('paid', 'shipped', 'delivered')
    UNION ALL
    SELECT o.id, 'shipped', jsonb_build_object('carrier', (ARRAY['DHL', 'UPS', 'PostNL', 'SF Express'])[1 + o.id % 4]),
           o.created_at + interval '1 day'
    FROM order_service.orders AS o WHERE o.status IN ('shipped', 'delivered')
    UNION ALL
    SELECT o.id, 'delivered', '{}', o.created_at + interval '4 days'
    FROM order_service.orders AS o WHERE o.status = 'delivered'
    UNION ALL
    SELECT o.id, 'cancelled', jsonb_build_object('reason', 'customer request'), o.created_at + interval '2 hours'
    FROM order_service.orders AS o WHERE o.status = 'cancelled'
) AS e
ORDER BY e.created_at;

-- Cross-service views: order_service reads product prices and customer names without owning them.
CREATE VIEW order_service.product_prices AS SELECT id, sku, price_cents FROM product_service.products;
COMMENT ON VIEW order_service.product_prices IS 'order_service''s window on product_service.products';

-- A view over a view over public.users: order_service -> user_service -> public.
CREATE VIEW order_service.customer_names AS SELECT id, full_name, email, country FROM user_service.shared_users;

CREATE VIEW order_service.order_summaries AS
SELECT o.id, o.user_id, c.full_name AS customer, o.status, o.total_cents, o.currency, o.created_at,
       (SELECT count(*) FROM order_service.order_items AS i WHERE i.order_id = o.id) AS item_count
FROM order_service.orders AS o JOIN order_service.customer_names AS c ON c.id = o.user_id;

-- Refreshed by order_service after each carrier tracking import, read by long reports on the replica. A plain
-- REFRESH takes an ACCESS EXCLUSIVE lock, which the replica must replay and which waits for those reports: the
-- classic "analytics on the replica make it lag" situation.
CREATE MATERIALIZED VIEW order_service.carrier_tracking_summary AS
SELECT e.payload ->> 'carrier' AS carrier, e.event_type, count(*) AS events, max(e.created_at) AS last_event_at
FROM order_service.order_events AS e
WHERE e.payload ->> 'carrier' IS NOT NULL
GROUP BY 1, 2;

-- SECURITY DEFINER without a fixed search_path, on purpose: "order_items" resolves through the caller's
-- search_path, so a caller who puts their own schema first decides what runs with order_svc's rights.
CREATE FUNCTION order_service.order_total(p_order_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT coalesce(sum(quantity::bigint * unit_price_cents), 0) FROM order_items WHERE order_id = p_order_id);
END
$$;
COMMENT ON FUNCTION order_service.order_total(bigint) IS 'Order total in cents; SECURITY DEFINER without SET search_path';

-- What an order would cost at today's prices: its PL/pgSQL body reads product_service.products, which PostgreSQL
-- records nothing of (Seamline reads the body: a function path, declared, as order_service consumes product_service)
CREATE FUNCTION order_service.cart_value_now(p_order_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = order_service, pg_temp
AS $$
DECLARE
    v_total bigint;
BEGIN
    SELECT coalesce(sum(i.quantity::bigint * p.price_cents), 0) INTO v_total
    FROM order_items AS i
    JOIN product_service.products AS p ON p.id = i.product_id
    WHERE i.order_id = p_order_id;
    RETURN v_total;
END
$$;
COMMENT ON FUNCTION order_service.cart_value_now(bigint) IS 'An order at today''s prices (reads product_service.products)';

-- ---------------------------------------------------------------------------------------------------------------
-- Ownership: every object belongs to its service, except public.users (the shared table stays with postgres)
-- ---------------------------------------------------------------------------------------------------------------
ALTER VIEW user_service.shared_users OWNER TO user_svc;
ALTER TABLE user_service.profiles OWNER TO user_svc;
ALTER TABLE user_service.addresses OWNER TO user_svc;
ALTER TABLE user_service.sessions OWNER TO user_svc;

ALTER TABLE product_service.categories OWNER TO product_svc;
ALTER TABLE product_service.products OWNER TO product_svc;
ALTER TABLE product_service.price_history OWNER TO product_svc;
ALTER FUNCTION product_service.reserve_stock(bigint, integer) OWNER TO product_svc;

ALTER TABLE order_service.orders OWNER TO order_svc;
ALTER TABLE order_service.order_items OWNER TO order_svc;
ALTER FUNCTION order_service.cart_value_now(bigint) OWNER TO order_svc;
ALTER TABLE order_service.order_events OWNER TO order_svc;
ALTER VIEW order_service.product_prices OWNER TO order_svc;
ALTER VIEW order_service.customer_names OWNER TO order_svc;
ALTER VIEW order_service.order_summaries OWNER TO order_svc;
ALTER MATERIALIZED VIEW order_service.carrier_tracking_summary OWNER TO order_svc;
ALTER FUNCTION order_service.order_total(bigint) OWNER TO order_svc;

-- ---------------------------------------------------------------------------------------------------------------
-- Privileges beyond ownership
-- ---------------------------------------------------------------------------------------------------------------
-- user_service's view (run with its owner's rights) and foreign keys need the shared table.
GRANT SELECT, REFERENCES ON public.users TO user_svc;
-- orders.user_id references public.users directly.
GRANT REFERENCES ON public.users TO order_svc;

-- order_service reads customer names through user_service's view.
GRANT USAGE ON SCHEMA user_service TO order_svc;
GRANT SELECT ON user_service.shared_users TO order_svc;
-- payment_service reads the shared users view from its own database, through postgres_fdw (payments.sql)
GRANT USAGE ON SCHEMA user_service TO payment_svc;
GRANT SELECT ON user_service.shared_users TO payment_svc;

-- A deliberate cross-service privilege: order_service reads product_service's table directly, references it from
-- order_items and reserves stock through product_service's function.
GRANT USAGE ON SCHEMA product_service TO order_svc;
GRANT SELECT, REFERENCES ON product_service.products TO order_svc;
REVOKE ALL ON FUNCTION product_service.reserve_stock(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION product_service.reserve_stock(bigint, integer) TO order_svc;
REVOKE ALL ON FUNCTION order_service.order_total(bigint) FROM PUBLIC;

-- An undeclared one: product_service's best-seller list reads order_service's order lines directly (no contract in
-- the catalog: the run-time path the workload page and the audit find).
GRANT USAGE ON SCHEMA order_service TO product_svc;
GRANT SELECT ON order_service.order_items TO product_svc;

-- The reporting user reads a few tables directly, bypassing every service.
GRANT USAGE ON SCHEMA order_service, product_service TO analyst;
GRANT SELECT ON public.users, order_service.orders, order_service.order_items,
    product_service.products, product_service.categories TO analyst;

-- ---------------------------------------------------------------------------------------------------------------
-- Data leaving this database. Logical replication: the analytics service keeps a copy of the orders in a database
-- of its own (analytics.sql subscribes; the slot is made by the demo loader, outside this transaction). Events: an
-- outbox that order_service writes in the same transaction as the order, drained by a relay that publishes each row
-- on topic "order-events" (declared in the demo catalog; the demo's relay is the simulator).
-- ---------------------------------------------------------------------------------------------------------------
CREATE PUBLICATION analytics_orders FOR TABLE order_service.orders, order_service.order_items;

CREATE TABLE order_service.outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    aggregate_id bigint NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE order_service.outbox IS 'Transactional outbox: rows wait here until the relay publishes them';
ALTER TABLE order_service.outbox OWNER TO order_svc;

-- Explicit ids were loaded above: move every identity sequence past them.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.oid::regclass AS tbl, a.attname
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE a.attidentity <> '' AND NOT a.attisdropped
          AND n.nspname IN ('public', 'user_service', 'order_service', 'product_service')
    LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), coalesce(max(%I), 0) + 1, false) FROM %s',
                       col.tbl, col.attname, col.attname, col.tbl);
    END LOOP;
END
$$;

ANALYZE;

