"""Safe handling of uploaded files, shared by boundary and incident uploads.

The rules, in the order they are applied:

* the upload itself is size-limited (``UploadLimits.max_upload_bytes``);
* a ZIP archive is inspected from its central directory *before* anything is
  extracted: entry count, total declared uncompressed size, compression ratio,
  encrypted entries, and entry names (``..``, absolute paths, drive letters,
  backslash tricks, NUL bytes, symbolic links, duplicates) are checked;
* while extracting, the bytes actually written are counted, because declared
  sizes can lie; extraction stops as soon as an entry writes more than it
  declared or the total goes over the limit;
* XML (KML) is refused when it has a ``<!DOCTYPE`` or ``<!ENTITY``
  declaration, checked on the raw bytes before any XML parser or GDAL sees it;
* everything is unpacked into a temporary directory that ``upload_workspace``
  always removes. Readers only ever open real files inside that directory:
  no path, URL or GDAL virtual file system prefix (``/vsizip/``,
  ``/vsicurl/``, ...) is ever built from what the user sent.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spatial.errors import InvalidUpload, UploadTooLarge

MB = 1024 * 1024

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Limits applied to one upload.

    ``max_compression_ratio`` is checked only for entries that unpack to more
    than ``ratio_check_min_bytes``: small files (a ``.prj``, a ``.cpg``) often
    compress very well and are harmless, while a zip bomb has to be big.
    Shapefile ``.dbf`` files with wide, space-padded text columns can
    legitimately compress 50-100 times, hence the generous default of 200
    (a deflate bomb reaches about 1000).
    """

    max_upload_bytes: int = 100 * MB
    max_uncompressed_bytes: int = 1024 * MB
    max_archive_entries: int = 1000
    max_compression_ratio: float = 200.0
    ratio_check_min_bytes: int = 1 * MB
    # A set of community boundaries: far above any real one (St Kitts and Nevis: 14 parishes,
    # a city's neighbourhoods: a few thousand), low enough that overlap checks stay quick.
    max_boundary_features: int = 50_000
    max_boundary_vertices: int = 5_000_000


# Every workspace is named after the process that made it, so that one left behind by a killed
# process (kill -9 runs no clean-up) can be recognised and removed at the next start.
WORKSPACE_PREFIX = "hotspots-work-"
_WORKSPACE_NAME = re.compile(rf"^{WORKSPACE_PREFIX}(\d+)-")


@contextmanager
def upload_workspace(prefix: str = "upload-") -> Iterator[Path]:
    """A private temporary directory, removed on exit whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-{prefix}"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def remove_stale_workspaces(temp_dir: Path | None = None) -> list[Path]:
    """Remove upload workspaces whose process is gone (left by a killed process); return them.

    Workspaces of live processes (other workers of the service, this process) are kept.
    """
    removed = []
    for entry in Path(temp_dir or tempfile.gettempdir()).iterdir():
        match = _WORKSPACE_NAME.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink() or _process_alive(int(match.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or a name we cannot judge: leave it
    return True


def check_upload_size(path: Path, limits: UploadLimits) -> int:
    """Return the file's size; refuse an empty file or one over the limit."""
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise UploadTooLarge(
            f"The file is {_human_size(size)}, more than the limit of "
            f"{_human_size(limits.max_upload_bytes)}. Simplify or split it and upload again.",
            {"size_bytes": size, "limit_bytes": limits.max_upload_bytes},
        )
    if size == 0:
        raise InvalidUpload("The file is empty (0 bytes). Export it again and upload the new file.")
    return size


# --- recognising what a file is, from its first bytes ----------------------

