"""The README's recommended workflow: each step's model is the next step's MODEL, with no extra flag."""

from __future__ import annotations

import json

import pytest

from helpers import write_jsonl
from helpers.teach import LABELS, sentences
from vnerteach.loop.controller import Controller
from vnerteach.errors import UsageError
from vnerteach.recipes.manual import ner_manual
from vnerteach.recipes.teach import ner_correct, ner_teach
from vnerteach.recipes.train import TrainOptions, batch_train
from vnerteach.web.server import make_app
from helpers.web import wsgi


def _gold_spans(task: dict, gold: dict[str, list]) -> list[dict]:
    return [{"start": s, "end": e, "label": label} for s, e, label in gold[task["text"]]]


def _annotate(components: dict, store, n: int, gold: dict[str, list]) -> list[dict]:
    """Answer n questions through the web API, each corrected to its gold spans; return the tasks as served."""
    controller = Controller(store, components)
    app, served = make_app(controller), []
    try:
        while len(served) < n:
            code, body = wsgi(app, "GET", "/api/questions?n=5")
            assert code == 200, body
            tasks = body["tasks"][: n - len(served)]
            if not tasks:
                assert not body["progress"]["done"], "the source ran out"
                continue
            answers = [{**t, "spans": _gold_spans(t, gold), "answer": "accept"} for t in tasks]
            code, saved = wsgi(app, "POST", "/api/answers", {"session": tasks[0]["_session_id"], "answers": answers})
            assert code == 200, saved
            served += tasks
    finally:
        controller.close()
    return served


@pytest.mark.slow
def test_by_hand_then_train_then_correct_then_train_again(store, db_path, tmp_path):
    data = sentences(60, seed=3)
    gold = {t["text"]: t["gold"] for t in data}
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": t["text"]} for t in data])

    by_hand = _annotate(ner_manual("news", "blank:en", str(src), label=LABELS), store, 12, gold)
    assert all(not t.get("spans") for t in by_hand)
    batch_train("news", tmp_path / "model-1", TrainOptions(eval_split=0.0, n_iter=10), db=str(db_path))

    # the trained folder is ner.correct's MODEL as it is: its labels, no warm start, none of the 12 asked again
    components = ner_correct("news", str(tmp_path / "model-1"), str(src), db=str(db_path))
    model = components["update"].__self__
    assert sorted(model.labels) == sorted(LABELS) and components["config"]["labels"] == model.labels
    assert model.warm.thread is None
    corrected = _annotate(components, store, 12, gold)
    assert not {t["text"] for t in corrected} & {t["text"] for t in by_hand}
    assert any(t.get("spans") for t in corrected)  # pre-filled by the model of the 12 answers by hand

    batch_train("news", tmp_path / "model-2", TrainOptions(n_iter=5), db=str(db_path))
    meta = json.loads((tmp_path / "model-2" / "meta.json").read_text())["vnerteach"]
    assert meta["train_inputs"] + meta["eval_inputs"] == 24
    assert sorted(ner_teach("news_rare", str(tmp_path / "model-2"), str(src), db=str(db_path))["config"]["labels"]) \
        == sorted(LABELS)


def test_a_blank_model_still_needs_labels(tmp_path):
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": "Anna lives in Oslo ."}])
    for recipe in (ner_correct, ner_teach):
        with pytest.raises(UsageError, match="--label"):
            recipe("news", "blank:en", str(src))
