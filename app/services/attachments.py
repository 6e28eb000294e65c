"""Files sent to a visit's chat, on disk.

A file's type is told from its content (magic numbers, by the `filetype` library), never
from its name or the type its sender claimed: a PDF named photo.png is a PDF, and a
program named letter.pdf is refused. Files are kept in ATTACHMENTS_DIR, outside the web
root, under random names; each is written to a temporary file first and renamed into
place only when whole, so an upload that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from flask import current_app

from app.services.errors import Invalid, TooLarge, UnsupportedType
from app.services.text import clean_line

# filetype reads no further than this to recognise a type.
SNIFF_BYTES = 8192
CHUNK_BYTES = 64 * 1024
MAX_NAME = 255
TEXT = "text/plain"


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name its sender gave it (only ever a download name) and
    its bytes."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str


def clean_filename(name: object) -> str:
    """The name to offer on download: the last part of any path, one clean line (no
    control or bidi characters, so "gpj.exe" cannot read as "exe.jpg"), no leading dots,
    at most 255 characters with the extension kept."""
    name = clean_line(name if isinstance(name, str) else "")
    name = re.split(r"[\\/]", name)[-1].strip().lstrip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME]
    return name or "attachment"


def detect_type(head: bytes) -> str | None:
    """The type of a file from its first bytes; text/plain for UTF-8 text (checked to the
    end by `store`); None when it is nothing we recognise."""
    kind = filetype.guess(head[:SNIFF_BYTES])
    if kind is not None:
        return kind.mime
    if b"\x00" in head:
        return None
    # A multi-byte character may be cut at the end of the head: decode incrementally.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return TEXT


def folder() -> Path:
    return Path(current_app.config["ATTACHMENTS_DIR"])


def path_of(stored_name: str) -> Path:
    return folder() / stored_name


def store(
    upload: Upload, types: Collection[str] | None = None, limit: int | None = None
) -> StoredFile:
    """Check an upload's type (415) and size (413), then keep it under a random name.
    The types and the limit are the chat's (ATTACHMENT_TYPES, MAX_UPLOAD_BYTES) unless
    given.

    Raises Invalid for an empty file. The caller records it in the database and calls
    `discard` if that fails."""
    limit = limit or current_app.config["MAX_UPLOAD_BYTES"]
    types = current_app.config["ATTACHMENT_TYPES"] if types is None else types
    head = upload.stream.read(SNIFF_BYTES)
    if not head:
        raise Invalid("The file is empty.", fields={"file": "The file is empty."})
    content_type = detect_type(head)
    if content_type is None or content_type not in types:
        raise UnsupportedType(_refusal(types))
    target = folder()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored_name = secrets.token_urlsafe(32)
    handle, temporary = tempfile.mkstemp(dir=target, prefix=".upload-")
    try:
        digest, size = hashlib.sha256(), 0
        text = codecs.getincrementaldecoder("utf-8")() if content_type == TEXT else None
        with os.fdopen(handle, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"The file is too large (at most {_size(limit)}).")
                if text is not None and (b"\x00" in chunk or not _decodes(text, chunk)):
                    raise UnsupportedType(_refusal(types))
                digest.update(chunk)
                out.write(chunk)
                chunk = upload.stream.read(CHUNK_BYTES)
            if text is not None and not _decodes(text, b"", final=True):
                raise UnsupportedType(_refusal(types))
        os.replace(temporary, target / stored_name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return StoredFile(
        stored_name=stored_name,
        original_name=clean_filename(upload.filename),
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
    )


def discard(stored_name: str) -> None:
    """Remove a kept file (its database row was never committed)."""
    path_of(stored_name).unlink(missing_ok=True)


def _decodes(decoder, chunk: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _kinds(types: Collection[str]) -> str:
    labels = [_label(t) for t in types]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def _refusal(types: Collection[str]) -> str:
    return f"This kind of file cannot be sent here: send a {_kinds(types)} file."


def what_may_be_sent() -> str:
    """The chat's files in words, for the room page: "PDF, PNG or JPEG, up to 25 MB"."""
    config = current_app.config
    return f"{_kinds(config['ATTACHMENT_TYPES'])}, up to {_size(config['MAX_UPLOAD_BYTES'])}"


def _size(limit: int) -> str:
    megabytes = limit / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{limit // 1024} KB"


def _label(content_type: str) -> str:
    labels = {
        "application/pdf": "PDF",
        "image/png": "PNG",
        "image/jpeg": "JPEG",
        "image/gif": "GIF",
        "image/webp": "WebP",
        TEXT: "plain text",
    }
    return labels.get(content_type, content_type)
