from django.contrib import admin

from .models import Cluster, Contract, Ownership, Replica, Service


class ReplicaInline(admin.TabularInline):
    model = Replica
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "dsn", "password_env"]
    search_fields = ["name"]
    inlines = [ReplicaInline]


class OwnershipInline(admin.TabularInline):
    model = Ownership
    extra = 0


class ContractInline(admin.TabularInline):
    model = Contract
    fk_name = "consumer"
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "oncall", "pool_size", "max_overflow", "instances"]
    list_filter = ["team"]
    search_fields = ["name", "team", "description"]
    inlines = [OwnershipInline, ContractInline]


admin.site.register(Contract)
admin.site.register(Ownership)
