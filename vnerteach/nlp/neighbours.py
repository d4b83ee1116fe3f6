"""A page's 2-D neighbourhood from its token boxes: the nearest token left, right, above and below, and lines.

Two boxes are on one line when they overlap vertically by at least half the smaller one's height.
A token's left neighbour is the nearest token on its line that ends before its centre; its above
neighbour the nearest token that overlaps it horizontally and ends above its centre (right and
below mirror them). A line is a chain of left neighbours: its first token (the line's key word,
such as ``TOTAL`` or ``Date:``) is the one reached by following them until there is none.
Indices are positions in the doc, -1 for none; a token without a box has no neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy

NONE = -1
SLOTS = ("left", "above", "line", "right", "below")
BLOCK = 256


@dataclass
class Neighbourhood:
    """Per token: neighbour indices (-1 for none), its line's first token, its place in its line."""

    left: numpy.ndarray
    right: numpy.ndarray
    above: numpy.ndarray
    below: numpy.ndarray
    line_first: numpy.ndarray  # the first token of the token's line (itself when it has no left neighbour)
    position: numpy.ndarray  # how many left neighbours precede it on its line
    line_size: numpy.ndarray  # tokens whose line starts at the same first token
    line_index: numpy.ndarray  # rank of the line from the top (by its first token's centre)
    n_lines: int

    def slot(self, name: str) -> numpy.ndarray:
        """The neighbour index per token of a slot in SLOTS ('line' is the line's first token, none for itself)."""
        if name == "line":
            own = self.line_first == numpy.arange(len(self.line_first))
            return numpy.where(own, NONE, self.line_first)
        return getattr(self, name)


def neighbourhood(boxes: Sequence[Sequence[float] | None]) -> Neighbourhood:
    """The neighbourhood of tokens with boxes ``[x0, y0, x1, y1]`` (None: no box, no neighbours)."""
    n = len(boxes)
    has = numpy.array([b is not None for b in boxes], dtype=bool)
    box = numpy.array([b if b is not None else (0, 0, 0, 0) for b in boxes], dtype="float64").reshape(n, 4)
    x0, y0, x1, y1 = (box[:, k] for k in range(4))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height = numpy.maximum(y1 - y0, 1e-6)
    left, right, above, below = (numpy.full(n, NONE, dtype="int64") for _ in range(4))
    for a in range(0, n, BLOCK):  # rows in blocks: a page of thousands of boxes stays within a few MB per matrix
        r = slice(a, min(n, a + BLOCK))
        pair = has[r, None] & has[None, :] & (numpy.arange(a, r.stop)[:, None] != numpy.arange(n)[None, :])
        v_overlap = numpy.minimum(y1[r, None], y1[None, :]) - numpy.maximum(y0[r, None], y0[None, :])
        same_line = pair & (v_overlap >= 0.5 * numpy.minimum(height[r, None], height[None, :]))
        h_overlap = numpy.minimum(x1[r, None], x1[None, :]) - numpy.maximum(x0[r, None], x0[None, :])
        column = pair & (h_overlap > 0) & ~same_line
        # [i, j]: j is a candidate for i; the nearest has the largest (left, above) or smallest (right, below) edge
        left[r] = _nearest(same_line & (x1[None, :] <= cx[r, None]) & (cx[None, :] < cx[r, None]), x1)
        right[r] = _nearest(same_line & (x0[None, :] >= cx[r, None]) & (cx[None, :] > cx[r, None]), -x0)
        above[r] = _nearest(column & (y1[None, :] <= cy[r, None]) & (cy[None, :] < cy[r, None]), y1)
        below[r] = _nearest(column & (y0[None, :] >= cy[r, None]) & (cy[None, :] > cy[r, None]), -y0)
    first, position = _chains(left)
    roots, line_size = numpy.unique(first[has], return_counts=True) if has.any() else (numpy.zeros(0, int),) * 2
    size = numpy.zeros(n, dtype="int64")
    index = numpy.full(n, NONE, dtype="int64")
    order = roots[numpy.argsort(cy[roots], kind="stable")]
    rank = {int(r): k for k, r in enumerate(order)}
    counts = dict(zip(roots.tolist(), line_size.tolist()))
    for i in numpy.flatnonzero(has):
        size[i] = counts[int(first[i])]
        index[i] = rank[int(first[i])]
    return Neighbourhood(left, right, above, below, first, position, size, index, len(roots))


def _nearest(candidates: numpy.ndarray, key: numpy.ndarray) -> numpy.ndarray:
    """Per row, the candidate column with the largest key, or -1 when the row has none."""
    if candidates.size == 0:
        return numpy.full(len(candidates), NONE, dtype="int64")
    scored = numpy.where(candidates, key[None, :], -numpy.inf)
    best = numpy.argmax(scored, axis=1)
    return numpy.where(candidates.any(axis=1), best, NONE).astype("int64")


def _chains(left: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Per token, the first token of its chain of left neighbours and how many steps away it is."""
    n = len(left)
    first = numpy.arange(n)
    position = numpy.zeros(n, dtype="int64")
    for i in range(n):
        j, steps = i, 0
        while left[j] != NONE and steps <= n:  # a left neighbour ends before the token's centre: no cycle
            j, steps = int(left[j]), steps + 1
        first[i], position[i] = j, steps
    return first, position
