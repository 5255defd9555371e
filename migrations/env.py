"""Alembic environment: URL from the service settings; GeoAlchemy2 helpers so spatial
indexes are declared once, explicitly, and never re-generated."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

import models
from app.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = models.Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or Settings().database_url


def _configure(**kwargs: object) -> None:
    connection = kwargs.get("connection")
    url = str(kwargs.get("url") or (connection.engine.url if connection is not None else ""))
    context.configure(
        render_as_batch=url.startswith("sqlite"),  # SQLite alters tables by copying them
        target_metadata=target_metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = _url()
    if url.startswith("sqlite"):
        from app.store.sqlite.connection import make_sqlite_engine

        engine = make_sqlite_engine(url)
    else:
        engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Batch mode drops and re-creates tables: with foreign keys on, dropping a parent
            # would cascade into its children. (A pragma, so before any transaction starts.)
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
