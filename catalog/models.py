"""The ownership side: monitored clusters, the services that run on them, who owns which data, and what the
database catalog really contains (synced from the servers) to hold those declarations against.

Declared: Cluster, Replica, Service, Ownership, Contract. Synced (by ``catalog.sync``, never edited by hand):
Database, Schema, Relation, Function, Dependency, Grant, and SyncRun for each run's progress and outcome.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Count, Prefetch, Q
from django.utils.translation import gettext_lazy as _

UNOWNED = "(unowned)"
OUTSIDE = "(outside the catalog)"  # the provider of a path to a server or relation the catalog does not hold


class ClusterQuerySet(models.QuerySet):
    def with_nodes(self) -> ClusterQuerySet:
        """Clusters by name with their replicas, as every live screen reads them (a node per replica)."""
        return self.prefetch_related("replicas").order_by("name")


class Cluster(models.Model):
    """A monitored PostgreSQL cluster: its primary, reached through a libpq DSN that never carries a password."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    dsn = models.TextField(_("primary DSN"), help_text=_("libpq connection string without a password"))
    password_env = models.CharField(
        _("password environment variable"),
        max_length=200,
        blank=True,
        help_text=_("name of the environment variable that holds the password, if any: SEAMLINE_CLUSTER_PASSWORD_…"),
    )
    encrypted_password = models.TextField(
        _("encrypted password"),
        blank=True,
        editable=False,
        help_text=_("Fernet token, encrypted with a key from SEAMLINE_FERNET_KEYS; never shown"),
    )
    databases = ArrayField(
        models.CharField(max_length=63),
        blank=True,
        default=list,
        verbose_name=_("databases to catalog"),
        help_text=_("empty: every non-template database"),
    )
    auth = models.CharField(
        _("authentication"),
        max_length=20,
        choices=[("scram-sha-256", _("SCRAM only")), ("any", _("any method the server asks for"))],
        default="scram-sha-256",
        help_text=_(
            "scram-sha-256: connections to a node that is not on this host require SCRAM, so that no password is ever "
            "sent in clear; any: whatever the server asks for (trust, md5, password)"
        ),
    )
    aliases = ArrayField(
        models.CharField(max_length=300),
        blank=True,
        default=list,
        verbose_name=_("other addresses"),
        help_text=_(
            "HOST:PORT under which other servers reach this cluster's nodes (foreign servers, dblink), "
            "besides the addresses of its DSNs"
        ),
    )
    # live sampling (dashboard.sampling)
    sample_interval = models.PositiveSmallIntegerField(
        _("sampling interval (s)"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("how often each node's sessions are sampled"),
    )
    idle_in_transaction_threshold = models.PositiveIntegerField(
        _("idle in transaction threshold (s)"),
        default=30,
        help_text=_("a session idle in transaction longer than this is listed as an offender"),
    )
    long_query_threshold = models.PositiveIntegerField(
        _("long query threshold (s)"),
        default=30,
        help_text=_("a query running longer than this is listed as an offender"),
    )
    # statement statistics (dashboard.statements)
    statements_interval = models.PositiveSmallIntegerField(
        _("statements interval (s)"),
        default=60,
        validators=[MinValueValidator(10)],
        help_text=_("how often each node's pg_stat_statements is sampled"),
    )
    statements_database = models.CharField(
        _("statements database"),
        max_length=63,
        blank=True,
        help_text=_(
            "the database in which pg_stat_statements is created and read (it shows every database's statements); "
            "empty: the DSN's"
        ),
    )
    # replication status thresholds (dashboard.health)
    lag_warn_seconds = models.PositiveIntegerField(_("replay lag WARN at (s)"), default=30)
    lag_crit_seconds = models.PositiveIntegerField(_("replay lag CRIT at (s)"), default=300)
    lag_warn_bytes = models.BigIntegerField(_("replay lag WARN at (bytes)"), default=16 * 1024**2)
    lag_crit_bytes = models.BigIntegerField(_("replay lag CRIT at (bytes)"), default=1024**3)
    slot_crit_bytes = models.BigIntegerField(_("inactive slot CRIT at (bytes retained)"), default=1024**3)
    # transaction hazard thresholds (dashboard.hazards)
    prepared_warn_seconds = models.PositiveIntegerField(_("prepared transaction WARN at (s)"), default=300)
    prepared_crit_seconds = models.PositiveIntegerField(_("prepared transaction CRIT at (s)"), default=1800)
    horizon_warn_seconds = models.PositiveIntegerField(_("vacuum horizon held WARN at (s)"), default=1800)
    horizon_crit_seconds = models.PositiveIntegerField(_("vacuum horizon held CRIT at (s)"), default=7200)
    horizon_warn_xids = models.BigIntegerField(_("vacuum horizon held WARN at (transactions)"), default=50_000_000)
    horizon_crit_xids = models.BigIntegerField(_("vacuum horizon held CRIT at (transactions)"), default=150_000_000)
    wraparound_warn_pct = models.PositiveSmallIntegerField(
        _("wraparound WARN at (percent of the limit)"), default=50, validators=[MaxValueValidator(100)]
    )
    wraparound_crit_pct = models.PositiveSmallIntegerField(
        _("wraparound CRIT at (percent of the limit)"), default=75, validators=[MaxValueValidator(100)]
    )
    # read from the server by the last successful sync
    server_version = models.CharField(_("server version"), max_length=40, blank=True)
    max_connections = models.PositiveIntegerField(_("max_connections"), null=True, blank=True)
    superuser_reserved_connections = models.PositiveIntegerField(
        _("superuser_reserved_connections"), null=True, blank=True
    )
    monitor_role = models.CharField(_("monitoring role"), max_length=63, blank=True)
    monitor_role_is_superuser = models.BooleanField(_("monitoring role is a superuser"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")

    def __str__(self) -> str:
        return self.name

    def node_dsns(self) -> list[str]:
        """The DSN of each node as stored (the primary's, then each replica's): every place its password is sent."""
        return [self.dsn, *Replica.objects.filter(cluster=self).order_by("name").values_list("dsn", flat=True)]

    @property
    def usable_connections(self) -> int | None:
        """max_connections less the slots reserved for superusers: what applications can actually open."""
        if self.max_connections is None:
            return None
        return self.max_connections - (self.superuser_reserved_connections or 0)


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
        """Services with what they own, what they consume and their synced relation counts, in constant queries."""
        return (
            self.prefetch_related(
                Prefetch("ownerships", queryset=Ownership.objects.select_related("cluster")),
                Prefetch("contracts_out", queryset=Contract.objects.select_related("provider")),
            )
            .annotate(relation_count=Count("schemas__relations", distinct=True))
            .order_by("name")
        )  # GROUP BY drops Meta.ordering

    def teams(self) -> models.QuerySet:
        """The teams services belong to, sorted, each once (for the team filters of several screens)."""
        return self.exclude(team="").order_by("team").values_list("team", flat=True).distinct()

    def subscribers(self, topics: set[str]) -> dict[str, list[str]]:
        """Topic -> the services subscribing to it, by name (one query; a topic nobody subscribes to: absent)."""
        found: dict[str, list[str]] = {}
        for name, subscribed in (
            self.filter(subscribes__overlap=list(topics)).order_by("name").values_list("name", "subscribes")
        ):
            for topic in subscribed:
                found.setdefault(topic, []).append(name)
        return found


class Service(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    team = models.CharField(_("team"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    oncall = models.CharField(_("on-call contact"), max_length=200, blank=True)
    # a link on the service's page: http(s) only (a javascript: or data: URL would run in the viewer's browser)
    repository_url = models.URLField(
        _("repository URL"), blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )
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
    search_path = ArrayField(
        models.CharField(max_length=63),
        blank=True,
        default=list,
        verbose_name=_("search_path"),
        help_text=_(
            'the schemas its connections search, in order ("$user" for the role\'s own); empty: "$user", public. '
            "How its statements' unqualified names are resolved"
        ),
    )
    subscribes = ArrayField(
        models.CharField(max_length=200),
        blank=True,
        default=list,
        verbose_name=_("subscribes to topics"),
        help_text=_("event topics it consumes (published from other services' outbox tables)"),
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
    """A service declares it owns a schema of a database, or (schema empty) the whole database.

    A whole database means every schema in it but ``public``: public is never owned implicitly, only by name.
    """

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


class EventPublication(models.Model):
    """A service publishes a topic from an outbox table: rows its transactions write there, a relay sends out and
    removes (the seed's transactional outbox, §4.2). Services subscribing to the topic read its data (``event``
    paths); the table's live rows should not only grow (dashboard.outbox)."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="event_publications", verbose_name=_("service")
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+", verbose_name=_("cluster"))
    database = models.CharField(_("database"), max_length=63)
    schema = models.CharField(_("schema"), max_length=63)
    table = models.CharField(_("outbox table"), max_length=63)
    topic = models.CharField(_("topic"), max_length=200)

    class Meta:
        ordering = ["topic", "cluster__name", "database", "schema", "table"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "database", "schema", "table", "topic"], name="eventpublication_unique_topic"
            ),
        ]
        verbose_name = _("event publication")
        verbose_name_plural = _("event publications")

    def __str__(self) -> str:
        return f"{self.topic} ← {self.table_path}"

    @property
    def table_path(self) -> str:
        """The catalog file's CLUSTER/DATABASE/SCHEMA.TABLE notation (names quoted where they need it)."""
        return f"{self.cluster.name}/{self.database}/{quote_name(self.schema)}.{quote_name(self.table)}"


class OutboxSample(models.Model):
    """An outbox table's row counts at one slow sample of its cluster's primary (``pg_stat_user_tables``: counts,
    never rows; dashboard.outbox writes them, catalog.outbox judges them). Kept for OUTBOX_KEEP_DAYS."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    database = models.CharField(max_length=63)
    schema = models.CharField(max_length=63)
    table = models.CharField(max_length=63)
    sampled_at = models.DateTimeField()
    live_rows = models.BigIntegerField()  # n_live_tup
    inserted = models.BigIntegerField()  # n_tup_ins, since the statistics' reset
    removed = models.BigIntegerField()  # n_tup_del

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "database", "schema", "table", "sampled_at"], name="outboxsample_table"),
            models.Index(fields=["sampled_at"], name="outboxsample_age"),
        ]


def quote_name(name: str) -> str:
    """A name as the catalog file writes it in SCHEMA.TABLE[.COLUMN]: double-quoted when it holds a dot or a quote."""
    return '"' + name.replace('"', '""') + '"' if ("." in name or '"' in name) else name


class Contract(models.Model):
    """Declared: the consumer may read the provider's data (through views or functions), or only some columns of it."""

    consumer = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="contracts_out", verbose_name=_("consumer")
    )
    provider = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="contracts_in", verbose_name=_("provider")
    )
    # the provider's columns the consumer may read, [[schema, table, column], ...]; empty: all of its data
    columns = models.JSONField(_("columns"), default=list, blank=True)

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


# --- synced from the servers ------------------------------------------------------------------------------------


class Database(models.Model):
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="database_set", verbose_name=_("cluster")
    )
    name = models.CharField(_("name"), max_length=63)
    owner = models.CharField(_("owner"), max_length=63, blank=True)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    # digest of the server's catalog at the last sync (readers.server.catalog_fingerprint): equal means nothing to read
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # its tables with the oldest frozen xid at the last sync: [{schema, name, xid_age, mxid_age}] (dashboard.hazards)
    oldest_tables = models.JSONField(_("oldest tables (frozen xid)"), default=list, blank=True, editable=False)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="database_unique_name")]
        verbose_name = _("database")
        verbose_name_plural = _("databases")

    def __str__(self) -> str:
        return self.name


class Schema(models.Model):
    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="schemas", verbose_name=_("database"))
    name = models.CharField(_("name"), max_length=63)
    owner = models.CharField(_("PostgreSQL owner"), max_length=63, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # derived from Ownership by catalog.ownership.assign_owners(); null: unowned
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schemas",
        verbose_name=_("owning service"),
    )

    class Meta:
        ordering = ["database__name", "name"]
        constraints = [models.UniqueConstraint(fields=["database", "name"], name="schema_unique_name")]
        verbose_name = _("schema")
        verbose_name_plural = _("schemas")

    def __str__(self) -> str:
        return f"{self.database.name}.{self.name}"


# Synced rows (relations, dependencies, grants) are written only by catalog.sync: in one transaction, parents before
# children, and deleted through Django, which cascades in Python. Their foreign keys to other synced rows therefore
# carry no database constraint: a constraint would run one trigger per inserted row at commit, a fifth of a first
# sync of 12,000 relations and 13,000 grants (bench/catalog_sync.py), to check what the sync has just looked up.
SYNCED = {"db_constraint": False}


class Relation(models.Model):
    class Kind(models.TextChoices):
        TABLE = "table", _("table")
        PARTITIONED = "partitioned", _("partitioned table")
        VIEW = "view", _("view")
        MATVIEW = "matview", _("materialized view")
        FOREIGN = "foreign", _("foreign table")

    schema = models.ForeignKey(
        Schema,
        on_delete=models.CASCADE,
        related_name="relations",
        verbose_name=_("schema"),
        db_index=False,  # relation_unique_name (schema, name) serves lookups by schema
        **SYNCED,
    )
    name = models.CharField(_("name"), max_length=63)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    owner = models.CharField(_("PostgreSQL owner"), max_length=63, blank=True)
    estimated_rows = models.BigIntegerField(_("estimated rows"), null=True, blank=True)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    has_primary_key = models.BooleanField(_("has a primary key"), default=False)
    columns = ArrayField(models.CharField(max_length=63), default=list, blank=True, verbose_name=_("columns"))
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["schema__name", "name"]
        constraints = [models.UniqueConstraint(fields=["schema", "name"], name="relation_unique_name")]
        verbose_name = _("relation")
        verbose_name_plural = _("relations")

    def __str__(self) -> str:
        return f"{self.schema.name}.{self.name}"

    @property
    def column_count(self) -> int:
        return len(self.columns)

    @property
    def is_view(self) -> bool:
        return self.kind in (self.Kind.VIEW, self.Kind.MATVIEW)


class BodyState(models.TextChoices):
    PARSED = "parsed", _("read")
    DYNAMIC = "dynamic", _("not analysable: dynamic SQL")
    UNPARSABLE = "unparsable", _("not analysable: the parser rejected it")


class Function(models.Model):
    schema = models.ForeignKey(Schema, on_delete=models.CASCADE, related_name="functions", verbose_name=_("schema"))
    name = models.CharField(_("name"), max_length=63)
    identity_arguments = models.TextField(_("arguments"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, default="function")
    owner = models.CharField(_("PostgreSQL owner"), max_length=63, blank=True)
    language = models.CharField(_("language"), max_length=63, blank=True)
    security_definer = models.BooleanField(_("SECURITY DEFINER"), default=False)
    search_path = models.TextField(_("fixed search_path"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # a string body (PL/pgSQL, LANGUAGE sql AS '...') as catalog.bodies read it: the key of what was parsed (the
    # body, language and settings: parsed again only when it changes) and how far it could be read
    body_key = models.CharField(max_length=32, blank=True, db_default="", editable=False)
    body_state = models.CharField(
        _("body"), max_length=10, choices=BodyState.choices, blank=True, db_default="", editable=False
    )

    class Meta:
        ordering = ["schema__name", "name", "identity_arguments"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "name", "identity_arguments"], name="function_unique_signature")
        ]
        verbose_name = _("function")
        verbose_name_plural = _("functions")

    def __str__(self) -> str:
        return f"{self.schema.name}.{self.name}({self.identity_arguments})"


class FunctionBodyUse(models.Model):
    """A relation a function's string body names (catalog.bodies), as written, with the schemas its name is looked
    up in: the one written, else the function's own search_path, else (``assumed``: the caller's path decides) the
    function's schema then ``public``. Resolved to a relation by each sync (a Dependency, ``parsed``); one in another
    database (``dbname``, through dblink) by catalog.paths (a ``dblink`` path)."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="body_uses", **SYNCED)
    schema = models.CharField(max_length=63, null=True, blank=True)  # as written; None: unqualified
    name = models.CharField(max_length=63)
    path = ArrayField(models.CharField(max_length=63), default=list)
    access = models.CharField(max_length=5)  # read, write
    assumed = models.BooleanField(default=False)
    # through dblink: where the connection string points (nothing else of it is kept); empty: this database
    host = models.TextField(blank=True, db_default="")
    port = models.CharField(max_length=20, blank=True, db_default="")
    dbname = models.CharField(max_length=63, blank=True, db_default="")

    class Meta:
        indexes = [models.Index(fields=["function"], name="bodyuse_function")]


class Dependency(models.Model):
    """A direct edge from the catalog: a view reads a relation, a table references one, a function depends on one
    (where PostgreSQL records it, ``recorded``, and where its body names it, ``parsed``; one row when both)."""

    class Kind(models.TextChoices):
        VIEW = "view", _("view")
        FK = "fk", _("foreign key")
        FUNCTION = "function", _("function")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    consumer_relation = models.ForeignKey(
        Relation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reads",
        verbose_name=_("consumer"),
        **SYNCED,
    )
    consumer_function = models.ForeignKey(
        Function,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reads",
        verbose_name=_("consumer"),
        **SYNCED,
    )
    source = models.ForeignKey(
        Relation, on_delete=models.CASCADE, related_name="read_by", verbose_name=_("source"), **SYNCED
    )
    name = models.CharField(_("constraint name"), max_length=63, blank=True)
    recorded = models.BooleanField(_("recorded by PostgreSQL"), db_default=True)
    parsed = models.BooleanField(_("found in the body"), db_default=False)
    assumed = models.BooleanField(_("rests on the caller's search_path"), db_default=False)  # parsed, unqualified
    access = models.CharField(_("access"), max_length=5, blank=True, db_default="")  # parsed: read or write
    # the source's columns it uses: a view's reads (PostgreSQL records them per column), a foreign key's referenced
    # columns; empty: none in particular (a function's; a view's count(*))
    columns = ArrayField(models.CharField(max_length=63), blank=True, default=list)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(consumer_relation__isnull=False) ^ Q(consumer_function__isnull=False),
                name="dependency_one_consumer",
            ),
            # one row per edge, as the sync's merge groups them (two syncs at once could once write one twice)
            models.UniqueConstraint(
                fields=["kind", "consumer_relation", "source", "name"],
                condition=Q(consumer_relation__isnull=False),
                name="dependency_unique_relation_edge",
            ),
            models.UniqueConstraint(
                fields=["kind", "consumer_function", "source", "name"],
                condition=Q(consumer_function__isnull=False),
                name="dependency_unique_function_edge",
            ),
        ]
        verbose_name = _("dependency")
        verbose_name_plural = _("dependencies")

    def __str__(self) -> str:
        return f"{self.consumer_relation or self.consumer_function} → {self.source} ({self.kind})"


class ForeignTable(models.Model):
    """Where a foreign table's data is, as its server's options say (catalog.readers.dependencies.ForeignTable):
    catalog.paths resolves it to a catalogued cluster, database and relation (``fdw`` paths)."""

    relation = models.OneToOneField(Relation, on_delete=models.CASCADE, related_name="foreign", **SYNCED)
    server = models.CharField(_("foreign server"), max_length=63)
    wrapper = models.CharField(_("foreign-data wrapper"), max_length=63)
    host = models.TextField(_("host"), blank=True)
    port = models.CharField(_("port"), max_length=20, blank=True)
    dbname = models.CharField(_("database"), max_length=63, blank=True)
    remote_schema = models.CharField(_("remote schema"), max_length=63)
    remote_name = models.CharField(_("remote relation"), max_length=63)

    class Meta:
        verbose_name = _("foreign table")
        verbose_name_plural = _("foreign tables")


class PublishedTable(models.Model):
    """A table a publication of its database sends (logical replication), with the columns it sends (empty: all)."""

    relation = models.ForeignKey(Relation, on_delete=models.CASCADE, related_name="publications", **SYNCED)
    publication = models.CharField(_("publication"), max_length=63)
    columns = ArrayField(models.CharField(max_length=63), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["relation", "publication"], name="publishedtable_unique_publication")
        ]
        verbose_name = _("published table")
        verbose_name_plural = _("published tables")


class Subscription(models.Model):
    """A logical replication subscription of a database, as the sync read it (catalog.readers.logical): its slot
    names its publisher (catalog.logical), its tables are the copies it keeps, each with its state."""

    READY = "r"  # pg_subscription_rel.srsubstate of a table that is copied and streaming

    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="subscriptions", **SYNCED)
    name = models.CharField(_("name"), max_length=63)
    owner = models.CharField(_("owner"), max_length=63, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    slot_name = models.CharField(_("slot"), max_length=63, blank=True)
    publications = ArrayField(models.CharField(max_length=63), default=list)
    tables = models.JSONField(default=list)  # [{"schema", "name", "state"}]

    class Meta:
        constraints = [models.UniqueConstraint(fields=["database", "name"], name="subscription_unique_name")]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return self.name

    @property
    def tables_not_ready(self) -> list[dict]:
        return [t for t in self.tables if t.get("state") != self.READY]


class LogicalSlot(models.Model):
    """A logical replication slot of a cluster's primary, with its database: what a subscription elsewhere streams
    from (read by each sync of the cluster)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="logical_slots", **SYNCED)
    name = models.CharField(_("name"), max_length=63)
    database = models.CharField(_("database"), max_length=63)
    plugin = models.CharField(_("plugin"), max_length=63, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="logicalslot_unique_name")]


