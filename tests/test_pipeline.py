"""The pipeline module: one loader for every MODEL argument, failing with one error that names it."""

from __future__ import annotations

import pytest
import spacy

from vnerteach.errors import ModelLoadError, UsageError
from vnerteach.nlp.pipeline import Settings, blank_pipeline, entity_scores, load_pipeline


def test_load_pipeline_takes_blank_lang_and_folders(tmp_path):
    assert load_pipeline("blank:en").lang == "en"
    blank_pipeline("en", ["PERSON"], False, Settings()).to_disk(tmp_path / "beam")
    nlp = load_pipeline(str(tmp_path / "beam"), beam=True)
    assert nlp.pipe_names == ["ner"]


def test_every_load_failure_is_a_model_load_error_naming_the_model(tmp_path):
    greedy = spacy.blank("en")
    greedy.add_pipe("ner").add_label("PERSON")
    greedy.initialize()
    greedy.to_disk(tmp_path / "greedy")
    cases = [("blank:zz", {}, "spaCy has no language 'zz'"),
             (str(tmp_path / "missing"), {}, "cannot load it"),
             ("blank:en", {"ner": True}, "no 'ner' component"),
             (str(tmp_path / "greedy"), {"beam": True}, "no beam")]
    for model, needs, says in cases:
        with pytest.raises(ModelLoadError) as info:
            load_pipeline(model, **needs)
        assert str(info.value).startswith(f"MODEL '{model}': ") and says in str(info.value)
        assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    assert load_pipeline(str(tmp_path / "greedy"), ner=True).pipe_names == ["ner"]


def test_entity_scores_unpruned_leaves_the_component_as_it_was():
    nlp = blank_pipeline("en", ["PERSON", "CITY"], False, Settings())
    nlp.initialize()
    docs = [nlp.make_doc("Anna moved from Lima to Oslo"), nlp.make_doc("Oslo")]
    for prune in (True, False):
        scores = entity_scores(nlp, docs, prune=prune)
        assert len(scores) == 2 and all(0 <= s < e <= len(doc) and label in ("PERSON", "CITY")
                                        for doc, per_doc in zip(docs, scores) for s, e, label in per_doc)
    assert nlp.get_pipe("ner").cfg["beam_density"] == 0.01
