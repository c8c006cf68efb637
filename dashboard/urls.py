from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from django.views.i18n import set_language

from . import action_views, metrics, pools_views, replication_views, views

# Admin modules load with the URLs (the web), not at every django.setup() (every command): see SimpleAdminConfig.
admin.autodiscover()

# One login page for the whole site: the admin's own login form sends anonymous users there.
admin.site.login = login_required(admin.site.login)

urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("pools/", pools_views.pools_index, name="pools"),
    path("pools/<int:pk>/", pools_views.pools_cluster, name="pools_cluster"),
    path("pools/<int:pk>/history.json", pools_views.pools_history, name="pools_history"),
    path("services/<int:pk>/live/", pools_views.service_live, name="service_live"),
    path("pools/<int:pk>/sessions/<int:pid>/<str:action>", action_views.session_action, name="session_action"),
    path("actions/", action_views.action_log, name="action_log"),
    path("actions.csv", action_views.action_log_csv, name="action_log_csv"),
    path("replication/", replication_views.replication_page, name="replication"),
    path("replication/<int:pk>/history.json", replication_views.replication_history, name="replication_history"),
    path("", include("catalog.urls")),
    path("api/v1/", include("dashboard.api")),
    path("accounts/", include("django.contrib.auth.urls")),
    # the language can be switched before logging in, from the login page
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]