class Grant(models.Model):
    """Privileges a role other than the owner holds on a relation."""

    relation = models.ForeignKey(
        Relation,
        on_delete=models.CASCADE,
        related_name="grants",
        verbose_name=_("relation"),
        db_index=False,  # grant_unique_grantee (relation, grantee) serves lookups by relation
        **SYNCED,
    )
    grantee = models.CharField(_("grantee"), max_length=63)
    privileges = ArrayField(models.CharField(max_length=20), verbose_name=_("privileges"))

    class Meta:
        ordering = ["grantee"]
        constraints = [models.UniqueConstraint(fields=["relation", "grantee"], name="grant_unique_grantee")]
        indexes = [models.Index(fields=["grantee"])]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")

    def __str__(self) -> str:
        return f"{', '.join(self.privileges)} on {self.relation} to {self.grantee}"


class Run:
    """What sync runs and audit runs share: one lifecycle (catalog.runs), each run executed by a Celery task whose id
    is ``<task_prefix>-<pk>``."""

    ACTIVE: tuple[str, ...]
    task_name: str  # the Celery task that executes a run
    task_prefix: str
    progress_cleared: dict[str, str]  # what an active run shows of its progress, cleared when it finishes

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def task_id(self) -> str:
        return f"{self.task_prefix}-{self.pk}"


