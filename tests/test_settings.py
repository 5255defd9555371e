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


PUBLIC_URL = "https://hotspots.example.gov.kn"


def test_production_refuses_a_placeholder_secret():
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", public_url=PUBLIC_URL)
    assert Settings(environment="production", secret_key=SECRET, public_url=PUBLIC_URL).environment == "production"


def test_production_needs_the_public_url():
    with pytest.raises(ValidationError, match="HOTSPOTS_PUBLIC_URL"):
        Settings(environment="production", secret_key=SECRET)
    assert Settings(environment="development").public_url is None  # development keeps the request's Host


@pytest.mark.parametrize("bad", ["ftp://x.org", "https://x.org/hotspots", "https://user:pw@x.org", "x.org"])
def test_public_url_must_be_an_address_without_a_path(bad):
    with pytest.raises(ValidationError, match="PUBLIC_URL"):
        Settings(public_url=bad)
    assert Settings(public_url="https://x.org:8443/").public_url == "https://x.org:8443"


@pytest.mark.parametrize("weakened", [{"privacy_min_count": 3}, {"sensitive_categories": []},
                                      {"privacy_max_resolution": 9}])
def test_production_refuses_public_access_with_weakened_privacy(weakened):
    with pytest.raises(ValidationError, match="PUBLIC_ACCESS"):
        Settings(environment="production", secret_key=SECRET, public_url=PUBLIC_URL, public_access=True, **weakened)
    Settings(environment="production", secret_key=SECRET, public_url=PUBLIC_URL, public_access=False, **weakened)
    Settings(environment="production", secret_key=SECRET, public_url=PUBLIC_URL, public_access=True)
