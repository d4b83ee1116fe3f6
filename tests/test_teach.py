"""ner.teach and ner.correct through the web API: learning from a scripted annotator, dedup across restarts, pages."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import pytest
import spacy

from helpers import doc_options, write_jsonl
from helpers.teach import LABELS, f1, judge, patterns, sentences
from vnerteach.teach.suggester import Suggester
from vnerteach.loop.controller import Controller
from vnerteach.errors import UsageError
from vnerteach.teach.model import TeachModel
from vnerteach.recipes.teach import ner_correct, ner_teach
from vnerteach.loop.sorters import uncertainty
from vnerteach.web.server import make_app
from vnerteach.tasks import INPUT_HASH, TASK_HASH, add_tokens, set_hashes
from helpers.web import wsgi

pytestmark = pytest.mark.slow  # trains models in the loop: minutes, not seconds


def source(tmp_path, n=600, seed=1):
    data = sentences(n, seed)
    path = write_jsonl(tmp_path / "news.jsonl", [{"text": t["text"]} for t in data])
    return path, {t["text"]: t["gold"] for t in data}


def annotate(app, n, gold, batch=10, answer=None, session=None):  # noqa: C901
    """The scripted annotator: fetch questions, answer each as the gold data says; return the answers."""
    done = []
    while len(done) < n:
        code, body = wsgi(app, "GET", f"/api/questions?n={batch}")
        assert code == 200, body
        if not body["tasks"]:
            if body["progress"]["done"]:
                break
            continue  # the stream is slow (a cold model): the server answered within its 1 s wait
        tasks = body["tasks"][: n - len(done)]
        answers = []
        for t in tasks:
            decision = (answer or judge)(t, gold)  # may edit the task (ner.correct), so before copying it
            answers.append({**t, "answer": decision})
        code, saved = wsgi(app, "POST", "/api/answers", {"session": session or tasks[0]["_session_id"],
                                                          "answers": answers})
        assert code == 200, saved
        done += answers
    return done


def test_teach_learns_from_300_answers_through_the_api(store, tmp_path):
    src, gold = source(tmp_path)
    pat = write_jsonl(tmp_path / "patterns.jsonl", patterns())
    held = list(add_tokens(spacy.blank("en"), sentences(150, seed=2, held_out=True)))
    components = ner_teach("news", "blank:en", str(src), label=LABELS, patterns=pat)
    model = components["update"].__self__
    before = f1(model, held)
    controller = Controller(store, components)
    app = make_app(controller)
    answers = annotate(app, 300, gold)
    controller.close()  # waits for the updates queued in the background
    after = f1(model, held)
    assert len(answers) == 300 and model.updates >= 20
    assert any("pattern" in a["spans"][0] for a in answers)
    accepted = sum(a["answer"] == "accept" for a in answers)
    assert 20 < accepted < 280
    assert after >= before + 0.2 and after >= 0.3, (before, after)  # from ~0.1 to 0.36-0.5 over runs


def test_a_restart_never_asks_an_answered_question_again(store, db_url, tmp_path):
    src, gold = source(tmp_path, n=40)
    pat = write_jsonl(tmp_path / "patterns.jsonl", patterns())
    first = Controller(store, ner_teach("news", "blank:en", str(src), label=LABELS, patterns=pat, db=db_url))
    asked = {int(a[TASK_HASH]) for a in annotate(make_app(first), 60, gold)}
    first.close()
    components = ner_teach("news", "blank:en", str(src), label=LABELS, patterns=pat, db=db_url)
    # As the command runs it (with its database): the answers are recalled and a model is trained on them (the
    # warm start); the pattern matches were all asked, so new questions come from that model. A loaded machine
    # may not have swapped it in before the 40 inputs are read: wait for it.
    assert components["update"].__self__.warm.wait(120)
    again = Controller(store, components)
    second = annotate(make_app(again), 200, gold)
    again.close()
    assert second and not asked & {int(a[TASK_HASH]) for a in second}
    assert again.progress().skipped > 0  # the same suggestions came again and were skipped


def test_exclude_by_input_skips_inputs_already_annotated(store, tmp_path):
    src, gold = source(tmp_path, n=30)
    pat = write_jsonl(tmp_path / "patterns.jsonl", patterns())
    first = Controller(store, ner_teach("news", "blank:en", str(src), label=LABELS, patterns=pat))
    seen = {int(a[INPUT_HASH]) for a in annotate(make_app(first), 25, gold)}
    first.close()
    again = Controller(store, ner_teach("news", "blank:en", str(src), label=LABELS, exclude_by="input", patterns=pat))
    second = annotate(make_app(again), 500, gold)
    again.close()
    assert second and not seen & {int(a[INPUT_HASH]) for a in second}
    # inputs not yet annotated still get every question about them, not just the first
    assert max(Counter(int(a[INPUT_HASH]) for a in second).values()) > 1


def test_model_out_is_saved_on_exit_and_a_batch_trained_model_continues(store, tmp_path):
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import train

    src, gold = source(tmp_path, n=200)
    pat = write_jsonl(tmp_path / "patterns.jsonl", patterns())
    out = tmp_path / "loop-model"
    controller = Controller(store, ner_teach("news", "blank:en", str(src), label=LABELS, patterns=pat,
                                             model_out=out))
    annotate(make_app(controller), 120, gold)
    controller.close()
    assert (out / "meta.json").is_file()
    assert json.loads((out / "meta.json").read_text())["vnerteach"]["in_loop_updates"] > 0
    # the seed thread's workflow: batch-train from blank on the dataset, then teach with that model
    train(store, ["news"], settings=Settings(n_iter=3), eval_split=0.0, layout=False, output=tmp_path / "trained")
    restarted = Controller(store, ner_teach("news", str(tmp_path / "trained"), str(src), label=LABELS),
                           wait_s=60)
    tasks = restarted.questions(20)
    restarted.close()
    # it starts where the trained model is unsure: the questions are closer to 0.5 than its candidates are
    inputs = add_tokens(spacy.blank("en"), [json.loads(line) for line in src.read_text().splitlines()[:60]])
    candidates = Suggester(TeachModel.load(str(tmp_path / "trained"), LABELS))(inputs)
    everything = [uncertainty(score) for score, _ in candidates]
    asked = [uncertainty(t["spans"][0]["score"]) for t in tasks]
    assert len(tasks) == 20 and statistics.mean(asked) > statistics.mean(everything) + 0.1, \
        (statistics.mean(asked), statistics.mean(everything))


def test_correct_prefills_predictions_and_learns_from_complete_answers(store, tmp_path):
    src, gold = source(tmp_path, n=40)
    components = ner_correct("gold", "blank:en", str(src), label=LABELS, lookahead=10)
    model = components["update"].__self__
    controller = Controller(store, components, wait_s=60)  # the blank model is made first: over 1 s under load
    app = make_app(controller)

    def fix(task, _):
        task["spans"] = [{"start": s, "end": e, "label": lab} for s, e, lab in gold[task["text"]]]
        starts = {t["start"]: i for i, t in enumerate(task["tokens"])}
        ends = {t["end"]: i for i, t in enumerate(task["tokens"])}
        for span in task["spans"]:
            span["token_start"], span["token_end"] = starts[span["start"]], ends[span["end"]]
        return "accept"

    code, body = wsgi(app, "GET", "/api/questions?n=10")
    first = body["tasks"]
    assert controller.view_id == "ner_manual" and len(first) == 10
    assert all(t["meta"]["uncertainty"] >= 0 for t in first)  # the order: tests/test_lookahead.py
    answers = []
    for t in first:
        decision = fix(t, None)
        answers.append({**t, "answer": decision})
    assert wsgi(app, "POST", "/api/answers", {"session": first[0]["_session_id"], "answers": answers})[0] == 200
    annotate(app, 20, None, answer=fix)
    controller.close()
    assert model.updates >= 2
    stored = list(store.iter_examples("gold"))
    assert len(stored) == 30 and all(len(eg["spans"]) == 2 for eg in stored)


def test_teach_and_correct_on_a_folder_of_pdfs_and_images(store, tmp_path):
    from helpers.documents import digital_pdf, text_image

    folder = tmp_path / "docs"
    folder.mkdir()
    digital_pdf(folder / "report.pdf", pages=2)
    text_image(["invoice total 399 payment date 2024", "customer number 4711"]).save(folder / "scan.png")
    pat = write_jsonl(tmp_path / "patterns.jsonl", [{"label": "TOTAL", "pattern": [{"LIKE_NUM": True}]}])
    components = ner_teach("pages", "blank:en", str(folder), label=["TOTAL"], patterns=pat, documents=doc_options())
    model = components["update"].__self__
    controller = Controller(store, components, wait_s=60)
    app = make_app(controller, images=components["images"])
    code, body = wsgi(app, "GET", "/api/questions?n=5")
    tasks = body["tasks"]
    assert code == 200 and tasks
    for task in tasks:
        span = task["spans"][0]
        boxes = [t["bbox"] for t in task["tokens"][span["token_start"]:span["token_end"] + 1]]
        assert task["image"].startswith("sha256:") and all(len(b) == 4 for b in boxes)
    code, png = wsgi(app, "GET", f"/api/image/{tasks[0]['meta']['image_key']}")
    assert code == 200 and png[:4] == b"\x89PNG"  # the page on which the span's boxes are drawn
    wsgi(app, "POST", "/api/answers", {"session": tasks[0]["_session_id"],
                                      "answers": [{**t, "answer": "reject"} for t in tasks]})
    controller.close()
    assert model.layout and model.updates >= 1 and not controller.update_errors

    correct = ner_correct("pages_gold", "blank:en", str(folder), label=["TOTAL"], documents=doc_options())
    c2 = Controller(store, correct, wait_s=60)
    got = c2.questions(10)
    c2.close()
    assert len(got) == 3 and all(t["tokens"][0].get("bbox") for t in got)
    assert sorted(Path(t["meta"]["path"]).name for t in got) == ["report.pdf", "report.pdf", "scan.png"]


def test_teach_needs_labels_and_a_known_sorter(tmp_path):
    from vnerteach.errors import UsageError

    src, _ = source(tmp_path, n=3)
    with pytest.raises(UsageError, match="--label"):
        ner_teach("news", "blank:en", str(src))
    with pytest.raises(UsageError, match="--sorter"):
        ner_teach("news", "blank:en", str(src), label=LABELS, sorter="best")


def disney_sentences(n, seed, wrong=False):
    """Sentences where Disneyland stands where a person would (the forum thread's case), every other one.

    Its gold has no PERSON there; with ``wrong``, Disneyland is a PERSON (what the base model learnt).
    """
    data = sentences(n, seed)
    for t in data[::2]:
        (ps, pe, _), (cs, ce, _) = t["gold"]
        person, city = t["text"][ps:pe], t["text"][cs:ce]
        t["text"] = t["text"].replace(person, "Disneyland")
        at = t["text"].index(city)
        t["gold"] = [[at, at + len(city), "CITY"]]
        if wrong:
            d = t["text"].index("Disneyland")
            t["gold"].append([d, d + len("Disneyland"), "PERSON"])
    return data


def disney_source(path, n, seed):
    """A JSONL source of disney_sentences and the gold the annotator answers by."""
    data = disney_sentences(n, seed)
    write_jsonl(path, [{"text": t["text"]} for t in data])
    return path, {t["text"]: t["gold"] for t in data}


def about_disney(task):
    span = task["spans"][0]
    return span["label"] == "PERSON" and task["text"][span["start"]:span["end"]] == "Disneyland"


def test_a_restart_does_not_ask_again_about_a_span_rejected_in_the_first_run(store, db_path, tmp_path):
    """The forum thread: a base model that takes Disneyland for a PERSON, ner.teach run once per file."""
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import train

    # the base model: batch-trained on complete annotations in which Disneyland was (wrongly) a PERSON
    store.add_examples([set_hashes({"text": t["text"], "answer": "accept", "spans": [
        {"start": s, "end": e, "label": lab} for s, e, lab in t["gold"]]}) for t in disney_sentences(160, 7, True)],
        ["base"])
    base = train(store, ["base"], settings=Settings(n_iter=8), eval_split=0.0, layout=False,
                 output=tmp_path / "base-model").output

    first_src, gold = disney_source(tmp_path / "day1.jsonl", 80, seed=11)
    # prefer_high_scores: what the model believes is asked, so a candidate that is left is sure to come
    first = Controller(store, ner_teach("news", str(base), str(first_src), label=LABELS, sorter="prefer_high_scores",
                                        db=str(db_path)))
    answers = annotate(make_app(first), 80, gold)
    first.close()
    assert sum(about_disney(a) and a["answer"] == "reject" for a in answers) >= 1  # asked and rejected on day 1

    second_src, gold2 = disney_source(tmp_path / "day2.jsonl", 60, seed=12)  # new sentences
    fresh = Controller(store, ner_teach("news", str(base), str(second_src), label=LABELS, fresh=True,
                                        sorter="prefer_high_scores", db=str(db_path)), wait_s=120)
    assert any(about_disney(t) for t in fresh.questions(30))  # the base model alone asks about it again
    fresh.close()

    components = ner_teach("news", str(base), str(second_src), label=LABELS, sorter="prefer_high_scores",
                           db=str(db_path))
    model = components["update"].__self__
    assert model.recalled == len(answers)
    again = Controller(store, components)
    second = annotate(make_app(again), 60, gold2)
    assert model.warm is not None and model.warm.wait(120) and model.warm.trained_on > 0, model.warm
    second += annotate(make_app(again), 40, gold2)
    again.close()
    assert len(second) >= 10 and not [a for a in second if about_disney(a)], len(second)


def test_correct_starts_from_a_model_trained_on_the_datasets_answers_unless_fresh(store, db_path, tmp_path):
    src, gold = source(tmp_path, n=40)
    store.add_examples([set_hashes({"text": t, "answer": "accept", "_view_id": "ner_manual",
                                    "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in spans]})
                        for t, spans in list(gold.items())[:20]], ["gold"])
    fresh = ner_correct("gold", "blank:en", str(src), label=LABELS, fresh=True, db=str(db_path))
    assert fresh["update"].__self__.warm is None
    components = ner_correct("gold", "blank:en", str(src), label=LABELS, db=str(db_path))
    model = components["update"].__self__
    assert model.warm.wait(120) and model.warm.trained_on == 20, model.warm
    assert model.recalled == 20
    held = list(add_tokens(spacy.blank("en"), sentences(60, seed=2, held_out=True)))
    assert f1(model, held) > f1(fresh["update"].__self__, held) + 0.2  # it learnt the 20 complete answers
    with pytest.raises(UsageError, match="nothing to start from.*--patterns.*ner.manual"):
        ner_teach("new", "blank:en", str(src), label=LABELS, db=str(db_path))  # blank, no patterns, no answers
    pat = write_jsonl(tmp_path / "patterns.jsonl", patterns())
    assert ner_teach("new", "blank:en", str(src), label=LABELS, patterns=pat, db=str(db_path))["update"].__self__.warm.note \
        == "a new dataset"
    [task] = add_tokens(spacy.blank("en"), [{"text": "Disneyland was full ."}])
    store.add_examples([set_hashes({**task, "answer": "reject", "_view_id": "ner", "spans": [
        {"start": 0, "end": 10, "token_start": 0, "token_end": 0, "label": "PERSON"}]})], ["rejects"])
    rejects = ner_teach("rejects", "blank:en", str(src), label=LABELS, db=str(db_path))["update"].__self__
    assert rejects.warm.wait(60) and not rejects.warm.trained_on and "only rejected" in rejects.warm.note
    assert rejects.memory.rejected(("Disneyland",), "PERSON")  # still counted: not asked again


def test_no_warm_start_for_a_model_batch_trained_on_the_dataset_as_it_is(store, db_path, tmp_path):
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import train

    src, gold = source(tmp_path, n=30)
    store.add_examples([set_hashes({"text": t, "answer": "accept", "_view_id": "ner_manual",
                                    "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in spans]})
                        for t, spans in list(gold.items())[:10]], ["gold"])
    train(store, ["gold"], settings=Settings(n_iter=2), eval_split=0.0, layout=False, output=tmp_path / "trained")
    model = ner_correct("gold", str(tmp_path / "trained"), str(src), label=LABELS, db=str(db_path))["update"].__self__
    # the model already knows these answers: a 5-epoch warm start would only replace it with a weaker one
    assert model.warm.thread is None and model.warm.note == "MODEL was trained on these answers already"
    assert model.recalled == 10
    store.add_examples([set_hashes({"text": "One more answer .", "answer": "accept", "_view_id": "ner_manual",
                                    "spans": []})], ["gold"])
    newer = ner_correct("gold", str(tmp_path / "trained"), str(src), label=LABELS, db=str(db_path))["update"].__self__
    assert newer.warm.wait(120) and newer.warm.trained_on == 11
