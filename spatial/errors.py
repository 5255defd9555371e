"""Errors for refused spatial input, worded for the person who uploaded the file.

The web edge maps these to status codes in one place (``SpatialInputError`` and
``InvalidUpload`` to 422/400, ``UploadTooLarge`` to 413). ``message`` is shown
to the user as it is; ``details`` is a JSON-able dict with the specifics
(layer names, available fields, the underlying reader's message, ...).
"""

from __future__ import annotations

from typing import Any


class SpatialInputError(Exception):
    """Spatial input that cannot be used, with a message for the uploader."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"message": ..., "details": {...}}``."""
        return {"message": self.message, "details": self.details}


class InvalidUpload(SpatialInputError):
    """The uploaded file is refused: wrong format, unsafe, damaged or unusable."""


class UploadTooLarge(InvalidUpload):
    """The upload, or what it would unpack to, is over a size limit."""
