"""Docs from a task's own tokens with their boxes, and the layout-aware embedding registered with spaCy.

A token's box, normalised by the page size, lives in ``doc.user_data[BOXES_KEY]`` (a list with one
``[x0, y0, x1, y1]`` or ``None`` per token), so it survives ``DocBin(store_user_data=True)``.
``vnerteach.LayoutEmbed.v1`` is spaCy's MultiHashEmbed with a small vector of the token's own box
features concatenated before its mixing layer. ``vnerteach.LayoutEmbed.v2`` (the default) adds the
token's 2-D neighbourhood (``neighbours.py``): its line and column geometry, and hash embeddings of
the NORM of its nearest neighbours (left, above, its line's first token), so a value is known by
the key word beside or over it. Both are registered with spaCy's architecture registry here and
through the ``spacy_architectures`` entry point, so a saved model loads with ``spacy.load`` anywhere
vnerteach is installed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, Maxout, chain, concatenate, list2ragged, ragged2list, with_array
from thinc.types import Ragged

from .lexemes import N_COLUMNS as N_LEXEME_COLUMNS, hash_tables, lexeme_embeddings, static_vectors
from .neighbours import NONE, SLOTS, neighbourhood

BOXES_KEY = "vnerteach_boxes"
# x0, y0, x1, y1, width, height, has a box, gap from the previous token's right edge, change of line top
N_LAYOUT_FEATURES = 9
LAYOUT_ARCH_V1 = "vnerteach.LayoutEmbed.v1"
LAYOUT_ARCH = "vnerteach.LayoutEmbed.v2"
# first in line, last in line, place in line, line from the top, line length, gap to the left neighbour,
# gap to the above neighbour, has one above, left edges aligned with it, right edges aligned with it
N_NEIGHBOUR_FEATURES = 10
NEIGHBOURS = ["left", "above", "line"]
NEIGHBOUR_ROWS = 2500


def task_boxes(task: dict) -> list[list[float] | None] | None:
    """The task's token boxes normalised to 0..1 by the page size, or None if no token has a box."""
    tokens = task.get("tokens") or []
    if not any(t.get("bbox") for t in tokens):
        return None
    width, height = task.get("width"), task.get("height")
    if not width or not height:  # no page size: the tokens' extent stands in for it
        width = max((t["bbox"][2] for t in tokens if t.get("bbox")), default=1) or 1
        height = max((t["bbox"][3] for t in tokens if t.get("bbox")), default=1) or 1
    return [[round(b[0] / width, 5), round(b[1] / height, 5), round(b[2] / width, 5), round(b[3] / height, 5)]
            if (b := t.get("bbox")) else None for t in tokens]


def make_doc(vocab: Any, words: Sequence[str], spaces: Sequence[bool],
             boxes: Sequence[Sequence[float] | None] | None = None) -> Doc:
    """A Doc of exactly these words, with the normalised boxes (if any) in its user_data."""
    doc = Doc(vocab, words=list(words), spaces=list(spaces))
    if boxes is not None:
        doc.user_data[BOXES_KEY] = [list(b) if b is not None else None for b in boxes]
    return doc


def task_doc(vocab_or_nlp: Any, task: dict) -> Doc:
    """The Doc of a task built from its own tokens (never re-tokenized), with their boxes attached."""
    vocab = getattr(vocab_or_nlp, "vocab", vocab_or_nlp)
    tokens = task["tokens"]
    return make_doc(vocab, [t["text"] for t in tokens], [bool(t.get("ws", True)) for t in tokens],
                    task_boxes(task))


def doc_boxes(doc: Doc) -> list[list[float] | None] | None:
    """The normalised token boxes a doc carries, or None."""
    boxes = doc.user_data.get(BOXES_KEY)
    return boxes if boxes is not None and len(boxes) == len(doc) else None


def layout_features(doc: Doc) -> numpy.ndarray:
    """Per token: x0, y0, x1, y1, w, h, has-box, gap to the previous token, line change (zeros without a box)."""
    feats = numpy.zeros((len(doc), N_LAYOUT_FEATURES), dtype="float32")
    boxes = doc_boxes(doc)
    if boxes is None:
        return feats
    prev = None
    for i, box in enumerate(boxes):
        if box is None:
            prev = None
            continue
        x0, y0, x1, y1 = box
        feats[i, :7] = (x0, y0, x1, y1, (x1 - x0) * 10, (y1 - y0) * 10, 1.0)
        if prev is not None:
            feats[i, 7] = numpy.clip((x0 - prev[2]) * 10, -1, 1)
            feats[i, 8] = numpy.clip((y0 - prev[1]) * 10, -1, 1)
        prev = box
    return feats


def uses_layout(model: Model) -> bool:
    """Whether a thinc model reads token boxes (has a v1 or v2 layout feature layer)."""
    return any(node.name in ("layout_features", "neighbour_features") for node in model.walk())


def LayoutFeatures() -> Model:
    """A thinc layer with no weights: docs -> Ragged of their tokens' layout features."""

    def forward(model: Model, docs: list[Doc], is_train: bool):
        arrays = [layout_features(doc) for doc in docs]
        lengths = model.ops.asarray1i([len(a) for a in arrays])
        data = numpy.concatenate(arrays) if arrays else numpy.zeros((0, N_LAYOUT_FEATURES), dtype="float32")
        return Ragged(model.ops.asarray2f(data), lengths), lambda d_ragged: []

    return Model("layout_features", forward, dims={"nO": N_LAYOUT_FEATURES})


