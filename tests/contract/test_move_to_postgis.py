"""Moving from the embedded store to PostGIS with `hotspots db copy-to`: everything arrives, once."""

from __future__ import annotations

import os

import mapbox_vector_tile
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import SAMPLE_ATTRIBUTION, SAMPLE_BOUNDARIES, cli
from app.db import make_engine, make_sessionmaker
from app.security import hash_token
from app.services.demo import prepare_demo
from app.settings import Settings
from app.store.backends import backend_for
from app.store.transfer import TABLES
from tests.browser_support import backend_database
from tests.contract.test_store_contract import BASSETERRE, tile_of


@pytest.fixture
def embedded_demo(tmp_path, monkeypatch) -> tuple[str, dict]:
    with backend_database("sqlite", "embedded", tmp_path) as url:
        settings = Settings(database_url=url, statement_timeout_ms=0)
        engine = make_engine(settings)
        with make_sessionmaker(engine)() as session:
            ready = prepare_demo(backend_for(engine).bind(session), settings, sample_boundaries=SAMPLE_BOUNDARIES,
                                 attribution=SAMPLE_ATTRIBUTION, incidents=1500)
        engine.dispose()
        monkeypatch.setenv("HOTSPOTS_DATABASE_URL", url)
        yield url, ready


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(Settings(database_url=url, statement_timeout_ms=0))
    with engine.connect() as conn:
        counts = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table, _ in TABLES}
    engine.dispose()
    return counts


def test_copy_to_postgis_moves_everything_and_the_service_goes_on(embedded_demo, tmp_path):
    source_url, ready = embedded_demo
    with backend_database("postgis", f"hotspots_move_{os.getpid()}", tmp_path) as target_url:
        result = CliRunner().invoke(cli, ["db", "copy-to", target_url])
        assert result.exit_code == 0, result.output
        before, after = _counts(source_url), _counts(target_url)
        assert after == before and after["incidents"] == 1500 and after["hotspot_cells"] > 1000

        settings = Settings(database_url=target_url, statement_timeout_ms=0)
        engine = make_engine(settings)
        with make_sessionmaker(engine)() as session:
            store = backend_for(engine).bind(session)
            # The demo's token still signs in; new rows take new ids; tiles are drawn by PostGIS.
            assert store.accounts.principal_for_token(hash_token(ready["token"])).role == "admin"
            new_id = session.execute(text("INSERT INTO users (name, role) VALUES ('after-move', 'viewer') "
                                          "RETURNING id")).scalar_one()
            assert new_id > before["users"]
            x, y = tile_of(*BASSETERRE, 13)
            _, tile = store.tiles.hotspot_cells_tile(ready["run_id"], 9, 13, x, y, 5000)
            assert mapbox_vector_tile.decode(tile)["hotspots"]["features"]
            inside = session.execute(text(
                "SELECT count(*) FROM incidents i JOIN communities c ON c.id = i.community_id "
                "WHERE ST_Intersects(c.geom, i.geom)")).scalar_one()
            assert inside == session.execute(text(
                "SELECT count(*) FROM incidents WHERE community_id IS NOT NULL")).scalar_one()
            session.rollback()
        engine.dispose()

        again = CliRunner().invoke(cli, ["db", "copy-to", target_url])  # a second copy is refused, nothing doubled
        assert again.exit_code == 1 and "already holds data" in again.output
        assert _counts(target_url) == after


def test_every_table_the_models_declare_is_moved():
    """A table added by a migration and a model but forgotten here would be left behind by ``copy-to``."""
    import models

    # privacy_rules: one row, which the service sets from its own settings when it starts
    assert set(models.Base.metadata.tables) - {"privacy_rules"} == {table for table, _ in TABLES}
