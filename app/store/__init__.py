"""The store: every SQL statement of the service lives in this package.

Handlers and services call these functions with a SQLAlchemy ``Session``;
PostgreSQL-specific SQL (COPY, ST_AsMVT) stays here behind plain functions.
"""
