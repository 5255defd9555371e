"""Fuzz every operation of the service's own OpenAPI schema with schemathesis, with a
valid token for each role and with none: no 5xx, and responses match the schema.

Bounded (a fixed number of derandomised examples per operation) so it runs in CI.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from app.jobs import RunWorker
from app.main import create_app
from app.ratelimit import RateLimiter, SignInLimits
from app.settings import Settings
from app.store.backends import POSTGIS
from tests.conftest import TEST_DATABASE_URL, auth

APP = create_app(Settings(environment="test", database_url=TEST_DATABASE_URL, statement_timeout_ms=0,
                          analysis_worker="inline", auth_cache_s=0), start_worker=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wired_app(session_factory):
    """Join the module's app to this test's rolled-back transaction."""
    APP.state.sessionmaker = session_factory
    APP.state.backend = POSTGIS
    APP.state.run_worker = RunWorker(session_factory, POSTGIS, "inline")
    # Fresh limits per test, so one test's refusals cannot turn the next one's calls into 429s.
    settings = APP.state.settings
    APP.state.limits = {"failed_auth": SignInLimits(10_000, 10_000, settings.failed_auth_window_s),
                        "heavy": RateLimiter(10_000, 60)}
    return APP


@pytest.fixture
def partner_token(store) -> str:
    from app.services.accounts import create_user_with_token

    return create_user_with_token(store, "fuzz-partner", "partner", communities=["Saint Mary Cayon"])


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_no_server_errors(case, wired_app, tokens, partner_token):
    for token in (partner_token, *(tokens[role] for role in ("viewer", "analyst", "gis", "admin"))):
        case.call_and_validate(headers=auth(token), checks=CHECKS)
    case.call_and_validate(checks=[not_a_server_error])  # anonymous
    APP.state.settings = APP.state.settings.model_copy(update={"public_access": True})
    try:
        case.call_and_validate(checks=[not_a_server_error])  # the public, when enabled
    finally:
        APP.state.settings = APP.state.settings.model_copy(update={"public_access": False})
