"""The content-addressed page cache in a folder the caller names: page images (PNG) and OCR words."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..errors import PageImageNotFound
from ..files import atomic_file, write_atomic
from .results import Word

VERSION = 1
KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def _digest(fields: dict) -> str:
    """SHA-256 hex of the canonical JSON of fields."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def image_key(sha256: str, page: int, dpi: int | None, preprocess: tuple[str, ...],
              rotate: int | str | None = None) -> str:
    """The key of a page image: file SHA-256, page, render dpi (None for image files), preprocessing and turn.

    ``rotate`` is None for a page read as it is, "auto" for one turned upright as detected, or the
    degrees an annotator turned it by: a detected turn and a chosen one are two images, both kept.
    """
    fields = {"v": VERSION, "sha256": sha256, "page": page, "dpi": dpi, "preprocess": list(preprocess)}
    if rotate is not None:
        fields["rotate"] = rotate
    return _digest(fields)


def ocr_key(image: str, lang: str, engine: str) -> str:
    """The key of the OCR of a page image: the image's key, the language and the engine with its version."""
    return _digest({"v": VERSION, "image": image, "lang": lang, "engine": engine})


def check_key(key: str) -> str:
    """The key if it is 64 lowercase hex digits; PageImageNotFound otherwise (keys come from URLs)."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise PageImageNotFound(f"not a page-image key: {str(key)[:80]!r}")
    return key


class PageCache:
    """Files of the cache: images/<k2>/<key>.png with a .json manifest, and ocr/<k2>/<key>.json.

    Reads take only regular files inside the cache: a link, or a folder that leads out of it, is
    treated as missing, so a link planted in the cache never serves a file from elsewhere.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def image_path(self, key: str) -> Path:
        """Where the PNG of a page image is (or will be)."""
        return self.root / "images" / key[:2] / f"{key}.png"

    def manifest_path(self, key: str) -> Path:
        """Where the recipe for re-making a page image is kept."""
        return self.root / "images" / key[:2] / f"{key}.json"

    def ocr_path(self, key: str) -> Path:
        """Where the words of an OCR'd page are kept."""
        return self.root / "ocr" / key[:2] / f"{key}.json"

    def holds(self, path: Path) -> bool:
        """Whether ``path`` is a regular file of the cache: not a link, and inside the cache once resolved."""
        try:
            return (not path.is_symlink() and path.is_file()
                    and path.resolve().is_relative_to(self.root.resolve()))
        except OSError:
            return False

    def cached_image(self, key: str) -> Path | None:
        """The PNG of a page image if the cache holds it, or None."""
        path = self.image_path(check_key(key))
        return path if self.holds(path) else None

    def read_manifest(self, key: str) -> dict | None:
        """The manifest of a page image, or None."""
        return self._read_json(self.manifest_path(check_key(key)))

    def write_manifest(self, key: str, manifest: dict) -> None:
        """Record how to re-make a page image (once; later calls for the same key do nothing)."""
        path = self.manifest_path(key)
        if not path.exists():
            write_atomic(path, json.dumps(manifest, sort_keys=True).encode())

    def read_ocr(self, key: str) -> dict | None:
        """The cached OCR entry (words, size, skew ...) of a page, or None if absent or unreadable."""
        entry = self._read_json(self.ocr_path(key))
        if entry is None or entry.get("v") != VERSION:
            return None
        entry["words"] = [Word(t, tuple(b), c, bl, ln) for t, b, c, bl, ln in entry["words"]]
        return entry

    def write_ocr(self, key: str, entry: dict) -> None:
        """Store the OCR entry of a page."""
        data = dict(entry, v=VERSION, words=[list(w) for w in entry["words"]])
        write_atomic(self.ocr_path(key), json.dumps(data, separators=(",", ":")).encode())

    def _read_json(self, path: Path) -> dict | None:
        """A JSON file's object, or None if it is missing, damaged or not the cache's own file."""
        if not self.holds(path):
            return None
        try:
            with open(path, "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None


def save_png_atomic(image, path: Path) -> None:
    """Save a Pillow image as PNG (fast compression), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as f:
        image.save(f, format="PNG", compress_level=1)