@registry.architectures(LAYOUT_ARCH_V1)
def LayoutEmbed(width: int, attrs: list[str], rows: list[int], include_static_vectors: bool = False,
                lexemes: bool = False) -> Model:
    """MultiHashEmbed (NORM, PREFIX, ... hash tables, and the word vectors if included) plus layout features (and
    Brown clusters and word probabilities with ``lexemes``), mixed by one Maxout layer."""
    static = static_vectors(width) if include_static_vectors else []
    lexical = [lexeme_embeddings(width)] if lexemes else []
    concat_size = width * (len(attrs) + len(static) + N_LEXEME_COLUMNS * len(lexical)) + N_LAYOUT_FEATURES
    mix = with_array(Maxout(width, concat_size, nP=3, dropout=0.0, normalize=True))
    return chain(concatenate(hash_tables(width, attrs, rows), *static, *lexical, LayoutFeatures()), mix, ragged2list())


def neighbour_features(doc: Doc) -> numpy.ndarray:
    """Per token: the geometry of its line and of its left and above neighbours (zeros without a box)."""
    feats = numpy.zeros((len(doc), N_NEIGHBOUR_FEATURES), dtype="float32")
    boxes = doc_boxes(doc)
    if boxes is None:
        return feats
    hood = neighbourhood(boxes)
    for i, box in enumerate(boxes):
        if box is None:
            continue
        size, left, above = hood.line_size[i], hood.left[i], hood.above[i]
        feats[i, 0] = left == NONE
        feats[i, 1] = hood.right[i] == NONE
        feats[i, 2] = hood.position[i] / max(1, size - 1)
        feats[i, 3] = hood.line_index[i] / max(1, hood.n_lines - 1)
        feats[i, 4] = min(size, 10) / 10
        if left != NONE:
            feats[i, 5] = numpy.clip((box[0] - boxes[left][2]) * 10, 0, 1)
        if above != NONE:
            a = boxes[above]
            feats[i, 6] = numpy.clip((box[1] - a[3]) * 10, 0, 1)
            feats[i, 7] = 1.0
            feats[i, 8] = 1 - numpy.clip(abs(box[0] - a[0]) * 20, 0, 1)
            feats[i, 9] = 1 - numpy.clip(abs(box[2] - a[2]) * 20, 0, 1)
    return feats


def neighbour_ids(doc: Doc, slots: Sequence[str], attr: str = "NORM") -> numpy.ndarray:
    """Per token and slot, the ``attr`` id of that neighbour (0 when there is none), shape (len(doc), len(slots))."""
    ids = numpy.zeros((len(doc), len(slots)), dtype="uint64")
    boxes = doc_boxes(doc)
    if boxes is None or not len(doc):
        return ids
    hood = neighbourhood(boxes)
    values = doc.to_array([attr]).reshape(len(doc)).astype("uint64")
    for k, slot in enumerate(slots):
        index = hood.slot(slot)
        ids[:, k] = numpy.where(index != NONE, values[numpy.maximum(index, 0)], 0)
    return ids


def NeighbourFeatures() -> Model:
    """A thinc layer with no weights: docs -> Ragged of their tokens' own box and neighbourhood features."""

    def forward(model: Model, docs: list[Doc], is_train: bool):
        arrays = [numpy.hstack([layout_features(doc), neighbour_features(doc)]) for doc in docs]
        lengths = model.ops.asarray1i([len(a) for a in arrays])
        width = N_LAYOUT_FEATURES + N_NEIGHBOUR_FEATURES
        data = numpy.concatenate(arrays) if arrays else numpy.zeros((0, width), dtype="float32")
        return Ragged(model.ops.asarray2f(data), lengths), lambda d_ragged: []

    return Model("neighbour_features", forward, dims={"nO": N_LAYOUT_FEATURES + N_NEIGHBOUR_FEATURES})


def NeighbourIds(slots: Sequence[str]) -> Model:
    """A thinc layer with no weights: docs -> per doc, the NORM ids of each token's neighbours in ``slots``."""

    def forward(model: Model, docs: list[Doc], is_train: bool):
        return [model.ops.asarray(neighbour_ids(doc, slots), dtype="uint64") for doc in docs], lambda d: []

    return Model("neighbour_ids", forward)


@registry.architectures(LAYOUT_ARCH)
def LayoutEmbedV2(width: int, attrs: list[str], rows: list[int], neighbours: list[str] = NEIGHBOURS,
                  neighbour_rows: int = NEIGHBOUR_ROWS, include_static_vectors: bool = False,
                  lexemes: bool = False) -> Model:
    """v1 plus the neighbourhood: line and column geometry, and NORM embeddings of the ``neighbours`` slots."""
    from thinc.api import HashEmbed

    unknown = [s for s in neighbours if s not in SLOTS]
    if unknown:
        raise ValueError(f"Unknown neighbour slots {unknown}: choose from {list(SLOTS)}")
    parts = [hash_tables(width, attrs, rows)]
    if neighbours:
        near = [HashEmbed(width, neighbour_rows, column=k, seed=8 + len(attrs) + k, dropout=0.0)
                for k in range(len(neighbours))]
        parts.append(chain(NeighbourIds(list(neighbours)), list2ragged(), with_array(concatenate(*near))))
    static = static_vectors(width) if include_static_vectors else []
    lexical = [lexeme_embeddings(width)] if lexemes else []
    parts.extend(static + lexical)
    parts.append(NeighbourFeatures())
    concat_size = (width * (len(attrs) + len(neighbours) + len(static) + N_LEXEME_COLUMNS * len(lexical))
                   + N_LAYOUT_FEATURES + N_NEIGHBOUR_FEATURES)
    mix = with_array(Maxout(width, concat_size, nP=3, dropout=0.0, normalize=True))
    return chain(concatenate(*parts), mix, ragged2list())
