from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Live dashboard")

    def ready(self) -> None:
        from catalog import paths, versioning
        from catalog.versioning import changed

        from .snapshots import catalog_changed
        from .statements import (
            observe,
            rules,  # noqa: F401  the audit rules over what really ran join the catalog's
        )

        # what the live pages rendered from the catalog is outdated by a committed change of it
        changed.connect(catalog_changed, dispatch_uid="dashboard-live-catalog-version")
        # the run-time paths join the catalog's in the map and the path lists
        if observe.version not in versioning.OBSERVED:
            versioning.OBSERVED.append(observe.version)
            paths.OBSERVERS.append(observe.observe)
