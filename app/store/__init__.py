"""The store: every SQL statement of the service lives in this package.

``protocols.py`` says what the service may ask of it (one Protocol per aggregate);
``backends.py`` binds a session to a ``Store`` of PostGIS or SQLite implementations.
PostgreSQL-specific SQL (COPY, ST_AsMVT) stays in the PostGIS classes here.
"""
