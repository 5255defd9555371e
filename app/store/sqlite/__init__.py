"""The embedded SQLite implementation of the store (standard-library ``sqlite3``, no extension).

Each module here subclasses the portable base class of the matching module of
``app/store`` and implements what PostGIS does in SQL that SQLite cannot run.
Geometries are WKB with a bounding box in four columns; spatial work (clipping,
tiles, point-in-polygon) is done in Python with shapely, as PostGIS would do it
in the database.
"""