class SyncRun(Run, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        OK = "ok", _("succeeded")
        FAILED = "failed", _("failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    task_name = "catalog.tasks.sync_task"
    task_prefix = "sync"
    progress_cleared = {"current_database": ""}

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="sync_runs", verbose_name=_("cluster"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    # no longer written: the task's id is derived from the run's (Run.task_id); kept until a contract migration
    stored_task_id = models.CharField(max_length=64, blank=True, db_column="task_id")
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    databases_total = models.PositiveIntegerField(default=0)
    databases_done = models.PositiveIntegerField(default=0)
    current_database = models.CharField(max_length=63, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["cluster", "-created_at"])]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")

    def __str__(self) -> str:
        return f"{self.cluster} {self.created_at:%Y-%m-%d %H:%M:%S} {self.status}"


class CatalogState(models.Model):
    """One row whose version moves whenever anything the cross-service paths depend on changes (a sync, an edit of
    services, ownership or contracts), so each web process can keep the paths it computed until then."""

    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("catalog state")


# --- audits (catalog.rules, catalog.audits) ------------------------------------------------------------------------


class Severity(models.TextChoices):
    """How much an audit finding matters, worst first (the order pages and counts use)."""

    CRITICAL = "critical", _("critical")
    HIGH = "high", _("high")
    MEDIUM = "medium", _("medium")
    LOW = "low", _("low")


class RuleSeverity(models.Model):
    """A rule's severity, where it differs from the rule's default (docs/rules.md)."""

    rule = models.CharField(_("rule"), max_length=60, unique=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)

    class Meta:
        ordering = ["rule"]
        verbose_name = _("rule severity")
        verbose_name_plural = _("rule severities")

    def __str__(self) -> str:
        return f"{self.rule}: {self.severity}"


class AuditRunQuerySet(models.QuerySet):
    def latest_per_cluster(self) -> AuditRunQuerySet:
        """Each cluster's newest run, whatever its status (filter the clusters first)."""
        return self.order_by("cluster_id", "-created_at", "-pk").distinct("cluster_id")

    def last_finished_per_cluster(self) -> AuditRunQuerySet:
        """Each cluster's newest finished run, succeeded or failed (filter the clusters first)."""
        return (
            self.filter(status__in=[AuditRun.Status.SUCCEEDED, AuditRun.Status.FAILED])
            .order_by("cluster_id", "-finished_at", "-pk")
            .distinct("cluster_id")
        )

    def last_succeeded(self) -> AuditRun | None:
        """The newest run that succeeded (filter the cluster first): the findings a page shows, the ones a new run
        is compared with."""
        return self.filter(status=AuditRun.Status.SUCCEEDED).order_by("-finished_at", "-pk").first()


class AuditRun(Run, models.Model):
    """One audit of one cluster: a sync, then every rule; its findings are written with its final status, in one
    transaction, so a run that fails or is killed never shows half its findings."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("manual")
        SCHEDULED = "scheduled", _("scheduled")
        CLI = "cli", _("command line")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    task_name = "catalog.tasks.audit_task"
    task_prefix = "audit"
    progress_cleared = {"phase": ""}

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="audit_runs", verbose_name=_("cluster"))
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    user = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(_("phase"), max_length=20, blank=True)  # syncing, checking
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("findings by severity"), default=dict, blank=True)
    resolved_count = models.PositiveIntegerField(_("resolved"), default=0)
    error = models.TextField(_("error"), blank=True)

    objects = AuditRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # one audit per cluster at a time: a second trigger joins the active one
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(status__in=["queued", "running"]), name="audit_one_active_per_cluster"
            )
        ]
        verbose_name = _("audit run")
        verbose_name_plural = _("audit runs")

    def __str__(self) -> str:
        return f"{self.cluster.name} #{self.pk} {self.status}"


class AuditFinding(models.Model):
    class State(models.TextChoices):
        NEW = "new", _("new")
        PERSISTING = "persisting", _("persisting")
        RESOLVED = "resolved", _("resolved")

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="findings", verbose_name=_("run"))
    rule = models.CharField(_("rule"), max_length=60)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    object = models.TextField(_("object"))
    object_parts = models.JSONField(_("object parts"), default=list)
    service = models.CharField(_("service"), max_length=100, blank=True)
    related_service = models.CharField(_("related service"), max_length=100, blank=True)
    message = models.TextField(_("message"))
    remediation = models.TextField(_("remediation SQL"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    suppressed = models.BooleanField(_("suppressed"), default=False)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["run", "state"])]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"{self.rule} {self.object}"


class Suppression(models.Model):
    """A finding of a rule on one object, accepted for a reason until an expiry; who and when are recorded."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="suppressions", verbose_name=_("cluster")
    )
    rule = models.CharField(_("rule"), max_length=60)
    object = models.TextField(_("object"))
    reason = models.TextField(_("reason"))
    expires_at = models.DateTimeField(_("expires"))
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")

    def __str__(self) -> str:
        return f"{self.rule} {self.object} until {self.expires_at:%Y-%m-%d}"
