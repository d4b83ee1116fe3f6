"""--lookups: Brown clusters and word probabilities (spacy-lookups-data's tables) as embedding features.

The tables are made here (a few words), standing in for spacy-lookups-data's million-word English ones, so the
tests run without the optional package; one test reads the real tables when the package is installed.
"""

from __future__ import annotations

import json

import numpy
import pytest
import spacy
from spacy.lookups import Lookups

import vnerteach.nlp.lexemes as lexemes
from helpers import write_jsonl
from helpers.train import manual_tasks
from vnerteach.errors import UsageError
from vnerteach.nlp.layout import make_doc
from vnerteach.nlp.lexemes import CLUSTER_BITS, lexeme_ids
from vnerteach.nlp.pipeline import Settings, blank_pipeline
from vnerteach.store import connect

PARIS = 0b1010100110  # spaCy's tables keep the Brown path reversed: the low bits are its top


def _tables(paris: int = PARIS) -> Lookups:
    lookups = Lookups()
    lookups.add_table("lexeme_cluster", {"Paris": paris, "London": PARIS, "Berlin": 0b1110100110, "flew": 0b0111})
    lookups.add_table("lexeme_prob", {"Paris": -11.8, "London": -10.9, "flew": -9.2})
    lookups.add_table("lexeme_settings", {"oov_prob": -20.5})
    return lookups


@pytest.fixture
def tables(monkeypatch):
    """spacy-lookups-data's tables replaced by small ones made here."""
    made = _tables()
    monkeypatch.setattr(lexemes, "lexeme_tables", lambda lang: made)
    return made


def test_the_ids_are_cluster_prefixes_and_a_probability_bin(tables):
    nlp = spacy.blank("en")
    nlp.vocab.lookups = tables
    ids = lexeme_ids(make_doc(nlp.vocab, ["Paris", "London", "Berlin", "zzz"], [True] * 4))
    assert ids[0].tolist() == [(PARIS & ((1 << bits) - 1)) + 1 for bits in CLUSTER_BITS] + [13]
    assert ids[1, :4].tolist() == ids[0, :4].tolist() and ids[1, 4] == 12  # one cluster, another frequency
    assert ids[2, :2].tolist() == ids[0, :2].tolist() and ids[2, 3] != ids[0, 3]  # same top of the tree only
    assert ids[3].tolist() == [0] * 5  # an unknown word
    assert not lexeme_ids(make_doc(spacy.blank("en").vocab, ["Paris"], [True])).any()  # no tables: no features


@pytest.mark.parametrize("layout", [False, True])
def test_a_blank_pipeline_with_lookups_reads_the_clusters(tables, layout):
    nlp = blank_pipeline("en", ["CITY"], layout, Settings(lexemes=True))
    assert nlp.vocab.lookups.has_table("lexeme_cluster")
    nlp.initialize()
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec")
    assert any(node.name == "lexeme_ids" for node in tok2vec.walk())

    def encode():
        boxes = [[0.1 * i, 0.1, 0.1 * i + 0.08, 0.12] for i in range(3)] if layout else None
        return tok2vec.predict([make_doc(nlp.vocab, ["Alice", "flew", "Paris"], [True, True, False], boxes)])[0]

    before = encode()
    tables.get_table("lexeme_cluster")["Paris"] = 0b1
    assert abs(encode()[2] - before[2]).max() > 1e-4  # another cluster, another vector for 'Paris'
    plain = blank_pipeline("en", ["CITY"], layout)
    assert not any(node.name == "lexeme_ids" for node in plain.get_pipe("ner").model.walk())


def test_batch_train_with_lookups_saves_them_with_the_model(cli, db_path, tmp_path, tables):
    connect(str(db_path)).add_examples(manual_tasks(20), ["news"])
    out = tmp_path / "model"
    result = cli("ner.batch-train", "news", "--output", out, "--n-iter", 1, "--lookups")
    assert result.exit_code == 0, result.stderr
    assert "Brown clusters and word probabilities" in result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["vnerteach"]["lookups"] is True and meta["vnerteach"]["settings"]["lookups"] is True
    nlp = spacy.load(out)
    assert nlp.vocab.lookups.get_table("lexeme_cluster")["Paris"] == PARIS
    assert any(node.name == "lexeme_ids" for node in nlp.get_pipe("ner").model.walk())
    assert lexeme_ids(nlp.make_doc("flew to Paris"))[2, 0] == (PARIS & 0xF) + 1


def test_lookups_without_the_package_is_one_line(cli, db_path, tmp_path, monkeypatch):
    import spacy.lookups

    def missing(lang, tables, strict=True):
        raise ValueError("[E955] Can't find table(s) lexeme_cluster for language 'en' in spacy-lookups-data.")

    monkeypatch.setattr(spacy.lookups, "load_lookups", missing)
    lexemes.lexeme_tables.cache_clear()
    try:
        with pytest.raises(UsageError, match=r"--lookups: .*pip install 'vnerteach\[lookups\]'"):
            blank_pipeline("en", ["X"], False, Settings(lexemes=True))
        connect(str(db_path)).add_examples(manual_tasks(5), ["news"])
        src = write_jsonl(tmp_path / "t.jsonl", [{"text": "Alice flew to Paris"}])
        for args in (("ner.batch-train", "news", "-o", tmp_path / "m", "--lookups"),
                     ("ner.train-curve", "news", "--lookups"),
                     ("ner.correct", "gold", "blank:en", src, "--label", "CITY", "--lookups")):
            result = cli(*args)
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 2 and len(lines) == 1 and "--lookups:" in lines[0], result.stderr
    finally:
        lexemes.lexeme_tables.cache_clear()


def test_correct_from_blank_uses_the_lookups_and_a_trained_model_refuses_them(cli, db_path, tmp_path, tables):
    from vnerteach.recipes.teach import ner_correct

    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Alice flew to Paris"}])
    components = ner_correct("gold", "blank:en", str(src), label=["CITY"], lookahead=1, lookups=True)
    model = components["update"].__self__
    nlp = model.nlp
    assert nlp.vocab.lookups.has_table("lexeme_cluster")
    assert any(node.name == "lexeme_ids" for node in nlp.get_pipe("ner").model.walk())
    components["stream"].close()
    connect(str(db_path)).add_examples(manual_tasks(5), ["news"])
    assert cli("ner.batch-train", "news", "-o", tmp_path / "trained", "-n", 1).exit_code == 0
    result = cli("ner.correct", "gold", tmp_path / "trained", src, "--lookups")
    assert result.exit_code == 2 and "--lookups: the clusters and probabilities start a blank model only" in \
        result.stderr, result.stderr


@pytest.mark.slow
def test_the_real_tables_give_most_conll_words_a_cluster():
    pytest.importorskip("spacy_lookups_data")
    nlp = spacy.blank("en")
    nlp.vocab.lookups = lexemes.lexeme_tables("en")
    ids = lexeme_ids(make_doc(nlp.vocab, ["Paris", "London", "said", "the"], [True] * 4))
    assert numpy.all(ids[:, 0] > 0) and numpy.all(ids[:, 4] > 0)
    assert ids[0, :3].tolist() == ids[1, :3].tolist()  # two capitals near each other in the tree
