"""The front-end assets under ``/static/vendor``: a clear 503 when they were never installed."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app.errors import error_body


# The pages' own scripts (the "New analysis" form), package data under app/static/.
APP_STATIC = Path(__file__).resolve().parent.parent / "static"


class VendorAssets(StaticFiles):
    """Leaflet and friends; without the folder, Starlette would answer 500 to every request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.directory is None or not Path(self.directory).is_dir():
            response = JSONResponse(
                error_body("The map assets (Leaflet) are not installed on this server, so maps cannot be drawn. "
                           "An administrator installs them with scripts/ensure-assets.sh."),
                status_code=503, headers={"Retry-After": "3600"})
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
