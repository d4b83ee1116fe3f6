"""vnerteach pretrain and --init-tok2vec: weights written whole, loaded into the tok2vec, mismatches refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import write_jsonl
from helpers.documents import digital_pdf
from helpers.train import manual_tasks
from vnerteach.errors import UsageError
from vnerteach.nlp.layout import LAYOUT_ARCH, make_doc
from vnerteach.nlp.pipeline import Settings, blank_pipeline
from vnerteach.nlp.pretraining import (PretrainEpoch, PretrainSettings, apply_pretrained, check_pretrained,
                                   load_pretrained, pretrain, pretraining_meta, pretraining_pipeline,
                                   save_pretrained, tok2vec_of)
from vnerteach.store import connect

ROOT = Path(__file__).resolve().parent.parent
LINES = ["Invoice 4471 from Acme Trading Ltd dated 14/03/2018", "Total due RM 9.00 payable to Acme",
         "Alice Baker flew to Paris on Monday .", "The mayor of Oslo met Bruno Costa at noon ."]


def _docs(nlp, boxes: bool, n: int = 40) -> list:
    docs = []
    for i in range(n):
        words = LINES[i % len(LINES)].split()
        docs.append(make_doc(nlp.vocab, words, [True] * len(words),
                             [[0.05 * j, 0.02 * i % 1, 0.05 * j + 0.04, 0.02 * i % 1 + 0.01] for j in range(len(words))]
                             if boxes else None))
    return docs


def _pretrained_folder(path: Path, layout: bool, epochs: int = 2, settings: Settings = Settings()) -> Path:
    """Pretrain a tok2vec in the test (library call) and save it as `vnerteach pretrain` does."""
    nlp = pretraining_pipeline("en", layout, settings)
    docs = _docs(nlp, layout)
    schedule = PretrainSettings(epochs=epochs)
    curve = [e for e in pretrain(nlp, docs, schedule) if isinstance(e, PretrainEpoch)]
    return save_pretrained(nlp, path, pretraining_meta("en", layout, settings, schedule, len(docs), 0, curve))


@pytest.fixture(scope="module")
def text_weights(tmp_path_factory) -> Path:
    return _pretrained_folder(tmp_path_factory.mktemp("pre") / "text", layout=False)


@pytest.fixture(scope="module")
def layout_weights(tmp_path_factory) -> Path:
    return _pretrained_folder(tmp_path_factory.mktemp("pre") / "layout", layout=True)


@pytest.mark.slow
def test_pretrain_command_reads_texts_and_a_pdf_page_and_writes_the_folder(cli, tmp_path):
    source = tmp_path / "docs"
    source.mkdir()
    (source / "notes.txt").write_text("\n".join(LINES) + "\n", encoding="utf8")
    digital_pdf(source / "form.pdf", pages=1)
    out = tmp_path / "pretrained"
    result = cli("pretrain", source, "--output", out, "--epochs", 2, "--workers", 1)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "tok2vec.bin"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["docs"] == len(LINES) + 1 and meta["layout"] is True  # the PDF page has boxes: auto turns layout on
    assert meta["tok2vec_config"]["embed"]["@architectures"] == LAYOUT_ARCH
    assert len(meta["loss"]) == 2 and meta["epochs"] == 2 and meta["width"] == 96 and meta["depth"] == 4
    assert meta["words"] > sum(len(line.split()) for line in LINES)
    text = " ".join(result.stderr.split())
    assert "Pretrain summary" in text and "epoch 2" in text and f"--init-tok2vec {out}" in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pretrained.")]  # no temporary folder left

    result = cli("pretrain", source, "--output", out, "--epochs", 1, "--no-layout", "--max-docs", 2)
    assert result.exit_code == 0, result.stderr
    meta = json.loads((out / "meta.json").read_text())  # the old folder replaced whole
    assert meta["layout"] is False and meta["docs"] == 2 and len(meta["loss"]) == 1


def test_pretrain_records_bad_lines_and_goes_on_and_refuses_bad_flags(cli, tmp_path):
    source = tmp_path / "texts.jsonl"
    source.write_text(json.dumps({"text": LINES[0]}) + "\n{not json\n" + json.dumps({"text": LINES[1]}) + "\n")
    out = tmp_path / "w"
    result = cli("pretrain", source, "-o", out, "-n", 1)
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "Failures" in text and "line 2" in text and json.loads((out / "meta.json").read_text())["docs"] == 2
    result = cli("pretrain", source, "-o", tmp_path / "w2", "-n", 1, "--strict")
    assert result.exit_code == 1 and "--strict" in result.stderr

    def fails(*args, code, says):
        result = cli("pretrain", *args)
        assert result.exit_code == code, result.stderr
        assert "Traceback" not in result.stderr and says in " ".join(result.stderr.split()), result.stderr

    fails(source, "-o", tmp_path / "w3", "--epochs", 0, code=2, says="--epochs must be 1 or more")
    fails(source, "-o", tmp_path / "w3", "--spacy-lang", "xx1", code=2, says="--spacy-lang xx1: spaCy has no language")
    fails(source, "-o", tmp_path / "missing" / "w", code=1, says="does not exist")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{not json\n")
    fails(empty, "-o", tmp_path / "w3", code=1, says="no text to pretrain on")
    assert not (tmp_path / "w3").exists()


def test_pretraining_lowers_the_loss_and_changes_only_the_weights():
    nlp = pretraining_pipeline("en", True)
    config = nlp.config.to_str()
    curve = [e for e in pretrain(nlp, _docs(nlp, True), PretrainSettings(epochs=6)) if isinstance(e, PretrainEpoch)]
    assert [e.epoch for e in curve] == list(range(1, 7))
    assert curve[-1].loss < curve[0].loss - 0.1, [e.loss for e in curve]
    assert nlp.config.to_str() == config
    with pytest.raises(UsageError, match="--epochs"):
        list(pretrain(nlp, _docs(nlp, False), PretrainSettings(epochs=0)))


def test_pretrained_weights_are_the_initial_tok2vec(text_weights):
    pretrained = load_pretrained(text_weights)
    assert pretrained.weights == (text_weights / "tok2vec.bin").read_bytes() and not pretrained.layout
    with_weights, without = (blank_pipeline("en", ["PERSON"], False) for _ in range(2))
    for nlp in (with_weights, without):
        nlp.initialize()
    apply_pretrained(with_weights, pretrained)
    assert tok2vec_of(with_weights).to_bytes() == pretrained.weights
    assert tok2vec_of(without).to_bytes() != pretrained.weights
    doc = with_weights.make_doc("Alice Baker flew to Paris")
    vectors = tok2vec_of(with_weights).predict([doc]), tok2vec_of(without).predict([doc])
    assert vectors[0].shape == vectors[1].shape and abs(vectors[0] - vectors[1]).max() > 1e-3


def test_mismatched_weights_are_one_clear_error(text_weights, layout_weights, tmp_path):
    pretrained = load_pretrained(layout_weights)
    with pytest.raises(UsageError, match="pretrained with layout features, this pipeline has none"):
        check_pretrained(blank_pipeline("en", ["X"], False), pretrained)
    with pytest.raises(UsageError, match="width 64"):
        check_pretrained(blank_pipeline("en", ["X"], True, Settings(width=64)), pretrained)
    with pytest.raises(UsageError, match="language 'en', this pipeline is 'de'"):
        check_pretrained(blank_pipeline("de", ["X"], True), pretrained)
    with pytest.raises(UsageError, match="without layout features, this pipeline has them"):
        check_pretrained(blank_pipeline("en", ["X"], True), load_pretrained(text_weights))
    folder = tmp_path / "not-pretrained"
    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    for bad in (tmp_path / "nowhere", folder):
        with pytest.raises(UsageError, match="--init-tok2vec"):
            load_pretrained(bad)


def test_teach_model_from_blank_starts_from_the_pretrained_tok2vec(layout_weights):
    from vnerteach.teach.model import TeachModel, TeachSettings

    pretrained = load_pretrained(layout_weights)
    teach = TeachModel.load("blank:en", ["ORG"], TeachSettings(init_tok2vec=pretrained))
    text_task = {"text": "Acme pays", "tokens": [{"text": "Acme", "start": 0, "end": 4, "id": 0, "ws": True},
                                                 {"text": "pays", "start": 5, "end": 9, "id": 1, "ws": False}]}
    nlp = teach.ensure(text_task)
    assert teach.layout  # the weights' layout features, though this first task has no boxes
    assert tok2vec_of(nlp).to_bytes() == pretrained.weights
    assert teach.score([text_task])  # the model scores with them
    with pytest.raises(UsageError, match="--init-tok2vec: pretrained weights start a blank model only"):
        TeachModel(blank_pipeline("en", ["ORG"], True), ["ORG"], TeachSettings(init_tok2vec=pretrained))


@pytest.mark.slow
def test_batch_train_with_init_tok2vec_trains_a_model_that_loads(cli, tmp_path, db_path, text_weights, layout_weights):
    connect(str(db_path)).add_examples(manual_tasks(60), ["news"])
    out = tmp_path / "model"
    result = cli("ner.batch-train", "news", "--output", out, "--n-iter", 2, "--init-tok2vec", text_weights)
    assert result.exit_code == 0, result.stderr
    assert f"tok2vec pretrained in {text_weights}" in " ".join(result.stderr.split())
    meta = json.loads((out / "meta.json").read_text())
    assert meta["vnerteach"]["init_tok2vec"] == str(text_weights)
    code = f"import spacy; nlp = spacy.load({str(out)!r}); print([e.label_ for e in nlp('Alice Baker flew to Paris').ents])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert loaded.returncode == 0, loaded.stderr

    def fails(*args, says):
        result = cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and says in " ".join(result.stderr.split()), result.stderr

    other = tmp_path / "other"
    fails("ner.batch-train", "news", "-o", other, "--init-tok2vec", layout_weights,
          says=f"--init-tok2vec {layout_weights}: the weights are for a different tok2vec (pretrained with layout")
    fails("ner.batch-train", "news", "-o", other, "--init-tok2vec", tmp_path / "nowhere", says="--init-tok2vec")
    fails("ner.batch-train", "news", "-o", other, "--init-tok2vec", out, says="not a folder written by 'vnerteach pretrain'")
    fails("ner.train-curve", "news", "--init-tok2vec", layout_weights, says="--init-tok2vec")
    fails("ner.teach", "news", str(out), write_jsonl(tmp_path / "t.jsonl", [{"text": "Alice"}]), "--label", "PERSON",
          "--init-tok2vec", text_weights, says="--init-tok2vec: pretrained weights start a blank model only")
    assert not other.exists()


def test_help_of_the_recipes_that_take_init_tok2vec(cli):
    for name in ("ner.batch-train", "ner.train-curve", "ner.teach", "ner.correct"):
        result = cli(name, "--help")
        assert result.exit_code == 0 and "--init-tok2vec" in result.stdout
    result = cli("pretrain", "--help")
    assert "Example: vnerteach pretrain" in " ".join(result.stdout.split()) and "--no-layout" in result.stdout
