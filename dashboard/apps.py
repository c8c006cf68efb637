from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Live dashboard")

    def ready(self) -> None:
        from catalog.versioning import changed

        from .snapshots import catalog_changed
        from .statements import rules  # noqa: F401  the audit rules over what really ran join the catalog's

        # what the live pages rendered from the catalog is outdated by a committed change of it
        changed.connect(catalog_changed, dispatch_uid="dashboard-live-catalog-version")
