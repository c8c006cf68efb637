from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Cluster, Contract, EventPublication, Ownership, Replica, Service

        # declarations the cross-service paths or the live pages depend on: any save or delete moves the version
        for model in (Service, Ownership, Contract, Cluster, Replica, EventPublication):
            for signal in (post_save, post_delete):
                signal.connect(_bump, sender=model, dispatch_uid=f"catalog-version-{model.__name__}-{signal}")


def _bump(**kwargs) -> None:
    from .versioning import bump

    bump()
