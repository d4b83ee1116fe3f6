"""Brown clusters and word probabilities of Explosion's spacy-lookups-data as embedding features (--lookups).

spaCy 3 keeps a word's Brown cluster and log probability in the vocab's lookups tables
(``lexeme_cluster``, ``lexeme_prob``) only: there is no CLUSTER attribute for ``Doc.to_array`` any more, so
MultiHashEmbed cannot embed them. ``vnerteach.LexemeEmbed.v1`` is MultiHashEmbed's hash tables (and static
vectors, if included) plus hash embeddings of, per token, four prefixes of its Brown cluster path (4, 6, 10
and 20 bits: the tables store the path reversed, so a prefix is the low bits) and its log probability rounded
to a whole number, mixed by one Maxout layer as MultiHashEmbed mixes its own. The layout embeddings add the
same features with ``lexemes = true``. The tables (a million English words each) are read once per process
and shared by every pipeline made with them; a saved model carries them in its vocab (``lookups.bin``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import HashEmbed, Maxout, Model, chain, concatenate, list2ragged, ragged2list, with_array

from ..errors import UsageError

FLAG = "--lookups"
LEXEME_ARCH = "vnerteach.LexemeEmbed.v1"
TABLES = ("lexeme_cluster", "lexeme_prob", "lexeme_settings")
CLUSTER_BITS = (4, 6, 10, 20)
N_COLUMNS = len(CLUSTER_BITS) + 1  # and the rounded log probability
LEXEME_ROWS = 2000


@lru_cache(maxsize=4)
def lexeme_tables(lang: str) -> Any:
    """spacy-lookups-data's cluster and probability tables of ``lang`` (read once per process: a million words each)."""
    try:
        from spacy.lookups import load_lookups

        return load_lookups(lang, list(TABLES), strict=True)
    except (ImportError, ValueError, KeyError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UsageError(f"{FLAG}: Brown clusters and word probabilities need spacy-lookups-data with tables for "
                         f"'{lang}' (pip install 'vnerteach[lookups]'): {first}") from None


def lexeme_ids(doc: Doc) -> numpy.ndarray:
    """Per token: its cluster's 4-, 6-, 10- and 20-bit prefixes (+1; 0 without a cluster) and its rounded -log p."""
    lookups = doc.vocab.lookups
    clusters = lookups.get_table("lexeme_cluster", {}) if lookups.has_table("lexeme_cluster") else {}
    probs = lookups.get_table("lexeme_prob", {}) if lookups.has_table("lexeme_prob") else {}
    ids = numpy.zeros((len(doc), N_COLUMNS), dtype="uint64")
    for i, token in enumerate(doc):
        cluster = clusters.get(token.orth, 0) or clusters.get(token.lower, 0)
        if cluster:
            for k, bits in enumerate(CLUSTER_BITS):
                ids[i, k] = (cluster & ((1 << bits) - 1)) + 1
        prob = probs.get(token.orth, None)
        ids[i, -1] = min(25, int(round(-prob))) + 1 if prob is not None else 0
    return ids


def LexemeIds() -> Model:
    """A thinc layer with no weights: docs -> per doc, each token's cluster prefixes and probability bin."""

    def forward(model: Model, docs: list[Doc], is_train: bool):
        return [model.ops.asarray(lexeme_ids(doc), dtype="uint64") for doc in docs], lambda d: []

    return Model("lexeme_ids", forward)


def lexeme_embeddings(width: int, lexeme_rows: int = LEXEME_ROWS) -> Model:
    """docs -> Ragged: the hash embeddings of each token's cluster prefixes and probability bin, concatenated."""
    lexemes = [HashEmbed(width, lexeme_rows, column=k, seed=40 + k, dropout=0.0) for k in range(N_COLUMNS)]
    return chain(LexemeIds(), list2ragged(), with_array(concatenate(*lexemes)))


def hash_tables(width: int, attrs: list[str], rows: list[int]) -> Model:
    """MultiHashEmbed's hash tables: one HashEmbed per attribute (NORM, PREFIX, ...), concatenated, as Ragged."""
    from spacy.ml.featureextractor import FeatureExtractor

    if len(rows) != len(attrs):
        raise ValueError(f"Mismatched lengths: {len(rows)} rows vs {len(attrs)} attrs")
    embeddings = [HashEmbed(width, rows[i], column=i, seed=8 + i, dropout=0.0) for i in range(len(attrs))]
    return chain(FeatureExtractor(attrs), list2ragged(), with_array(concatenate(*embeddings)))


def static_vectors(width: int) -> list[Model]:
    """spaCy's StaticVectors (the vocab's word vectors through a learnt projection to ``width``), as MultiHashEmbed
    adds them with ``include_static_vectors``."""
    from spacy.ml.staticvectors import StaticVectors

    return [StaticVectors(width, dropout=0.0)]


@registry.architectures(LEXEME_ARCH)
def LexemeEmbed(width: int, attrs: list[str], rows: list[int], include_static_vectors: bool = False,
                lexeme_rows: int = LEXEME_ROWS) -> Model:
    """MultiHashEmbed (the attrs' hash tables, the word vectors if included) plus cluster and probability embeddings."""
    static = static_vectors(width) if include_static_vectors else []
    parts = [hash_tables(width, attrs, rows), lexeme_embeddings(width, lexeme_rows), *static]
    concat_size = width * (len(attrs) + N_COLUMNS + len(static))
    mix = with_array(Maxout(width, concat_size, nP=3, dropout=0.0, normalize=True))
    return chain(concatenate(*parts), mix, ragged2list())
