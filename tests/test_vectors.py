"""--vectors: word vectors as static features of a blank pipeline (batch-train, train-curve, teach, correct).

The vectors table is built here: a blank English pipeline with a few words' vectors set, saved to a folder,
as `python -m spacy init vectors` writes one (a user with en_core_web_lg installed names that package instead).
"""

from __future__ import annotations

import json

import numpy
import pytest
import spacy

from helpers import write_jsonl
from helpers.train import CITIES, PEOPLE, manual_tasks
from vnerteach.errors import UsageError
from vnerteach.nlp.layout import make_doc
from vnerteach.nlp.pipeline import Settings, blank_pipeline, check_vectors
from vnerteach.store import connect

WIDTH = 16
WORDS = sorted({w for name in PEOPLE for w in name.split()} | set(CITIES) | {"flew", "to", "in", "the"})


def _vector(i: int) -> numpy.ndarray:
    return numpy.random.default_rng(i).normal(size=WIDTH).astype("float32")


@pytest.fixture(scope="module")
def vectors_folder(tmp_path_factory):
    """A spaCy vectors folder: English, WIDTH-wide vectors for the fixtures' words, named 'test_vectors'."""
    nlp = spacy.blank("en")
    for i, word in enumerate(WORDS):
        nlp.vocab.set_vector(word, _vector(i))
    nlp.vocab.vectors.name = "test_vectors"
    path = tmp_path_factory.mktemp("vectors") / "vectors"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def bad_vectors(tmp_path_factory):
    """Folders --vectors must refuse: none there, a pipeline without vectors, German vectors."""
    root = tmp_path_factory.mktemp("bad")
    spacy.blank("en").to_disk(root / "novectors")
    german = spacy.blank("de")
    german.vocab.set_vector("Haus", _vector(0))
    german.to_disk(root / "german")
    return {"missing": root / "missing", "novectors": root / "novectors", "german": root / "german"}


def _has_the_vectors(nlp) -> None:
    vectors = nlp.vocab.vectors
    assert vectors.name == "test_vectors" and vectors.shape[1] == WIDTH
    for i, word in enumerate(WORDS):
        assert nlp.vocab.has_vector(word), word
        assert numpy.allclose(nlp.vocab.get_vector(word), _vector(i)), word


def _uses_the_vectors(nlp, boxes: bool = False) -> None:
    """The NER's tok2vec reads the vocab's vectors: its output for a word moves when that word's vector does."""
    config = nlp.config["components"]["ner"]["model"]["tok2vec"]["embed"]
    assert config["include_static_vectors"] is True
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec")
    assert any(node.name == "static_vectors" for node in tok2vec.walk())
    words = ["Alice", "Baker", "flew", "to", "Paris"]

    def encode():
        doc = make_doc(nlp.vocab, words, [True] * 4 + [False],
                       [[0.1 * i, 0.1, 0.1 * i + 0.08, 0.12] for i in range(5)] if boxes else None)
        return tok2vec.predict([doc])[0]

    before = encode()
    row = nlp.vocab.vectors.key2row[nlp.vocab.strings["Paris"]]
    saved = nlp.vocab.vectors.data[row].copy()
    nlp.vocab.vectors.data[row] = saved + 5.0
    try:
        after = encode()
    finally:
        nlp.vocab.vectors.data[row] = saved
    assert abs(after[4] - before[4]).max() > 1e-3  # 'Paris' itself (and its window) changed
    assert numpy.allclose(encode(), before)


@pytest.mark.parametrize("layout", [False, True])
def test_a_blank_pipeline_with_vectors_has_them_and_its_tok2vec_reads_them(vectors_folder, layout):
    nlp = blank_pipeline("en", ["PERSON", "CITY"], layout, Settings(vectors=str(vectors_folder)))
    _has_the_vectors(nlp)
    nlp.initialize()
    _uses_the_vectors(nlp, boxes=layout)
    plain = blank_pipeline("en", ["PERSON"], layout)
    assert plain.vocab.vectors.shape[0] == 0
    assert not any(node.name == "static_vectors" for node in plain.get_pipe("ner").model.walk())


def test_bad_vectors_are_one_usage_error_naming_the_flag(bad_vectors, vectors_folder):
    for name, says in (("missing", "cannot load it"), ("novectors", "the pipeline has no word vectors"),
                       ("german", "the vectors are for language 'de', this pipeline is 'en'")):
        with pytest.raises(UsageError, match=f"--vectors {bad_vectors[name]}: {says}"):
            check_vectors(str(bad_vectors[name]), "en")
    with pytest.raises(UsageError, match="the vectors are for language 'en', this pipeline is 'de'"):
        blank_pipeline("de", ["X"], False, Settings(vectors=str(vectors_folder)))
    check_vectors(str(vectors_folder), "en")


