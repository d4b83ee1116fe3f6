"""Preprocessing steps, each on a generated image."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.documents import lines_of_words, render_gray, text_image, write_lines
from PIL import Image

from vnerteach.documents import parse_preprocess
from vnerteach.documents.preprocess import apply, estimate_skew, otsu_threshold, upscale_factor
from vnerteach.errors import UsageError


@pytest.fixture(scope="module")
def page():
    import pymupdf

    doc = pymupdf.open()
    p = doc.new_page(width=612, height=792)
    write_lines(p, lines_of_words(3, 24, 8), y0=90, leading=24)
    return render_gray(p, 150)


def test_parse_preprocess_orders_and_checks():
    assert parse_preprocess("deskew, grayscale,deskew") == ("grayscale", "deskew")
    assert parse_preprocess(["binarize", "upscale"]) == ("upscale", "binarize")
    assert parse_preprocess("") == parse_preprocess(None) == parse_preprocess("none") == ()
    with pytest.raises(UsageError, match=r"unknown preprocessing step 'sharpen'; valid steps: grayscale, "):
        parse_preprocess("grayscale,sharpen")
    with pytest.raises(UsageError, match="choose one threshold"):
        parse_preprocess("binarize,adaptive")


@pytest.mark.parametrize("angle", [3.0, -3.0, 0.7, 0.0])
def test_deskew_finds_the_rotation_and_straightens(page, angle):
    rotated = page.rotate(angle, resample=Image.BICUBIC, fillcolor=255)
    assert abs(estimate_skew(rotated) - angle) <= 0.5
    done = apply(rotated, ("deskew",))
    assert abs(done.skew - angle) <= 0.5 and done.image.size == page.size
    assert abs(estimate_skew(done.image)) <= 0.3


def test_grayscale():
    assert apply(Image.new("RGB", (20, 10), (200, 10, 10)), ("grayscale",)).image.mode == "L"


def test_binarize_uses_otsu(page):
    noisy = np.asarray(page, dtype=np.int16) // 2 + 60  # ink ~60, paper ~187: a dull scan
    image = Image.fromarray(noisy.astype(np.uint8), "L")
    assert 60 < otsu_threshold(np.asarray(image)) <= 187
    out = np.asarray(apply(image, ("binarize",)).image)
    assert set(np.unique(out)) <= {0, 255}
    assert ((out == 0) == (np.asarray(page) < 128)).mean() > 0.99


def test_adaptive_threshold_survives_uneven_light(page):
    a = np.asarray(page, dtype=np.float64)
    shade = np.linspace(0.25, 1.0, a.shape[1])[None, :]  # dark on the left, bright on the right
    image = Image.fromarray((a * shade).clip(0, 255).astype(np.uint8), "L")
    paper = np.asarray(page) > 200
    adaptive = np.asarray(apply(image, ("adaptive",)).image)
    otsu = np.asarray(apply(image, ("binarize",)).image)
    assert (adaptive[paper] == 255).mean() > 0.97
    assert (otsu[paper] == 255).mean() < (adaptive[paper] == 255).mean()
    ink = np.asarray(page) < 80
    assert (adaptive[ink] == 0).mean() > 0.8


def test_denoise_removes_speckle():
    rng = np.random.default_rng(1)
    a = np.full((200, 300), 255, np.uint8)
    a[rng.random(a.shape) < 0.02] = 0
    out = np.asarray(apply(Image.fromarray(a, "L"), ("denoise",)).image)
    assert (out == 0).sum() < 0.05 * (a == 0).sum()


def test_upscale_enlarges_small_text_only():
    lines = ["tiny receipt text", "total amount 399", "cash change due", "thank you"]
    small = text_image(lines, size=(500, 160), fontsize=9, dpi=100)
    factor = upscale_factor(small)
    assert 2 <= factor <= 4
    done = apply(small, ("upscale",))
    assert done.scale == factor and done.image.size == (round(500 * factor), round(160 * factor))
    big = text_image(lines, size=(1200, 500), fontsize=11, dpi=300)
    assert upscale_factor(big) == 1.0
