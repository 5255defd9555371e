"""Receive an uploaded file into a temporary directory, within the size limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from spatial.errors import InvalidUpload, UploadTooLarge
from spatial.uploads import upload_workspace

CHUNK = 1024 * 1024


def safe_filename(name: str | None) -> str:
    """The file's own name, without any directory part or odd characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return base[:200] or "upload"


@contextmanager
def received_file(upload: UploadFile, max_bytes: int) -> Iterator[Path]:
    """Copy an upload to a temporary directory that is always removed afterwards."""
    with upload_workspace(prefix="upload-") as workdir:
        target = workdir / safe_filename(upload.filename)
        written = 0
        with target.open("wb") as out:
            while block := upload.file.read(CHUNK):
                written += len(block)
                if written > max_bytes:
                    raise UploadTooLarge(
                        f"The file is larger than the upload limit of {max_bytes // (1024 * 1024)} MB."
                    )
                out.write(block)
        if written == 0:
            raise InvalidUpload("The uploaded file is empty.")
        yield target
