"""SQLite's SQL fragments: JSON arrays through json_each, json_extract, a lon/lat box."""

from __future__ import annotations

import json
from typing import Any

from app.store.sql import SqlDialect


class SQLiteSql(SqlDialect):
    """The fragments of ``app.store.sql.SqlDialect`` in SQLite's SQL (functions of
    app/store/sqlite/connection.py where SQLite has none)."""

    def in_list(self, column: str, values: list[Any], name: str) -> tuple[str, dict[str, Any]]:
        # A JSON array: no limit on how many values.
        return f"{column} IN (SELECT value FROM json_each(:{name}))", {name: json.dumps(list(values))}

    def json_int(self, column: str, key: str) -> str:
        return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def json_flag(self, column: str, key: str) -> str:
        return f"coalesce(json_extract({column}, '$.{key}'), 0)"  # 1/0

    def local_month(self, column: str) -> str:
        return f"local_month({column}, :zone)"

    def point_in_box(self) -> str:
        return "lat BETWEEN :south AND :north AND lon BETWEEN :west AND :east"

    def shape_in_box(self, alias: str) -> str:
        # The stored box first (indexed after run_id), then the exact test on the few rows left.
        return (f"{alias}.east >= :west AND {alias}.west <= :east AND {alias}.north >= :south "
                f"AND {alias}.south <= :north AND shape_in_box({alias}.geom, :west, :south, :east, :north)")
