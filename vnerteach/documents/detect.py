"""What a file is, by its content (magic bytes) rather than its name, and its SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError

KINDS = ("pdf", "png", "jpeg", "tiff", "bmp", "webp")
SUFFIXES = {".pdf": "pdf", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg",
            ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp", ".dib": "bmp", ".webp": "webp"}
NAMES = {"pdf": "PDF", "png": "PNG image", "jpeg": "JPEG image", "tiff": "TIFF image",
         "bmp": "BMP image", "webp": "WebP image"}


def sniff(head: bytes) -> str | None:
    """The kind of file these first bytes start, or None when it is none of the supported ones."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def file_kind(path: Path) -> str:
    """The supported kind of a file, from its content; InputError names what is wrong."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as e:
        raise InputError(f"cannot read the file: {e.strerror or e}", path) from None
    if not head:
        raise InputError("empty file (0 bytes)", path)
    kind = sniff(head)
    if kind is not None:
        return kind
    expected = SUFFIXES.get(path.suffix.lower())
    supported = ", ".join(NAMES[k] for k in KINDS)
    if expected is None:
        raise InputError(f"unsupported file type '{path.suffix or '(none)'}' (supported: {supported})", path)
    raise InputError(f"not a {NAMES[expected]}: the extension says {path.suffix} but the content "
                     f"does not (it starts with {head[:8]!r})", path)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def is_document(path: Path | str) -> bool:
    """True if the file's extension is one of the supported document types."""
    return Path(path).suffix.lower() in SUFFIXES
