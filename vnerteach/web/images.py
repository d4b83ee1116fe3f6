"""How the server finds a session's page images and reads a region of one: the lookups recipes give it
(documents.PageImages), a folder of images made elsewhere, or none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..errors import PageImageNotFound, VnerteachError

IMAGE_KEY_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")

RegionReader = Callable[[Path, object], list]  # (page image, [x0, y0, x1, y1]) -> documents.Word list


class ImageLookup(Protocol):
    """Page images by key (documents.PageImages, folder_images): one's PNG file, and another page of its document."""

    def __call__(self, key: str) -> Path: ...

    def other_page(self, key: str, page: int) -> dict: ...


class NoImages:
    """The page images of a session that was given none: every request for one is a 404."""

    def __call__(self, key: str) -> Path:
        raise PageImageNotFound("this session serves no page images")

    def other_page(self, key: str, page: int) -> dict:
        raise PageImageNotFound("this session serves no page images")


def english_region_reader(image: Path, box: object) -> list:
    """A region of a page image read by Tesseract in English (recipes pass one with their --lang)."""
    from ..documents import ocr_region

    return ocr_region(image, box)


@dataclass(frozen=True)
class FolderImages:
    """Page images as ``FOLDER/<key>.png``, each a page alone: for tests and for images made elsewhere."""

    folder: Path

    def __call__(self, key: str) -> Path:
        if not IMAGE_KEY_RE.match(key):
            raise VnerteachError(f"not an image key: {key[:80]!r}")
        path = (self.folder / f"{key}.png").resolve()
        if path.parent != self.folder or not path.is_file():
            raise VnerteachError(f"no page image {key}")
        return path

    def other_page(self, key: str, page: int) -> dict:
        raise PageImageNotFound(f"no other pages of {key[:80]!r}: images from a folder are pages alone")


def folder_images(root: str | Path) -> FolderImages:
    """Page images as ``ROOT/<key>.png``: for tests and for images made elsewhere."""
    return FolderImages(Path(root).resolve())
