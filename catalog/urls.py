from django.urls import path

from .views import audits, clusters, paths, schemas, services
from .views import map as map_screen

urlpatterns = [
    path("services/", services.services, name="services"),
    path("services/<int:pk>/", services.service_detail, name="service"),
    path("schemas/", schemas.schemas, name="schemas"),
    path("schemas/<int:pk>/", schemas.schema_detail, name="schema"),
    path("relations/<int:pk>/", schemas.relation_detail, name="relation"),
    path("paths/", paths.paths, name="paths"),
    path("map/", map_screen.map_page, name="map"),
    path("map/data.json", map_screen.map_data, name="map_data"),
    path("map/paths", map_screen.map_paths, name="map_paths"),
    path("map/download", map_screen.map_download, name="map_download"),
    path("clusters/<int:pk>/", clusters.cluster_detail, name="cluster"),
    path("clusters/<int:pk>/sync", clusters.cluster_sync, name="cluster_sync"),
    path("audits/", audits.audits_page, name="audits"),
    path("clusters/<int:pk>/audit", audits.audit_now, name="audit_now"),
    path("clusters/<int:pk>/audits.json", audits.audit_history, name="audit_history"),
    path("services/<int:pk>/scorecard.json", audits.service_scorecard, name="service_scorecard"),
]
