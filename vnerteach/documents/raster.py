"""Image files with Pillow: frame count, size and dpi from the header, and one decoded frame."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import InputError


def pixel_limit() -> int:
    """The decompression-bomb guard: Pillow's MAX_IMAGE_PIXELS (read when called, so it can be set)."""
    from PIL import Image

    return Image.MAX_IMAGE_PIXELS or 0


def check_pixels(width: int, height: int, path: Path, page: int | None = None) -> None:
    """InputError if an image of this size is larger than the decompression-bomb guard allows."""
    limit = pixel_limit()
    if limit and width * height > limit:
        raise InputError(f"image too large: {width} x {height} = {width * height:,} pixels is over the "
                         f"limit of {limit:,} (decompression-bomb guard; PIL.Image.MAX_IMAGE_PIXELS)",
                         path, page=page)


def open_image(path: Path):
    """An open (not yet decoded) Pillow image; InputError for unreadable files and bombs."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as e:
        raise InputError(f"image too large (decompression-bomb guard): {e}", path) from None
    except UnidentifiedImageError:
        raise InputError("not a readable image: Pillow cannot identify it", path) from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise InputError(f"cannot read the image: {e}", path) from None
    try:
        check_pixels(image.width, image.height, path)
    except InputError:
        image.close()
        raise
    return image


def frame_count(image) -> int:
    """The number of pages (frames) of an open image: more than one for a multi-page TIFF."""
    return getattr(image, "n_frames", 1) or 1


def image_dpi(image) -> float | None:
    """The resolution the image file declares, or None when it declares none (or nonsense)."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        return None
    return round(value, 2) if 30 <= value <= 2400 else None


def load_frame(path: Path, index: int):
    """Frame index (0-based) of an image file, decoded to L or RGB, and its declared dpi; InputError if broken."""
    image = open_image(path)
    try:
        if index:
            image.seek(index)
        check_pixels(image.width, image.height, path, index + 1)
        dpi = image_dpi(image)
        image.load()
        if image.mode not in ("L", "RGB"):
            image = _flatten(image)
        return image, dpi
    except InputError:
        raise
    except (OSError, EOFError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot decode the image: {e}", path, page=index + 1) from None


def _flatten(image):
    """An image in L or RGB: transparency on white, palettes and 16-bit greys converted."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I", "F", "I;16", "I;16B", "I;16L"):
        import numpy as np

        a = np.asarray(image, dtype=np.float64)
        if a.max() > 255:
            a = a / 257.0
        return Image.fromarray(a.clip(0, 255).astype("uint8"), "L")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")
