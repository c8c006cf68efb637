"""The live side's own tables. Session: logins' sessions; ApiToken: bearer tokens for the JSON API, stored only as a
SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PREFIX_LENGTH = 8
# last_used_at is written at most this often per token, so reading the API does not mean a write per request
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Session(AbstractBaseSession):
    """Django's database session with the id of its user beside the (signed) data, so that a request reads the
    session and its user in one statement (dashboard.auth). The data stays what decides: the column is written from
    it whenever the session is saved, and a session whose column and data disagree is read the slow way. Deleting a
    user deletes their sessions."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.CASCADE,
        db_constraint=False,  # never a reason for a login to fail: a user deleted meanwhile reads as no user
        related_name="+",
        verbose_name=_("user"),
    )

    class Meta(AbstractBaseSession.Meta):
        db_table = "seamline_session"


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user: models.Model, name: str = "") -> tuple[ApiToken, str]:
        """A new token for the user: the row (hash and prefix only) and the token itself, which is never stored."""
        token = secrets.token_urlsafe(32)
        row = self.create(user=user, name=name, prefix=token[:PREFIX_LENGTH], key_hash=hash_token(token))
        return row, token

    def authenticate(self, token: str) -> ApiToken | None:
        """The active user's token matching ``token``, or None.

        Looked up by the SHA-256 of the presented token through a unique index: nothing secret is compared byte by
        byte, so response times tell an attacker nothing about how close a guess came.
        """
        if not token:
            return None
        row = self.select_related("user").filter(key_hash=hash_token(token), user__is_active=True).first()
        if row is not None:
            now = timezone.now()
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                self.model.objects.filter(pk=row.pk).update(last_used_at=now)
                row.last_used_at = now
        return row


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, blank=True, help_text=_("what the token is for"))
    prefix = models.CharField(
        _("prefix"), max_length=PREFIX_LENGTH, editable=False, help_text=_("the token's first characters")
    )
    key_hash = models.CharField(_("SHA-256 of the token"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["user__username", "-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)" if self.name else f"{self.prefix}…"


# The history tables are range-partitioned by day on their time column (dashboard/partitions.py creates the days
# ahead and drops whole days past the retention; migration 0007 made them). Their primary key is the natural one,
# which is also the charts' access path, and it holds the partition key as PostgreSQL requires. The foreign key to
# the cluster has no database constraint: Django still deletes a removed cluster's history, but no insert (thousands
# a second in a big fleet) checks and locks the cluster's row, and no partition created or dropped locks the
# cluster table.
HISTORY_CLUSTER = {"on_delete": models.CASCADE, "db_constraint": False, "db_index": False}


class NodeSample(models.Model):
    """One sample of one node's sessions: whether it answered, and its client sessions in all. The history's spine:
    a sample with no ServiceSample row for a service means that service held no connection then."""

    pk = models.CompositePrimaryKey("cluster", "node", "sampled_at")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="node_samples", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)  # "primary", or the replica's name
    sampled_at = models.DateTimeField(_("sampled at"))
    reachable = models.BooleanField(_("reachable"))
    total = models.PositiveIntegerField(_("client sessions"), default=0)
    max_connections = models.PositiveIntegerField(_("max_connections"), null=True, blank=True)
    reserved_connections = models.PositiveIntegerField(_("superuser_reserved_connections"), null=True, blank=True)
    # the vacuum horizon's oldest holder on the node (dashboard.hazards): by how many transactions, and for how long
    horizon_xmin_age = models.BigIntegerField(_("horizon held back (transactions)"), null=True, blank=True)
    horizon_seconds = models.FloatField(_("horizon held back (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("node sample")
        verbose_name_plural = _("node samples")
        permissions = [("view_full_query", _("Can see sessions' full query text"))]


class StateCounts(models.Model):
    """A service's sessions on one node by state: at one sample (ServiceSample), or summed over a bucket's samples
    (ServiceRollup)."""

    active = models.PositiveIntegerField(_("active"), default=0)
    idle = models.PositiveIntegerField(_("idle"), default=0)
    idle_in_transaction = models.PositiveIntegerField(_("idle in transaction"), default=0)
    idle_in_transaction_aborted = models.PositiveIntegerField(_("idle in transaction (aborted)"), default=0)
    waiting = models.PositiveIntegerField(_("waiting on a lock"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)

    class Meta:
        abstract = True


class ServiceSample(StateCounts):
    """A service's sessions on one node at one sample, by state. ``service`` is a name, not a key, so that history
    outlives a renamed or removed service; "" holds the unattributed sessions."""

    pk = models.CompositePrimaryKey("cluster", "node", "service", "sampled_at")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="service_samples", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    sampled_at = models.DateTimeField(_("sampled at"))
    service = models.CharField(_("service"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("service sample")
        verbose_name_plural = _("service samples")


class ReplicaSample(models.Model):
    """A standby's lag at one sample: seconds of replay delay (as the standby sees it, honest when the primary is
    idle) and bytes behind the primary's position at its latest sample."""

    pk = models.CompositePrimaryKey("cluster", "node", "sampled_at")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="replica_samples", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("replica"), max_length=100)
    sampled_at = models.DateTimeField(_("sampled at"))
    receiving = models.BooleanField(_("WAL receiver streaming"))
    replay_lag_bytes = models.BigIntegerField(_("replay lag (bytes)"), null=True, blank=True)
    replay_lag_seconds = models.FloatField(_("replay lag (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("replica sample")
        verbose_name_plural = _("replica samples")


# Rollups: the samples of each 5-minute bucket summed up per series, written with the samples themselves (in the
# same transaction, dashboard/rollups.py), so that windows with buckets of 5 minutes or more read one row per series
# and 5 minutes whatever the sampling interval. Counts are sums over the bucket's samples under the samples' own
# column names (an average is the sum over the samples counted), plus the peaks.


class NodeRollup(models.Model):
    """A node's samples in one 5-minute bucket."""

    pk = models.CompositePrimaryKey("cluster", "node", "bucket")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="node_rollups", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    bucket = models.DateTimeField(_("bucket start"))
    samples = models.PositiveIntegerField(_("samples"), default=0)
    reachable = models.PositiveIntegerField(_("reachable samples"), default=0)
    total = models.PositiveIntegerField(_("client sessions (sum over the samples)"), default=0)
    total_max = models.PositiveIntegerField(_("client sessions (peak)"), default=0)
    horizon_xmin_age_max = models.BigIntegerField(_("horizon held back (transactions, peak)"), null=True, blank=True)
    horizon_seconds_max = models.FloatField(_("horizon held back (s, peak)"), null=True, blank=True)

    class Meta:
        verbose_name = _("node rollup (5 min)")
        verbose_name_plural = _("node rollups (5 min)")


class ServiceRollup(StateCounts):
    """A service's sessions on one node in one 5-minute bucket: the sums over the samples in which it held any."""

    pk = models.CompositePrimaryKey("cluster", "node", "service", "bucket")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="service_rollups", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    bucket = models.DateTimeField(_("bucket start"))
    service = models.CharField(_("service"), max_length=100, blank=True)
    total_max = models.PositiveIntegerField(_("total (peak)"), default=0)

    class Meta:
        verbose_name = _("service rollup (5 min)")
        verbose_name_plural = _("service rollups (5 min)")


class ReplicaRollup(models.Model):
    """A standby's lag in one 5-minute bucket: the worst seconds, and the bytes summed over the samples that had
    a byte lag (their average is the sum over that count)."""

    pk = models.CompositePrimaryKey("cluster", "node", "bucket")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="replica_rollups", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("replica"), max_length=100)
    bucket = models.DateTimeField(_("bucket start"))
    samples = models.PositiveIntegerField(_("samples"), default=0)
    receiving = models.PositiveIntegerField(_("samples with the WAL receiver streaming"), default=0)
    replay_lag_seconds_max = models.FloatField(_("worst replay lag (s)"), null=True, blank=True)
    replay_lag_bytes_sum = models.BigIntegerField(_("replay lag (bytes, sum over the samples)"), default=0)
    replay_lag_bytes_samples = models.PositiveIntegerField(_("samples with a byte lag"), default=0)

    class Meta:
        verbose_name = _("replica rollup (5 min)")
        verbose_name_plural = _("replica rollups (5 min)")


class ActionLog(models.Model):
    """Every attempt to cancel or terminate a session, allowed, denied or failed: written before any signal is sent
    (no row, no signal), and append-only (a database trigger refuses UPDATE and DELETE). Names are kept as text, so
    the log outlives the users and clusters it names."""

    class Action(models.TextChoices):
        CANCEL = "cancel", _("cancel the query")
        TERMINATE = "terminate", _("terminate the session")

    at = models.DateTimeField(_("at"), auto_now_add=True)
    user = models.CharField(_("user"), max_length=150)
    cluster = models.CharField(_("cluster"), max_length=100)
    node = models.CharField(_("node"), max_length=100)
    pid = models.IntegerField(_("pid"))
    backend_start = models.CharField(_("backend start"), max_length=40)
    service = models.CharField(_("service"), max_length=100, blank=True)
    query = models.TextField(_("query (masked)"), blank=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    reason = models.TextField(_("reason"), blank=True)
    result = models.CharField(_("result"), max_length=200)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("session action")
        verbose_name_plural = _("session actions")
        permissions = [("signal_session", _("Can cancel or terminate a monitored session"))]


# Statement statistics (issue 16; dashboard/statements/). Partitioned by UTC day on ``ended_at`` like the history
# above (dashboard.partitions), with the same retention.


class StatementInterval(models.Model):
    """One statements sample of one node: the interval since the node's previous one, or a baseline (``started_at``
    None: the first sample of a node, or one after its baseline was lost, has nothing to subtract from). Its flags
    are what the page says about the interval's figures."""

    pk = models.CompositePrimaryKey("cluster", "node", "ended_at")
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="statement_intervals", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    started_at = models.DateTimeField(_("from"), null=True, blank=True)
    ended_at = models.DateTimeField(_("to"))
    reset = models.BooleanField(_("statistics reset in the interval"), default=False)
    evicted = models.BigIntegerField(
        _("entries evicted in the interval"), null=True, blank=True
    )  # pg_stat_statements_info.dealloc's rise; None before 1.9: unknown
    entries = models.PositiveIntegerField(_("entries read"), default=0)

    class Meta:
        verbose_name = _("statements interval")
        verbose_name_plural = _("statements intervals")

    @property
    def possibly_incomplete(self) -> bool:
        """Entries were evicted to make room: what they did in the interval is missing."""
        return bool(self.evicted)


class StatementCounters(models.Model):
    """What one statement (of one role, in one database) cost one node: deltas of pg_stat_statements' counters, of
    one interval (StatementSample) or summed over an hour (StatementRollup). ``queryid`` 0 is a service's "other
    statements" (those past the top of their interval, and those whose id the monitoring role cannot see).
    ``service`` is a name ("" when no service's db_roles list the role), ``shared`` when several services list the
    role and none of them owns the statement's database."""

    service = models.CharField(_("service"), max_length=100, blank=True)
    shared = models.BooleanField(_("shared role"), default=False)
    database = models.CharField(_("database"), max_length=63, blank=True)
    role = models.CharField(_("role"), max_length=63, blank=True)
    queryid = models.BigIntegerField(_("statement id"))  # 0: other statements
    toplevel = models.BooleanField(_("top level"), default=True)
    calls = models.BigIntegerField(_("calls"))
    total_ms = models.FloatField(_("execution time (ms)"))
    rows = models.BigIntegerField(_("rows"))
    shared_blks_hit = models.BigIntegerField(_("shared blocks hit"))
    shared_blks_read = models.BigIntegerField(_("shared blocks read"))
    temp_blks_written = models.BigIntegerField(_("temp blocks written"))
    wal_bytes = models.BigIntegerField(_("WAL bytes"))

    class Meta:
        abstract = True


class StatementSample(StatementCounters):
    """A statement's deltas in one interval of one node. Per interval, the node's top statements by time are kept one
    by one and the rest summed per service in the "other statements" row."""

    pk = models.CompositePrimaryKey(
        "cluster", "node", "ended_at", "service", "shared", "database", "role", "queryid", "toplevel"
    )
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="statement_samples", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    ended_at = models.DateTimeField(_("interval end"))

    class Meta:
        verbose_name = _("statement sample")
        verbose_name_plural = _("statement samples")


class StatementText(models.Model):
    """A statement's text, stored once per cluster and statement id, its literals masked. A utility statement's
    text is never stored (it can hold a password): only its command tag."""

    cluster = models.ForeignKey("catalog.Cluster", on_delete=models.CASCADE, related_name="statement_texts")
    queryid = models.BigIntegerField(_("statement id"))
    command = models.CharField(_("command"), max_length=60)
    utility = models.BooleanField(_("utility statement"))
    text = models.TextField(_("text, literals masked"), blank=True)
    parsed = models.BooleanField(_("parsed"), default=True)
    relations = models.JSONField(_("relations"), default=list)  # [[schema or null, name, "read"|"write"], ...]
    first_seen = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "queryid"], name="statement_text_unique")]
        verbose_name = _("statement text")
        verbose_name_plural = _("statement texts")


class StatementRollup(StatementCounters):
    """A statement's deltas summed over one hour (``bucket``): what windows of a day and more read, so that a week is
    168 rows per statement, not 10,080."""

    pk = models.CompositePrimaryKey(
        "cluster", "node", "bucket", "service", "shared", "database", "role", "queryid", "toplevel"
    )
    cluster = models.ForeignKey(
        "catalog.Cluster", related_name="statement_rollups", verbose_name=_("cluster"), **HISTORY_CLUSTER
    )
    node = models.CharField(_("node"), max_length=100)
    bucket = models.DateTimeField(_("hour"))

    class Meta:
        verbose_name = _("statement rollup (1 h)")
        verbose_name_plural = _("statement rollups (1 h)")
