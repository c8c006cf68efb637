"""The demo from the seed, loaded onto the real test primary."""

from __future__ import annotations

from django.core.management import call_command

from catalog.models import Cluster, Service

from .conftest import pg


def test_it_creates_the_seed_schemas_and_shared_view(demo_databases):
    with pg(dbname="shop") as conn:
        schemas = dict(
            conn.execute(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE '%\\_service'"
            ).fetchall()
        )
        view = conn.execute("SELECT pg_get_viewdef('user_service.shared_users'::regclass)").fetchone()[0]
        users = conn.execute("SELECT count(*) FROM public.users").fetchone()[0]
    assert schemas == {"user_service": "user_svc", "order_service": "order_svc", "product_service": "product_svc"}
    assert "FROM users" in view or "FROM public.users" in view
    assert users >= 1000


def test_it_gives_payments_a_database_of_its_own(demo_databases):
    with pg(dbname="payments") as conn:
        owners = {
            r[0]
            for r in conn.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'payments' AND c.relkind = 'r'"
            )
        }
    assert owners == {"payment_svc"}


def test_it_registers_the_demo_cluster_and_services(demo_catalog):
    cluster = Cluster.objects.get(name="demo")
    assert cluster.replicas.count() == 1
    assert "password" not in cluster.dsn
    assert set(Service.objects.values_list("name", flat=True)) == {
        "user_service",
        "order_service",
        "product_service",
        "payment_service",
        "analytics",
    }
    order = Service.objects.get(name="order_service")
    assert (order.pool_size, order.max_overflow, order.instances) == (10, 20, 3)
    assert order.application_names == ["order_service"]


def test_loading_the_demo_again_changes_nothing(demo_catalog, capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "already loaded" in out
    assert "catalog unchanged" in out


def test_it_creates_the_admin_login_from_the_environment(db, monkeypatch, settings, tmp_path, django_user_model):
    settings.STATE_DIR = tmp_path
    monkeypatch.setenv("SEAMLINE_DEMO_PASSWORD", "from-the-env-123")
    call_command("ensure_admin")
    call_command("ensure_admin")
    admin = django_user_model.objects.get(username="admin")
    assert admin.check_password("from-the-env-123")
    assert admin.is_superuser


def test_a_later_run_without_the_variable_keeps_the_login(db, monkeypatch, settings, tmp_path, django_user_model):
    settings.STATE_DIR = tmp_path
    monkeypatch.setenv("SEAMLINE_DEMO_PASSWORD", "chosen-once-456")
    call_command("ensure_admin")
    monkeypatch.delenv("SEAMLINE_DEMO_PASSWORD")
    call_command("ensure_admin")
    assert django_user_model.objects.get(username="admin").check_password("chosen-once-456")


def test_it_leaves_a_password_changed_in_the_app_alone(db, monkeypatch, settings, tmp_path, django_user_model, capsys):
    settings.STATE_DIR = tmp_path
    monkeypatch.delenv("SEAMLINE_DEMO_PASSWORD", raising=False)
    call_command("ensure_admin")
    admin = django_user_model.objects.get(username="admin")
    admin.set_password("changed-by-its-owner-789")
    admin.save()
    capsys.readouterr()
    call_command("ensure_admin")
    assert django_user_model.objects.get(username="admin").check_password("changed-by-its-owner-789")
    assert "was changed" in capsys.readouterr().out


def test_it_generates_the_admin_password_once_and_keeps_it(db, monkeypatch, settings, tmp_path, django_user_model):
    monkeypatch.delenv("SEAMLINE_DEMO_PASSWORD", raising=False)
    settings.STATE_DIR = tmp_path
    call_command("ensure_admin")
    stored = (tmp_path / "admin-password").read_text().strip()
    assert len(stored) >= 12
    assert (tmp_path / "admin-password").stat().st_mode & 0o777 == 0o600
    call_command("ensure_admin")
    assert (tmp_path / "admin-password").read_text().strip() == stored
    assert django_user_model.objects.get(username="admin").check_password(stored)
