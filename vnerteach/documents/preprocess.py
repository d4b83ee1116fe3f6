"""Page-image preprocessing before OCR with Pillow and NumPy: grayscale, upscale, deskew, denoise, thresholds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from ..errors import UsageError

STEPS = ("grayscale", "upscale", "deskew", "denoise", "binarize", "adaptive")
"""The steps, in the order they are applied whatever the order they were asked in."""

TARGET_LINE_HEIGHT = 40.0
MAX_UPSCALE = 4.0
MAX_SKEW = 10.0


@dataclass
class Processed:
    """A preprocessed page image, the skew angle that was corrected and the scale applied."""

    image: object
    skew: float = 0.0
    scale: float = 1.0


def parse_preprocess(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """Steps from a comma list (or a sequence), in application order; UsageError for unknown ones."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = {str(s).strip().lower() for s in items} - {"", "none"}
    unknown = sorted(names - set(STEPS))
    if unknown:
        raise UsageError(f"unknown preprocessing step{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(u) for u in unknown)}; valid steps: {', '.join(STEPS)}")
    if {"binarize", "adaptive"} <= names:
        raise UsageError("choose one threshold: 'binarize' (global Otsu) or 'adaptive' (local), not both")
    return tuple(s for s in STEPS if s in names)


def apply(image, steps: tuple[str, ...]) -> Processed:
    """Run the steps on an L or RGB image; boxes found afterwards are in the returned image's pixels."""
    from PIL import Image, ImageFilter

    out = Processed(image)
    if "grayscale" in steps or "binarize" in steps or "adaptive" in steps:
        out.image = out.image.convert("L")
    if "upscale" in steps:
        out.scale = upscale_factor(out.image)
        if out.scale > 1:
            w, h = out.image.size
            out.image = out.image.resize((round(w * out.scale), round(h * out.scale)), Image.BICUBIC)
    if "deskew" in steps:
        out.skew = estimate_skew(out.image)
        if abs(out.skew) >= 0.05:
            white = 255 if out.image.mode == "L" else (255, 255, 255)
            out.image = out.image.rotate(-out.skew, resample=Image.BICUBIC, expand=False, fillcolor=white)
    if "denoise" in steps:
        out.image = out.image.filter(ImageFilter.MedianFilter(3))
    if "binarize" in steps:
        out.image = binarize(out.image)
    if "adaptive" in steps:
        out.image = adaptive_threshold(out.image)
    return out


def otsu_threshold(gray) -> int:
    """Otsu's threshold of an 8-bit grey NumPy array: the level that best splits ink from paper."""
    import numpy as np

    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    w1 = total - w0
    mean_all = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * w0 - m0 * total) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return int(np.argmax(between)) + 1


def binarize(image):
    """Black and white (mode L, 0 or 255) by Otsu's global threshold."""
    import numpy as np
    from PIL import Image

    gray = np.asarray(image.convert("L"))
    return Image.fromarray(np.where(gray < otsu_threshold(gray), 0, 255).astype(np.uint8), "L")


def adaptive_threshold(image, offset: int = 12):
    """Black and white by a local mean threshold over a window about 1/40 of the page."""
    import numpy as np
    from PIL import Image, ImageFilter

    gray_img = image.convert("L")
    radius = max(7, min(gray_img.size) // 80)
    mean = np.asarray(gray_img.filter(ImageFilter.BoxBlur(radius)), dtype=np.int16)
    gray = np.asarray(gray_img, dtype=np.int16)
    return Image.fromarray(np.where(gray < mean - offset, 0, 255).astype(np.uint8), "L")


def _ink(image, max_side: int):
    """Coordinates (ys, xs) of dark pixels of a reduced copy, and the reduction factor."""
    import numpy as np
    from PIL import Image

    gray_img = image.convert("L")
    factor = min(1.0, max_side / max(gray_img.size))
    if factor < 1:
        gray_img = gray_img.resize((max(1, round(gray_img.width * factor)), max(1, round(gray_img.height * factor))),
                                   Image.BOX)
    gray = np.asarray(gray_img)
    dark = gray < otsu_threshold(gray)
    return dark, factor


def estimate_skew(image, max_angle: float = MAX_SKEW) -> float:
    """The angle in degrees (counter-clockwise) the text lines are rotated by; 0.0 when unsure."""
    import numpy as np

    dark, _ = _ink(image, 1600)
    if dark.mean() > 0.4:  # mostly dark: a photo or an inverted page, not lines of text
        return 0.0
    ys, xs = np.nonzero(dark)
    if len(ys) < 200:
        return 0.0
    if len(ys) > 120_000:
        pick = np.random.default_rng(0).choice(len(ys), 120_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float64)
    xs = xs.astype(np.float64) - dark.shape[1] / 2

    def sharpness(angle: float) -> float:
        t = math.radians(angle)
        proj = ys * math.cos(t) + xs * math.sin(t)
        hist = np.bincount((proj - proj.min()).astype(np.int64))
        return float(np.dot(hist, hist))

    def best(angles) -> tuple[float, float]:
        scores = [sharpness(a) for a in angles]
        i = int(np.argmax(scores))
        return float(angles[i]), scores[i]

    coarse, _ = best(np.arange(-max_angle, max_angle + 1e-9, 0.5))
    fine, score = best(np.arange(coarse - 0.5, coarse + 0.5 + 1e-9, 0.05))
    if score <= sharpness(0.0) * 1.0001:
        return 0.0
    return round(fine, 2)


def upscale_factor(image) -> float:
    """How much to enlarge an image so its typical text line is ~40 px high (1.0: leave it)."""
    height = line_height(image)
    if not height:
        return 1.0
    factor = min(MAX_UPSCALE, TARGET_LINE_HEIGHT / height)
    factor = math.floor(factor * 4) / 4
    return factor if factor >= 1.25 else 1.0


def line_height(image) -> float | None:
    """The median height in pixels of the bands of rows holding ink (text lines), or None."""
    import numpy as np

    dark, factor = _ink(image, 4000)
    if dark.mean() > 0.4:
        return None
    rows = dark.sum(axis=1)
    if rows.max() == 0:
        return None
    inked = rows > max(2, 0.02 * np.percentile(rows[rows > 0], 90))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], inked.astype(np.int8), [0]))))
    heights = edges[1::2] - edges[::2]
    heights = heights[heights >= 3]
    if len(heights) < 3:
        return None
    return float(np.median(heights)) / factor
