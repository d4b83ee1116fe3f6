"""The periodic retrain: the in-loop model is trained from blank on the dataset's answers as they double, in the
background, and swapped in; a session's exit stops it cleanly."""

from __future__ import annotations

import threading

import pytest
import spacy

from conftest import write_jsonl
from teach_fixtures import LABELS, sentences
from vnerteach.model import TeachModel
from vnerteach.tasks import add_tokens, set_hashes
from vnerteach.warmstart import RETRAIN_FIRST, Retrainer, doubling

pytestmark = pytest.mark.slow  # trains models: seconds each


def answers(n: int, seed: int = 3) -> list[dict]:
    """Complete answers (ner.correct's) to ``n`` sentences, hashed as the controller stores them."""
    out = []
    for raw in sentences(n, seed):
        task = next(iter(add_tokens(spacy.blank("en"), [{"text": raw["text"]}])))
        starts = {t["start"]: i for i, t in enumerate(task["tokens"])}
        ends = {t["end"]: i for i, t in enumerate(task["tokens"])}
        out.append(set_hashes({**task, "answer": "accept", "_view_id": "ner_manual", "spans": [
            {"start": a, "end": b, "label": lab, "token_start": starts[a], "token_end": ends[b]}
            for a, b, lab in raw["gold"]]}))
    return out


def answer(model: TeachModel, store, given: list[dict]) -> None:
    """What the controller does with each answer: store it, then update the model in the loop."""
    for eg in given:
        store.add_examples([eg], ["gold"])
        model.update([eg])


def test_the_schedule_doubles_from_five():
    due = [n for n in range(1, 90) if doubling(n, max([0] + [m for m in (5, 10, 20, 40, 80) if m < n]))]
    assert due == [5, 10, 20, 40, 80] and RETRAIN_FIRST == 5
    assert doubling(100, 60) is False and doubling(120, 60) is True  # after a warm start on 60 inputs


def test_a_retrain_starts_at_five_answers_is_swapped_in_and_raises_the_version(store, db_url):
    model = TeachModel.load("blank:en", LABELS)
    swapped = []
    retrainer = Retrainer(model, db_url, "gold", n_iter=2, on_done=swapped.append)
    given = answers(12)
    answer(model, store, given[:4])
    assert not retrainer.runs and model.swaps == 0  # not due before 5 answered inputs
    answer(model, store, given[4:5])
    [first] = retrainer.runs
    assert first.wait(120) and first.trained_on == 5, first
    assert swapped == [first] and model.swaps >= 1 and model.confident
    version = model.version
    answer(model, store, given[5:9])  # 9 answered: the next is due at 10
    assert len(retrainer.runs) == 1 and model.version == version + 4  # the online updates alone
    answer(model, store, given[9:10])
    assert len(retrainer.runs) == 2 and retrainer.runs[1].wait(120) and retrainer.runs[1].trained_on == 10
    assert model.version > version + 5  # swapped in: what the look-ahead scored before is stale
    retrainer.close()
    answer(model, store, given[10:12] + answers(10, seed=9))  # 22 answered, but closed: nothing starts
    assert len(retrainer.runs) == 2


def test_one_training_at_a_time_and_answering_never_waits(store, db_url):
    store.add_examples(answers(300, seed=7), ["gold"])  # earlier answers: a retrain on them takes a while
    model = TeachModel.load("blank:en", LABELS)
    retrainer = Retrainer(model, db_url, "gold", due=lambda n, last: n > last, n_iter=50)  # after every answer
    given = answers(8)
    answer(model, store, given[:1])
    [run] = retrainer.runs
    assert run.thread is not None and run.thread.is_alive()  # update() returned while it trains
    answer(model, store, given[1:4])
    assert retrainer.runs == [run]  # due again, but the first is still training
    retrainer.close()
    assert not run.thread.is_alive() and run.note == "stopped at exit" and model.swaps == 0


