"""Errors raised on user input, with messages a GIS clerk can act on.

The web layer maps these to 4xx responses in one place (``app/errors.py``).
"""

from __future__ import annotations

from typing import Any


class SpatialInputError(Exception):
    """A file or parameter supplied by a user cannot be used as it is."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidUpload(SpatialInputError):
    """The uploaded file is unreadable, unsafe, or holds nothing usable."""


class UploadTooLarge(SpatialInputError):
    """The upload (or what it unpacks to) is over the configured size limit."""
