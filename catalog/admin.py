from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import addresses, claims
from .catalog_file import REPLICATION_KEYS, TRANSACTION_KEYS
from .credentials import PASSWORD_ENV_PREFIX, destinations, dsn_problem, encrypt_password, password_env_problem
from .errors import CredentialsError
from .models import (
    AuditRun,
    Cluster,
    Contract,
    EventPublication,
    Ownership,
    Replica,
    RuleSeverity,
    Service,
    Suppression,
    SyncRun,
)
from .ownership import assign_owners
from .rules import RULES


class CheckedDsn:
    """A form's DSN is refused when libpq cannot parse it or it carries a password. A refused DSN may hold a password
    (even one libpq cannot parse), so the form shows the stored DSN again, or nothing, never the refused text."""

    def clean_dsn(self) -> str:
        dsn = self.cleaned_data["dsn"]
        problem = dsn_problem(dsn)
        if problem:
            self.data = self.data.copy()
            self.data[self.add_prefix("dsn")] = self.initial.get("dsn", "")
            raise forms.ValidationError(problem)
        return dsn


class ReplicaForm(CheckedDsn, forms.ModelForm):
    class Meta:
        model = Replica
        fields = ["name", "dsn"]


class ReplicaInline(admin.TabularInline):
    model = Replica
    form = ReplicaForm
    extra = 0


class ClusterForm(CheckedDsn, forms.ModelForm):
    """The password is write-only: it can be set or cleared here, and is stored encrypted, never shown."""

    new_password = forms.CharField(
        label=_("New password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("stored encrypted with SEAMLINE_FERNET_KEYS; leave empty to keep the current one"),
    )
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)

    class Meta:
        model = Cluster
        fields = [
            "name",
            "dsn",
            "password_env",
            "auth",
            "databases",
            "aliases",
            "sample_interval",
            "idle_in_transaction_threshold",
            "long_query_threshold",
            "statements_interval",
            "statements_database",
            *REPLICATION_KEYS,  # the thresholds: the catalog file's keys are the fields' names
            *TRANSACTION_KEYS,
        ]

    def clean_password_env(self) -> str:
        name = self.cleaned_data.get("password_env") or ""
        if password_env_problem(name):
            raise forms.ValidationError(
                _("Name an environment variable whose name starts with %(prefix)s (capital letters, digits and _).")
                % {"prefix": PASSWORD_ENV_PREFIX}
            )
        return name

    def clean_aliases(self) -> list[str]:
        aliases = self.cleaned_data.get("aliases") or []
        wrong = [alias for alias in aliases if addresses.parse_address(alias) is None]
        if wrong:
            raise forms.ValidationError(
                _("Not HOST:PORT (a port from 1 to 65535): %(aliases)s") % {"aliases": ", ".join(wrong)}
            )
        return aliases

    def clean(self):
        data = super().clean()
        if data.get("new_password"):
            try:
                self.instance.encrypted_password = encrypt_password(data["new_password"])
            except CredentialsError as exc:
                raise forms.ValidationError(str(exc)) from None
        elif data.get("clear_password"):
            self.instance.encrypted_password = ""
        return data


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterForm
    list_display = ["name", "dsn", "password_env", "has_stored_password", "synced_at"]
    search_fields = ["name"]
    readonly_fields = ["server_version", "max_connections", "superuser_reserved_connections", "synced_at"]
    inlines = [ReplicaInline]

    @admin.display(boolean=True, description=_("stored password"))
    def has_stored_password(self, obj: Cluster) -> bool:
        return bool(obj.encrypted_password)

    def save_model(self, request, obj: Cluster, form, change: bool) -> None:
        # where the stored password went until now: the nodes as stored, before this save changes any of them
        form.sent_to = destinations(Cluster.objects.get(pk=obj.pk).node_dsns()) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change: bool) -> None:
        """A stored password goes only where it was entered for: a node added, or one's host, port, user or database
        changed (here, with the replicas saved), removes it, unless a new one was entered in the same save."""
        super().save_related(request, form, formsets, change)
        cluster = form.instance
        if form.sent_to is None or not cluster.encrypted_password or form.cleaned_data.get("new_password"):
            return
        if destinations(cluster.node_dsns()) != form.sent_to:
            Cluster.objects.filter(pk=cluster.pk).update(encrypted_password="")
            messages.warning(
                request,
                gettext(
                    "The stored password of %(cluster)s was removed: its nodes changed (a node added, or a host, port, "
                    "user or database), and a password goes only where it was entered for. Enter it again."
                )
                % {"cluster": cluster.name},
            )


class OwnershipInline(admin.TabularInline):
    model = Ownership
    extra = 0


class EventPublicationInline(admin.TabularInline):
    model = EventPublication
    extra = 0


class ContractInline(admin.TabularInline):
    model = Contract
    fk_name = "consumer"
    extra = 0


class OwnerAssigningAdmin(admin.ModelAdmin):
    """Ownership edited here must reach the synced schemas at once, as an import does."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        assign_owners()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        assign_owners()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        assign_owners()


@admin.register(Service)
class ServiceAdmin(OwnerAssigningAdmin):
    list_display = ["name", "team", "oncall", "pool_size", "max_overflow", "instances"]
    list_filter = ["team"]
    search_fields = ["name", "team", "description"]
    inlines = [OwnershipInline, ContractInline, EventPublicationInline]

    def changelist_view(self, request, extra_context=None):
        _warn_conflicts(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            service = self.get_object(request, object_id)
            _warn_conflicts(request, service.name if service else None)
        return super().change_view(request, object_id, form_url, extra_context)


def _warn_conflicts(request, service: str | None = None) -> None:
    """Names two services on one cluster both claim (catalog.claims), as warnings above the page."""
    for c in claims.conflicts():
        if service is None or service in c.services:
            what = gettext("application name") if c.kind == claims.APPLICATION else gettext("role")
            messages.warning(
                request,
                gettext(
                    "On %(cluster)s, %(services)s claim the %(what)s %(name)s: its sessions are counted as %(first)s's."
                )
                % {
                    "cluster": c.cluster,
                    "services": ", ".join(c.services),
                    "what": what,
                    "name": c.name,
                    "first": c.services[0],
                },
            )


@admin.register(Ownership)
class OwnershipAdmin(OwnerAssigningAdmin):
    list_display = ["service", "cluster", "database", "schema"]
    list_filter = ["cluster"]


admin.site.register(Contract)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["cluster", "status", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "cluster"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditRun)
class AuditRunAdmin(admin.ModelAdmin):
    """Runs are written by the audit only; the admin shows them (and may delete old ones)."""

    list_display = ["cluster", "status", "trigger", "user", "created_at", "finished_at", "counts"]
    list_filter = ["status", "trigger", "cluster"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RuleSeverityForm(forms.ModelForm):
    rule = forms.ChoiceField(label=_("rule"), choices=[(code, code) for code in sorted(RULES)])

    class Meta:
        model = RuleSeverity
        fields = ["rule", "severity"]


@admin.register(RuleSeverity)
class RuleSeverityAdmin(admin.ModelAdmin):
    form = RuleSeverityForm
    list_display = ["rule", "severity"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Who suppressed a finding, and when, is recorded from the request, never typed in."""

    list_display = ["cluster", "rule", "object", "reason", "expires_at", "created_by", "created_at"]
    list_filter = ["cluster", "rule"]
    fields = ["cluster", "rule", "object", "reason", "expires_at", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
