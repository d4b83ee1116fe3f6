"""How well OCR read a page: mean word confidence, the share of doubtful words, and whether the page is flagged.

A word under LOW_CONF (60 of 100, the page view's dashed "doubtful" words) is low. A page is flagged as
read badly when its mean word confidence is under POOR_MEAN (60) or more than POOR_LOW_SHARE (40%) of its
words are low. Chosen from the distributions of 148 SROIE receipts and 149 FUNSD forms read by Tesseract
(bench/bench_upright.py --quality-only, bench/RESULTS.md "Issue 22: upright pages"): it flags the worst
5% of the receipts (median mean 77.6, median low share 0.19) and 18% of the forms, FUNSD's noisy faxes
(median 72.3 and 0.27); 65 or 35% would flag 9% of receipts and over a quarter of the forms.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

LOW_CONF = 60.0
POOR_MEAN = 60.0
POOR_LOW_SHARE = 0.40


class Quality(NamedTuple):
    """A page's OCR quality: mean word confidence (0-100, None without scored words), share of low words, flagged."""

    mean_conf: float | None
    low_share: float | None
    poor: bool


def quality(confs: Iterable[float | None]) -> Quality:
    """The quality of a page from its words' confidences (None: the engine gave none for that word)."""
    scored = [float(c) for c in confs if c is not None]
    if not scored:
        return Quality(None, None, False)
    mean = sum(scored) / len(scored)
    low = sum(c < LOW_CONF for c in scored) / len(scored)
    return Quality(round(mean, 1), round(low, 3), mean < POOR_MEAN or low > POOR_LOW_SHARE)
