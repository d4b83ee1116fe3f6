"""Files a user keeps (models, exports, OCR output): checked before the work starts."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError


def check_output(path: str | Path, folder: bool = False) -> Path:
    """The output path, if it can be written: its parent folder exists and nothing of the other kind is in the way."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder", path)
    if not folder and path.is_dir():
        raise InputError("is a folder; give a file name", path)
    if not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist (create it first)", path)
    return path
