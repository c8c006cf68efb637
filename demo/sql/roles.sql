-- Seamline demo: cluster-wide roles, one per service plus an ad-hoc reporting user.
-- Idempotent: run it as often as you like, as a superuser, from any database:
--   psql -h 127.0.0.1 -p 54329 -U postgres -v ON_ERROR_STOP=1 -f demo/sql/roles.sql
-- No passwords: the dev stack uses trust authentication on loopback only.
-- No per-role search_path either: each service sets it in its DSN (options=-csearch_path=<schema>).

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['user_svc', 'order_svc', 'product_svc', 'payment_svc', 'analytics_svc', 'analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', r);
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- a concurrent run created it first
            END;
        END IF;
        -- Re-asserted on every run, so a role edited by hand comes back to the shape the demo expects.
        EXECUTE format(
            'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD NULL',
            r);
    END LOOP;
END
$$;

COMMENT ON ROLE user_svc IS 'user_service: owns schema user_service in database shop';
COMMENT ON ROLE order_svc IS 'order_service: owns schema order_service in database shop';
COMMENT ON ROLE product_svc IS 'product_service: owns schema product_service in database shop';
COMMENT ON ROLE payment_svc IS 'payment_service: owns database payments (database per service)';
COMMENT ON ROLE analytics_svc IS 'analytics: owns database analytics, a logical replica of the orders';
COMMENT ON ROLE analyst IS 'ad-hoc reporting user, belongs to no service';
