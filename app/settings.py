"""Service settings, read from the environment with the ``HOTSPOTS_`` prefix."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from spatial.sensitive import SHIPPED_TERMS, classify

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev-secret-change-me"}

BBox = tuple[float, float, float, float]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A developer's checkout (alembic.ini and pyproject.toml beside the code) keeps var/ and static/
# in the project; an installed package keeps them under the directory it is started from.
CHECKOUT = (PROJECT_ROOT / "alembic.ini").is_file() and (PROJECT_ROOT / "pyproject.toml").is_file()


def _default_data_dir() -> Path:
    return PROJECT_ROOT / "var" if CHECKOUT else Path.cwd() / "var"


class Settings(BaseSettings):
    """Everything the service needs to know about where it runs.

    Every field can be set as an environment variable, e.g.
    ``HOTSPOTS_DATABASE_URL`` or ``HOTSPOTS_SERVICE_AREA="-62.9,17.0,-62.5,17.5"``.
    """

    model_config = SettingsConfigDict(env_prefix="HOTSPOTS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Empty: the embedded SQLite file <data_dir>/hotspots.sqlite (no server needed). Production:
    # postgresql+psycopg://user@host:5432/dbname (PostGIS).
    database_url: str = ""
    data_dir: Path = Field(default_factory=_default_data_dir)
    secret_key: str = "dev-secret-change-me"
    timezone: str = "America/St_Kitts"
    # How to read dates such as 03/04/2025 when a whole file cannot tell (none: refuse and ask).
    date_order: Literal["day-first", "month-first"] | None = None
    # Optional bounding box of the service area (west, south, east, north), in lon/lat.
    service_area: Annotated[BBox | None, NoDecode] = None
    max_upload_mb: int = Field(default=100, ge=1)
    import_chunk_rows: int = Field(default=50_000, ge=100)
    # Store the incident's H3 cell at this resolution; coarser parents are derived in SQL.
    h3_base_resolution: int = Field(default=15, ge=11, le=15)  # analyses go up to 11
    incidents_page_default: int = Field(default=100, ge=1)
    incidents_page_max: int = Field(default=1000, ge=1)
    statement_timeout_ms: int = Field(default=60_000, ge=0)
    # Privacy tiers for everyone below "analyst" (partners, viewers, the public).
    privacy_min_count: int = Field(default=5, ge=3, description="Counts below this are suppressed (never below 3)")
    privacy_max_resolution: int = Field(default=8, ge=5, le=9, description="Finest H3 resolution shown")
    # Terms added to the shipped list (spatial/sensitive.py), matched on folded word stems, so
    # "CRIM SEXUAL ASSAULT", "SEX OFFENSE" and "OFFENSE INVOLVING CHILDREN" are all caught; they
    # are written to the sensitive_terms table at start-up, where admins add more.
    sensitive_categories: Annotated[list[str], NoDecode] = [
        "sex", "rape", "domestic", "child", "indecent", "incest", "trafficking", "abuse",
    ]
    privacy_hold_back_days: int = Field(default=0, ge=0)
    public_access: bool = Field(default=False, description="Let anonymous visitors see public aggregates")
    # Abuse limits: failed sign-ins per token and client address (and, much higher, per address: it
    # never refuses a valid token; app/ratelimit.py), heavy requests (analyses, exports) per user.
    failed_auth_limit: int = Field(default=10, ge=1)
    failed_auth_address_limit: int = Field(default=200, ge=1)
    failed_auth_window_s: int = Field(default=300, ge=1)
    heavy_requests_per_minute: int = Field(default=30, ge=1)
    # Seconds a checked token is remembered (0: check the database on every request).
    auth_cache_s: float = Field(default=10, ge=0, le=300)
    # "thread": runs execute in a background thread; "inline": inside the submitting request.
    analysis_worker: Literal["thread", "inline"] = "thread"
    # Maps and pages. static/vendor holds the front-end assets (app/assets.py), static/maps the
    # generated map pages; default static/ in a checkout, <data_dir>/static when installed.
    # No basemap by default: the maps work offline.
    static_dir: Path = Field(default=None, validate_default=False)  # type: ignore[assignment]
    map_inline_max_cells: int = Field(default=3000, ge=1)  # larger runs draw from vector tiles
    basemap_url: str | None = None  # e.g. https://tile.example.org/{z}/{x}/{y}.png
    basemap_attribution: str = ""
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    # The address people and QGIS use, e.g. https://hotspots.example.gov.kn. When set, absolute URLs
    # (TileJSON tiles, Location, next links) are built from it and never from the request's Host;
    # required in production.
    public_url: str | None = None
    # Community briefs (app/services/briefs.py). PDFs are printed by this Chromium (empty: the system's
    # chromium, else Playwright's own). The scheduled job writes partner briefs of these communities
    # (empty: every community of the active set) to briefs_dir, weekly or monthly; "off" writes none.
    chromium_path: str | None = None
    briefs_dir: Path | None = None
    briefs_schedule: Literal["off", "weekly", "monthly"] = "off"
    briefs_communities: Annotated[list[str], NoDecode] = []
    # Memory for finished runs' vector tiles (they never change, so repeats skip the database).
    tile_cache_mb: int = Field(default=64, ge=0)

    @model_validator(mode="after")
    def _default_embedded_database(self) -> Settings:
        if self.static_dir is None:
            self.static_dir = PROJECT_ROOT / "static" if CHECKOUT else self.data_dir / "static"
        if not self.database_url.strip():
            self.database_url = f"sqlite:///{(self.data_dir / 'hotspots.sqlite').resolve()}"
        return self

    @property
    def embedded(self) -> bool:
        """True on the embedded SQLite store, False on PostGIS."""
        return self.database_url.startswith("sqlite")

    @field_validator("service_area", mode="before")
    @classmethod
    def _parse_bbox(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            parts = [p for p in value.replace(" ", "").split(",") if p]
            return tuple(float(p) for p in parts)
        return value

    @field_validator("service_area")
    @classmethod
    def _check_bbox(cls, value: BBox | None) -> BBox | None:
        if value is None:
            return value
        west, south, east, north = value
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError("service_area must be west,south,east,north in degrees, west<east and south<north")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") \
                or parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("HOTSPOTS_PUBLIC_URL must be the service's address with no path, "
                             "e.g. https://hotspots.example.gov.kn")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 16:
            raise ValueError("HOTSPOTS_SECRET_KEY is a placeholder or too short; set a real secret (16+ characters) "
                             "before running in production")
        if not self.public_url:
            raise ValueError("HOTSPOTS_PUBLIC_URL is not set; set it to the service's public address "
                             "(e.g. https://hotspots.example.gov.kn) so that links never echo a request's Host header")
        if self.public_access and (self.privacy_min_count < 5 or not self.sensitive_categories
                                   or self.privacy_max_resolution > 8):
            raise ValueError("HOTSPOTS_PUBLIC_ACCESS is on with weakened privacy (k below 5, no sensitive "
                             "categories, or cells finer than resolution 8); anonymous visitors would reach "
                             "restricted detail. Restore the defaults or turn public access off.")
        return self

    @field_validator("briefs_communities", mode="before")
    @classmethod
    def _split_brief_communities(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [v for v in (p.strip() for p in value.split(",")) if v]
        return value

    @model_validator(mode="after")
    def _briefs_need_a_folder(self) -> Settings:
        if self.briefs_schedule != "off" and self.briefs_dir is None:
            raise ValueError("HOTSPOTS_BRIEFS_SCHEDULE is set but HOTSPOTS_BRIEFS_DIR is not: name the folder the "
                             "scheduled briefs are written to")
        return self

    @field_validator("sensitive_categories", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [v for v in (p.strip() for p in value.split(",")) if v]
        return value

    @field_validator("sensitive_categories")
    @classmethod
    def _lower_categories(cls, value: list[str]) -> list[str]:
        return sorted({v.strip().lower() for v in value if v.strip()})

    def is_sensitive(self, category: str | None) -> bool:
        """Under the shipped terms and these (the admins' own are in the database)."""
        return classify(category, (*SHIPPED_TERMS, *self.sensitive_categories)).sensitive

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
