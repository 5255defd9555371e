"""The embedded store's migrations go down as well as up, like PostGIS's (scripts/test.sh does that there)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from app.cli import alembic_config


def test_sqlite_migrates_up_down_to_base_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = create_engine(url)
    tables_at_head = set(inspect(engine).get_table_names())
    views_at_head = set(inspect(engine).get_view_names())
    command.downgrade(config, "base")
    engine.dispose()
    left = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert left == set() and inspect(engine).get_view_names() == []
    command.upgrade(config, "head")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) == tables_at_head
    assert set(inspect(engine).get_view_names()) == views_at_head
    assert "kind" in {column["name"] for column in inspect(engine).get_columns("hotspot_runs")}
    engine.dispose()