def test_no_retrain_while_the_warm_start_trains(store, db_url):
    model = TeachModel.load("blank:en", LABELS)
    retrainer = Retrainer(model, db_url, "gold", n_iter=2)
    from vnerteach.warmstart import WarmStart

    model.warm = WarmStart("gold", thread=threading.Thread(target=lambda: None))  # under way: not done
    answer(model, store, answers(6))
    assert not retrainer.runs
    model.warm.trained_on = 3  # it ended: trained on 3 inputs, so the next retrain is due at 6 (2 x 3) and more
    model.warm.done.set()
    answer(model, store, answers(1, seed=5))
    assert len(retrainer.runs) == 1 and retrainer.runs[0].wait(120) and retrainer.runs[0].trained_on == 7
    retrainer.close()


def test_a_model_trained_on_other_data_is_never_replaced(store, db_url, tmp_path):
    from vnerteach.pipeline import Settings, blank_pipeline
    from vnerteach.training import Trainer, prepare_data, save_model

    store.add_examples(answers(10, seed=4), ["other"])
    settings = Settings(n_iter=2)
    data = prepare_data(store, ["other"], eval_split=0.0)
    nlp = blank_pipeline("en", data.labels, False, settings)
    trainer = Trainer(nlp, data.train, [], settings)
    for _ in trainer.epochs():
        pass
    save_model(nlp, tmp_path / "trained", data, trainer.best, False, settings)
    model = TeachModel.load(str(tmp_path / "trained"), LABELS)
    retrainer = Retrainer(model, db_url, "gold", n_iter=2)
    answer(model, store, answers(12))
    assert not retrainer.runs and model.swaps == 0


def test_the_recipes_retrain_in_the_loop_report_the_swap_and_stop_at_exit(store, db_url, tmp_path, capsys):
    from vnerteach.controller import Controller
    from vnerteach.recipes.teach import ner_correct, ner_teach
    from vnerteach.server import make_app
    from web_fixtures import wsgi

    data = sentences(40, 1)
    gold = {t["text"]: t["gold"] for t in data}
    src = write_jsonl(tmp_path / "news.jsonl", [{"text": t["text"]} for t in data])
    components = ner_correct("gold", "blank:en", str(src), label=LABELS, lookahead=10, db=db_url)
    model = components["update"].__self__
    assert isinstance(model.retrain, Retrainer)
    controller = Controller(store, components, wait_s=60)
    app = make_app(controller)
    done = 0
    while done < 6:
        code, body = wsgi(app, "GET", "/api/questions?n=1")
        assert code == 200, body
        fixed = []
        for t in body["tasks"][: 6 - done]:
            starts = {tok["start"]: i for i, tok in enumerate(t["tokens"])}
            ends = {tok["end"]: i for i, tok in enumerate(t["tokens"])}
            t["spans"] = [{"start": s, "end": e, "label": lab, "token_start": starts[s], "token_end": ends[e]}
                          for s, e, lab in gold[t["text"]]]
            fixed.append({**t, "answer": "accept"})
        if fixed:
            assert wsgi(app, "POST", "/api/answers", {"session": fixed[0]["_session_id"], "answers": fixed})[0] == 200
        done += len(fixed)
    controller.close()  # waits for the queued updates: the fifth started a retrain, which exit stopped or finished
    assert model.retrain.runs and not any(r.thread.is_alive() for r in model.retrain.runs)
    first = model.retrain.runs[0]
    # the stored answers when it read the dataset: the fifth, or one more posted meanwhile
    assert first.trained_on in (5, 6) or first.note == "stopped at exit", first
    if first.trained_on:
        assert f"Retrained: now using a model trained from blank on {first.trained_on} answered inputs of 'gold'" \
            in capsys.readouterr().err
    off = ner_correct("gold", "blank:en", str(src), label=LABELS, retrain=False, db=db_url)
    assert off["update"].__self__.retrain is None
    off["on_exit"]()
    teach = ner_teach("gold", "blank:en", str(src), label=LABELS, db=db_url)
    assert isinstance(teach["update"].__self__.retrain, Retrainer)
    teach["on_exit"]()
