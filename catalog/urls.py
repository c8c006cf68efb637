from django.urls import path

from . import audit_views, map_views, views

urlpatterns = [
    path("services/", views.services, name="services"),
    path("services/<int:pk>/", views.service_detail, name="service"),
    path("schemas/", views.schemas, name="schemas"),
    path("schemas/<int:pk>/", views.schema_detail, name="schema"),
    path("relations/<int:pk>/", views.relation_detail, name="relation"),
    path("paths/", views.paths, name="paths"),
    path("map/", map_views.map_page, name="map"),
    path("map/figures.json", map_views.map_figures, name="map_figures"),
    path("map/download", map_views.map_download, name="map_download"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster"),
    path("clusters/<int:pk>/sync", views.cluster_sync, name="cluster_sync"),
    path("audits/", audit_views.audits_page, name="audits"),
    path("clusters/<int:pk>/audit", audit_views.audit_now, name="audit_now"),
    path("clusters/<int:pk>/audits.json", audit_views.audit_history, name="audit_history"),
    path("services/<int:pk>/scorecard.json", audit_views.service_scorecard, name="service_scorecard"),
]
