"""The ownership side: monitored clusters, the services that run on them, and who owns which data.

Declared facts live here (clusters, services, what they own, what they may read). What the database catalog really
contains (schemas, relations, dependencies) is synced in beside them and held against these declarations.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _


class Cluster(models.Model):
    """A monitored PostgreSQL cluster: its primary, reached through a libpq DSN that never carries a password."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    dsn = models.TextField(_("primary DSN"), help_text=_("libpq connection string without a password"))
    password_env = models.CharField(
        _("password environment variable"),
        max_length=200,
        blank=True,
        help_text=_("name of the environment variable that holds the password, if any"),
    )
    databases = ArrayField(
        models.CharField(max_length=63),
        blank=True,
        default=list,
        verbose_name=_("databases to catalog"),
        help_text=_("empty: every non-template database"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")

    def __str__(self) -> str:
        return self.name


class Replica(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="replicas", verbose_name=_("cluster"))
    name = models.CharField(_("name"), max_length=100)
    dsn = models.TextField(_("DSN"), help_text=_("libpq connection string without a password"))

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="replica_unique_name")]
        verbose_name = _("replica")
        verbose_name_plural = _("replicas")

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class ServiceQuerySet(models.QuerySet):
    def for_services_page(self) -> ServiceQuerySet:
        """Services with what they own and what they consume, in a constant number of queries."""
        return self.prefetch_related(
            Prefetch("ownerships", queryset=Ownership.objects.select_related("cluster")),
            Prefetch("contracts_out", queryset=Contract.objects.select_related("provider")),
        )


class Service(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    team = models.CharField(_("team"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    oncall = models.CharField(_("on-call contact"), max_length=200, blank=True)
    repository_url = models.URLField(_("repository URL"), blank=True)
    application_names = ArrayField(
        models.CharField(max_length=63),
        blank=True,
        default=list,
        verbose_name=_("application names"),
        help_text=_("application_name values its connections use"),
    )
    db_roles = ArrayField(
        models.CharField(max_length=63),
        blank=True,
        default=list,
        verbose_name=_("database roles"),
    )
    pool_size = models.PositiveIntegerField(_("pool size"), default=0)
    max_overflow = models.PositiveIntegerField(_("max overflow"), default=0)
    instances = models.PositiveIntegerField(_("instances"), default=1)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name

    @property
    def connection_budget(self) -> int:
        """Most connections the service may open on a cluster: (pool_size + max_overflow) per instance."""
        return (self.pool_size + self.max_overflow) * self.instances


class Ownership(models.Model):
    """A service declares it owns a schema of a database, or (schema empty) the whole database."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="ownerships", verbose_name=_("service"))
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ownerships", verbose_name=_("cluster"))
    database = models.CharField(_("database"), max_length=63)
    schema = models.CharField(_("schema"), max_length=63, blank=True, help_text=_("empty: the whole database"))

    class Meta:
        ordering = ["cluster__name", "database", "schema"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "database", "schema"], name="ownership_unique_object"),
        ]
        verbose_name = _("ownership")
        verbose_name_plural = _("ownerships")

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        """The catalog file's CLUSTER/DATABASE[/SCHEMA] notation."""
        parts = [self.cluster.name, self.database] + ([self.schema] if self.schema else [])
        return "/".join(parts)

    @property
    def label(self) -> str:
        """database.schema, or the database alone when the whole database is owned."""
        return f"{self.database}.{self.schema}" if self.schema else self.database


class Contract(models.Model):
    """Declared: the consumer may read the provider's data (through views or functions)."""

    consumer = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="contracts_out", verbose_name=_("consumer")
    )
    provider = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="contracts_in", verbose_name=_("provider")
    )

    class Meta:
        ordering = ["consumer__name", "provider__name"]
        constraints = [
            models.UniqueConstraint(fields=["consumer", "provider"], name="contract_unique_pair"),
            models.CheckConstraint(condition=~models.Q(consumer=models.F("provider")), name="contract_not_self"),
        ]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")

    def __str__(self) -> str:
        return f"{self.consumer} → {self.provider}"
