"""How well OCR read a page: mean word confidence, the share of doubtful words, and whether the page is flagged.

Each engine scores words its own way, so each has its thresholds: a word under ``low`` (the page view's
dashed "doubtful" words) is low, and a page is flagged as read badly when its mean word confidence is
under ``mean`` or more than ``share`` of its words are low.

- Tesseract (60, 60, 40%): from 148 SROIE receipts and 149 FUNSD forms (bench/bench_upright.py
  --quality-only, bench/RESULTS.md "Issue 22: upright pages"): it flags the worst 5% of the receipts
  (median mean 77.6, median low share 0.19) and 18% of the forms, FUNSD's noisy faxes.
- The PP-OCR engines (80, 90, 15%): their scores sit between 89 and 96 on receipts; these flag 10 of 150
  SROIE receipts read by PP-OCRv5, whose field ceiling is 55% against 81% on the others (bench/RESULTS.md,
  "Issue 22: the OCR engine decision").
"""

from __future__ import annotations

from typing import Iterable, NamedTuple



class Thresholds(NamedTuple):
    """An engine's word confidence under which a word is low, and the page mean and low share that flag a page."""

    low: float
    mean: float
    share: float

    def describe(self) -> str:
        """The thresholds in a few words, for the `ocr` summary."""
        return f"mean < {self.mean:g} or > {self.share:.0%} of words < {self.low:g}"


THRESHOLDS = {"tesseract": Thresholds(60.0, 60.0, 0.40), "rapidocr": Thresholds(80.0, 90.0, 0.15),
              "ppocrv5": Thresholds(80.0, 90.0, 0.15)}


class Quality(NamedTuple):
    """A page's OCR quality: mean word confidence (0-100, None without scored words), share of low words, flagged."""

    mean_conf: float | None
    low_share: float | None
    poor: bool


def quality(confs: Iterable[float | None], engine: str) -> Quality:
    """The quality of a page its engine read, from its words' confidences (None: no score for that word)."""
    scored = [float(c) for c in confs if c is not None]
    if not scored:
        return Quality(None, None, False)
    limits = THRESHOLDS[engine]
    mean = sum(scored) / len(scored)
    low = sum(c < limits.low for c in scored) / len(scored)
    return Quality(round(mean, 1), round(low, 3), mean < limits.mean or low > limits.share)
