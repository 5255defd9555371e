"""The embedded SQLite implementation of the store (standard-library ``sqlite3``, no extension).

Each module here mirrors a module of ``app/store`` and holds the functions whose
PostGIS SQL SQLite cannot run; ``app.store.backend.per_backend`` sends a call
here when the session is on SQLite. Geometries are WKB with a bounding box in
four columns; spatial work (clipping, tiles, point-in-polygon) is done in
Python with shapely, as PostGIS would do it in the database.
"""
