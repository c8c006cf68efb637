"""The JSON API against its own OpenAPI description, fuzzed by schemathesis: whatever it is sent, it never answers
with a server error (5xx), and its answers match what it describes."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from dashboard.api import api
from dashboard.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1"))


@pytest.fixture
def token(viewer):
    return ApiToken.objects.issue(viewer)[1]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_a_server_error(case, token, demo_catalog):
    response = case.call(app=get_wsgi_application(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/services?team=%00", 400),
        ("/api/v1/services/%00", 400),
        ("/api/v1/pools/%00", 400),
        ("/services/?team=a%00b", 400),
        ("/api/v1/services?limit=1&offset=9223372036854775808", 422),
    ],
)
def test_what_fuzzing_found_is_a_client_error(viewer_client, url, status):
    """NUL bytes PostgreSQL cannot store, and a number out of bigint's range, once answered 500."""
    assert viewer_client.get(url).status_code == status
