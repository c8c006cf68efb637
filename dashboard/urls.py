from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path, register_converter
from django.views.i18n import set_language

from . import metrics
from .views import actions, overview, pools, replication, transactions, workload

# Admin modules load with the URLs (the web), not at every django.setup() (every command): see SimpleAdminConfig.
admin.autodiscover()

# One login page for the whole site: the admin's own login form sends anonymous users there.
admin.site.login = login_required(admin.site.login)

# Django's login, logout and password change; its password reset only when mail can carry the link
RESET = {"password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete"}


def account_urls(reset: bool) -> list:
    return [p for p in auth_urls.urlpatterns if reset or p.name not in RESET]


class SignedInt:
    """A whole number that may be negative: pg_stat_statements' statement ids are signed 64-bit."""

    regex = "-?[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(SignedInt, "signed")

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("healthz", overview.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("pools/", pools.pools_index, name="pools"),
    path("pools/<int:pk>/", pools.pools_cluster, name="pools_cluster"),
    path("pools/<int:pk>/history.json", pools.pools_history, name="pools_history"),
    path("services/<int:pk>/live/", pools.service_live, name="service_live"),
    path("pools/<int:pk>/sessions/<int:pid>/<str:action>", actions.session_action, name="session_action"),
    path("actions/", actions.action_log, name="action_log"),
    path("actions.csv", actions.action_log_csv, name="action_log_csv"),
    path("workload/", workload.workload_index, name="workload_index"),
    path("workload/<int:pk>/", workload.workload_page, name="workload"),
    path("workload/<int:pk>/history.json", workload.workload_history, name="workload_history"),
    path("workload/<int:pk>/statements/<signed:queryid>/", workload.statement_page, name="statement"),
    path("services/<int:pk>/statements/", workload.service_statements, name="service_statements"),
    path(
        "workload/<int:pk>/statements/<signed:queryid>/history.json",
        workload.statement_history,
        name="statement_history",
    ),
    path("replication/", replication.replication_page, name="replication"),
    path("replication/<int:pk>/history.json", replication.replication_history, name="replication_history"),
    path("transactions/", transactions.transactions_page, name="transactions"),
    path("transactions/<int:pk>/horizon.json", transactions.horizon_history, name="horizon_history"),
    path("", include("catalog.urls")),
    path("api/v1/", include("dashboard.api")),
    path("accounts/", include(account_urls(settings.PASSWORD_RESET))),
    # the language can be switched before logging in, from the login page
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]