def test_batch_train_with_vectors_saves_a_model_with_them(cli, db_path, tmp_path, vectors_folder):
    connect(str(db_path)).add_examples(manual_tasks(30), ["news"])
    out = tmp_path / "model"
    result = cli("ner.batch-train", "news", "--output", out, "--n-iter", 2, "--vectors", vectors_folder)
    assert result.exit_code == 0, result.stderr
    assert f"word vectors 'test_vectors' (" in result.stderr and f"from {vectors_folder}" in result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["vectors"]["name"] == "test_vectors" and meta["vectors"]["width"] == WIDTH
    assert meta["vnerteach"]["vectors"] == {"source": str(vectors_folder), "name": "test_vectors"}
    assert meta["vnerteach"]["settings"]["vectors"] == str(vectors_folder)
    nlp = spacy.load(out)  # the saved folder carries its vectors: no --vectors needed to use it
    _has_the_vectors(nlp)
    _uses_the_vectors(nlp)
    assert nlp("Alice Baker flew to Paris").ents is not None

    result = cli("ner.batch-train", "news", "--output", tmp_path / "plain", "--n-iter", 1)
    assert result.exit_code == 0, result.stderr
    plain = spacy.load(tmp_path / "plain")
    assert plain.vocab.vectors.shape[0] == 0 and json.loads((tmp_path / "plain" / "meta.json").read_text())[
        "vnerteach"]["vectors"] is None


@pytest.mark.slow
def test_bad_vectors_stop_every_recipe_with_one_line(cli, db_path, tmp_path, bad_vectors, vectors_folder):
    connect(str(db_path)).add_examples(manual_tasks(10), ["news"])
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Alice Baker flew to Paris"}])

    def fails(*args, says):
        result = cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert says in lines[0], lines[0]

    for name, says in (("missing", "cannot load it"), ("novectors", "the pipeline has no word vectors"),
                       ("german", "the vectors are for language 'de'")):
        flag = f"--vectors {bad_vectors[name]}: {says}"
        fails("ner.batch-train", "news", "-o", tmp_path / "out", "--vectors", bad_vectors[name], says=flag)
        fails("ner.train-curve", "news", "--vectors", bad_vectors[name], says=flag)
        fails("ner.teach", "news2", "blank:en", src, "--label", "PERSON", "--vectors", bad_vectors[name], says=flag)
        fails("ner.correct", "gold", "blank:en", src, "--label", "PERSON", "--vectors", bad_vectors[name], says=flag)
    fails("ner.batch-train", "news", "-o", tmp_path / "out", "--lang", "de", "--vectors", vectors_folder,
          says="the vectors are for language 'en', this pipeline is 'de'")
    assert not (tmp_path / "out").exists()
    trained = tmp_path / "trained"
    assert cli("ner.batch-train", "news", "-o", trained, "-n", 1).exit_code == 0
    fails("ner.correct", "gold", trained, src, "--vectors", vectors_folder,
          says="--vectors: word vectors start a blank model only")


def test_help_of_the_recipes_that_take_vectors(cli):
    for name in ("ner.batch-train", "ner.train-curve", "ner.teach", "ner.correct"):
        result = cli(name, "--help")
        text = " ".join(result.stdout.split())
        assert result.exit_code == 0 and "--vectors" in text and "en_core_web_lg" in text, name


def _text_task(text: str) -> dict:
    tokens, start = [], 0
    for i, word in enumerate(text.split()):
        start = text.index(word, start)
        tokens.append({"text": word, "start": start, "end": start + len(word), "id": i, "ws": True})
        start += len(word)
    return {"text": text, "tokens": tokens}


def test_teach_and_correct_from_blank_start_from_the_vectors(tmp_path, vectors_folder):
    from vnerteach.recipes.teach import ner_correct, ner_teach

    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Alice Baker flew to Paris"}])
    pat = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "CITY", "pattern": "Paris"}])
    for components in (ner_teach("news", "blank:en", str(src), label=["PERSON", "CITY"], patterns=pat,
                                 vectors=str(vectors_folder)),
                       ner_correct("gold", "blank:en", str(src), label=["PERSON", "CITY"], lookahead=1,
                                   vectors=str(vectors_folder))):
        model = components["update"].__self__
        nlp = model.ensure(_text_task("Alice Baker flew to Paris"))
        _has_the_vectors(nlp)
        _uses_the_vectors(nlp)
        assert model.score([_text_task("Alice Baker flew to Paris")])
        model.update([{**_text_task("Alice Baker flew to Paris"), "answer": "accept", "_view_id": "ner_manual",
                       "_input_hash": 1, "_task_hash": 1,
                       "spans": [{"start": 0, "end": 11, "label": "PERSON", "token_start": 0, "token_end": 1},
                                 {"start": 20, "end": 25, "label": "CITY", "token_start": 4, "token_end": 4}]}])
        assert model.updates == 1
        components["on_exit"]()
        if "close" in dir(components["stream"]):
            components["stream"].close()
    plain = ner_correct("gold2", "blank:en", str(src), label=["PERSON"], lookahead=1)["update"].__self__
    assert plain.ensure(_text_task("Alice")).vocab.vectors.shape[0] == 0


def test_the_warm_start_trains_with_the_vectors(db_path, tmp_path, vectors_folder):
    from vnerteach.recipes.teach import ner_correct

    connect(str(db_path)).add_examples(manual_tasks(12), ["gold"])
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Alice Baker flew to Paris"}])
    components = ner_correct("gold", "blank:en", str(src), label=["PERSON", "CITY"], vectors=str(vectors_folder),
                             db=str(db_path))
    model = components["update"].__self__
    assert model.warm.wait(120) and model.warm.trained_on == 12, model.warm
    _has_the_vectors(model.nlp)
    _uses_the_vectors(model.nlp)
    components["stream"].close()