ZIP = "zip"
SQLITE = "sqlite"
JSON = "json"
XML = "xml"
TEXT = "text"
BINARY = "binary"

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def sniff_content(path: Path) -> str:
    """Classify a file by its first bytes: zip, sqlite, json, xml, text or binary."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"SQLite format 3\x00"):
        return SQLITE
    text = _decode_head(head)
    if text is None:
        return BINARY
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return JSON
    if stripped.startswith("<"):
        return XML
    return TEXT


def _decode_head(head: bytes) -> str | None:
    for bom, encoding in zip(_BOMS, ("utf-8", "utf-16-le", "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore")
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still text.
        if error.start >= len(head) - 3:
            return head[: error.start].decode("utf-8")
        return head.decode("latin-1") if _mostly_printable(head) else None


def _mostly_printable(data: bytes) -> bool:
    printable = sum(32 <= byte < 127 or byte in b"\r\n\t" for byte in data)
    return printable >= 0.9 * len(data)


# --- XML: no DTDs, no entities ----------------------------------------------

_XML_DANGER = (b"<!doctype", b"<!entity")
_XML_DANGER_PATTERNS = [
    needle.decode().encode(encoding) for needle in _XML_DANGER for encoding in ("utf-16-le", "utf-16-be")
] + list(_XML_DANGER)


def refuse_xml_declarations(path: Path, shown_name: str) -> None:
    """Refuse an XML file that declares a DOCTYPE or ENTITY (XXE, billion laughs).

    Checked on the raw bytes (in UTF-8/ASCII and UTF-16), case-insensitively,
    before any parser reads the file. KML never needs either declaration.
    """
    overlap = max(len(pattern) for pattern in _XML_DANGER_PATTERNS)
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = (tail + chunk).lower()
            if any(pattern in window for pattern in _XML_DANGER_PATTERNS):
                raise InvalidUpload(
                    f"'{shown_name}' contains a <!DOCTYPE> or <!ENTITY> declaration. "
                    "KML files never need one and it can be used to read files from the server, "
                    "so the file is refused. Export the KML again from your GIS.",
                    {"file": shown_name, "reason": "xml_declaration"},
                )
            tail = chunk[-overlap:]


# --- ZIP archives -----------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveEntry:
    """One file extracted from an archive: its name in the archive and on disk."""

    name: str
    path: Path
    size: int


def safe_extract_zip(archive: Path, destination: Path, limits: UploadLimits) -> list[ArchiveEntry]:
    """Check a ZIP archive, then extract its files under ``destination``.

    All checks on the central directory happen before a single byte is
    written; the actual sizes are then verified while extracting. Directory
    entries are skipped (folders are created as needed). Raises
    ``InvalidUpload`` or ``UploadTooLarge``.
    """
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = _checked_members(bundle, limits)
            return [_extract_member(bundle, member, destination, limits) for member in members]
    except zipfile.BadZipFile as error:
        raise InvalidUpload(
            "The ZIP archive is damaged or incomplete and cannot be opened. Create it again and upload it.",
            {"reason": str(error)},
        ) from None
    except OSError as error:
        # e.g. one entry is a file and another treats it as a folder.
        raise InvalidUpload(
            "The ZIP archive could not be unpacked: its file names clash with each other. "
            "Create it again from the files themselves.",
            {"reason": "unpack_failed", "error": error.__class__.__name__},
        ) from None
    except (NotImplementedError, RuntimeError) as error:
        # Unsupported compression method (e.g. deflate64) or similar.
        raise InvalidUpload(
            "The ZIP archive uses a compression method that cannot be read. "
            "Create it again with ordinary (deflate) compression.",
            {"reason": str(error)},
        ) from None


def _checked_members(bundle: zipfile.ZipFile, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    infos = bundle.infolist()
    if len(infos) > limits.max_archive_entries:
        raise UploadTooLarge(
            f"The ZIP archive holds {len(infos)} files, more than the limit of {limits.max_archive_entries}.",
            {"entries": len(infos), "limit": limits.max_archive_entries},
        )
    seen: set[str] = set()
    total = 0
    members = []
    for info in infos:
        _check_entry_name(info)
        key = info.filename.replace("\\", "/").rstrip("/").casefold()
        if key in seen:
            raise InvalidUpload(
                f"The ZIP archive holds '{info.filename}' more than once.",
                {"entry": info.filename, "reason": "duplicate_entry"},
            )
        seen.add(key)
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise InvalidUpload(
                "The ZIP archive is password-protected. Upload it without a password.",
                {"entry": info.filename, "reason": "encrypted"},
            )
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise UploadTooLarge(
                "The ZIP archive would unpack to more than "
                f"{_human_size(limits.max_uncompressed_bytes)}, so it is refused.",
                {"declared_bytes_so_far": total, "limit_bytes": limits.max_uncompressed_bytes,
                 "reason": "uncompressed_size"},
            )
        _check_ratio(info, limits)
        members.append(info)
    return members


def _check_entry_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    unsafe = (
        not name
        or "\x00" in name
        or normalised.startswith("/")
        or _DRIVE.match(normalised) is not None
        or ".." in parts
        or any(":" in part for part in parts)
    )
    if unsafe:
        raise InvalidUpload(
            f"The ZIP archive contains an unsafe file name ('{name}') that points outside the archive. "
            "Create the archive again from the files themselves.",
            {"entry": name, "reason": "path_traversal"},
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidUpload(
            f"The ZIP archive contains a symbolic link ('{name}'). "
            "Create the archive again from the files themselves.",
            {"entry": name, "reason": "symlink"},
        )


def _check_ratio(info: zipfile.ZipInfo, limits: UploadLimits) -> None:
    if info.file_size <= limits.ratio_check_min_bytes:
        return
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > limits.max_compression_ratio:
        raise UploadTooLarge(
            f"'{info.filename}' in the ZIP archive is compressed {ratio:.0f} times "
            f"(more than {limits.max_compression_ratio:.0f}), which is what a zip bomb looks like. "
            "The archive is refused.",
            {"entry": info.filename, "ratio": round(ratio, 1), "limit": limits.max_compression_ratio,
             "reason": "compression_ratio"},
        )


def _extract_member(
    bundle: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, limits: UploadLimits
) -> ArchiveEntry:
    target = destination.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
    root = destination.resolve()
    if root not in target.resolve().parents:
        raise InvalidUpload(
            f"The ZIP archive contains an unsafe file name ('{info.filename}').",
            {"entry": info.filename, "reason": "path_traversal"},
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    # zipfile stops at the declared size and then checks the CRC, so a lying
    # header ends in BadZipFile; counting here as well keeps the limit ours.
    with bundle.open(info) as source, target.open("xb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size or written > limits.max_uncompressed_bytes:
                raise UploadTooLarge(
                    f"'{info.filename}' in the ZIP archive unpacks to more than it declares, "
                    "so the archive is refused.",
                    {"entry": info.filename, "declared_bytes": info.file_size, "reason": "size_mismatch"},
                )
            sink.write(chunk)
    return ArchiveEntry(name=info.filename, path=target, size=written)


def _human_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"
