"""Settings: the HOTSPOTS_ prefix, parsing, and the refusal to start unsafely in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings

SECRET = "a-real-secret-of-some-length"


def test_values_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOTSPOTS_SERVICE_AREA", "-62.9,17.0,-62.5,17.5")
    monkeypatch.setenv("HOTSPOTS_SENSITIVE_CATEGORIES", "Rape, Domestic, child")
    monkeypatch.setenv("HOTSPOTS_TIMEZONE", "America/St_Kitts")
    settings = Settings()
    assert settings.service_area == (-62.9, 17.0, -62.5, 17.5)
    assert settings.sensitive_categories == ["child", "domestic", "rape"]
    assert settings.is_sensitive("OFFENSE INVOLVING CHILDREN") and settings.is_sensitive("Domestic Battery")
    defaults = Settings(_env_file=None, sensitive_categories=Settings.model_fields["sensitive_categories"].default)
    assert all(defaults.is_sensitive(c) for c in ("CRIM SEXUAL ASSAULT", "SEX OFFENSE", "OFFENSE INVOLVING CHILDREN"))
    assert not settings.is_sensitive("Theft")


@pytest.mark.parametrize("bad", [{"service_area": (10, 0, 5, 1)}, {"timezone": "Mars/Olympus"},
                                 {"privacy_min_count": 2}, {"max_upload_mb": 0}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_production_refuses_a_placeholder_secret():
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")
    assert Settings(environment="production", secret_key=SECRET).environment == "production"


@pytest.mark.parametrize("weakened", [{"privacy_min_count": 3}, {"sensitive_categories": []},
                                      {"privacy_max_resolution": 9}])
def test_production_refuses_public_access_with_weakened_privacy(weakened):
    with pytest.raises(ValidationError, match="PUBLIC_ACCESS"):
        Settings(environment="production", secret_key=SECRET, public_access=True, **weakened)
    Settings(environment="production", secret_key=SECRET, public_access=False, **weakened)
    Settings(environment="production", secret_key=SECRET, public_access=True)
