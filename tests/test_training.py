"""Training: merging answers, the deterministic split, learning from binary answers, the training commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import spacy

from vnerteach.errors import InputError, UsageError
from vnerteach.nlp.evaluation import evaluate
from vnerteach.nlp.merge import INCORRECT_SPANS_KEY, answers_to_examples, merge_answers
from vnerteach.nlp.pipeline import Settings, blank_pipeline, entity_scores
from vnerteach.store import connect
from vnerteach.tasks import set_hashes
from vnerteach.nlp.training import Trainer, curve_reading
from vnerteach.nlp.training_data import in_eval_split

from helpers import ROOT
from helpers.train import binary_tasks, manual_tasks

FAST = Settings(n_iter=4, seed=0)


@pytest.fixture(scope="module")
def nlp0():
    return spacy.blank("en")


def task(text, spans, answer="accept", view="ner"):
    out = {"text": text, "answer": answer, "_view_id": view, "spans": []}
    for surface, label in spans:
        start = text.index(surface)
        out["spans"].append({"start": start, "end": start + len(surface), "label": label})
    return set_hashes(out)


def train_model(tasks, nlp0, dev_tasks=(), settings=FAST):
    merged = merge_answers(tasks, tokenizer_nlp=nlp0).merged
    dev = merge_answers(list(dev_tasks), tokenizer_nlp=nlp0).merged
    labels = sorted(set().union(*(m.labels() for m in merged)))
    nlp = blank_pipeline("en", labels, False, settings)
    trainer = Trainer(nlp, merged, dev, settings)
    for _ in trainer.epochs():
        pass
    return nlp, trainer.best


def test_merge_combines_answers_per_input_and_drops_contradictions(nlp0):
    text = "Anna Berg visited Oslo and Rome ."
    answers = [
        task(text, [("Anna Berg", "PERSON")]),                    # binary accept
        task(text, [("Oslo", "CITY")], "reject"),                 # binary reject -> incorrect span
        task(text, [("Rome", "CITY")]),                           # accepted ...
        task(text, [("Rome", "CITY")], "reject"),                 # ... and rejected: a contradiction
        task(text, [("Anna", "PERSON")]),                         # overlaps the accepted "Anna Berg": contradiction
        task(text, [("Oslo", "CITY")], "ignore"),                 # dropped
    ]
    result = merge_answers(answers, tokenizer_nlp=nlp0)
    assert len(result.merged) == 1 and result.ignored == 1
    assert result.conflicts == 3  # Rome accepted+rejected, and the two overlapping accepts
    m = result.merged[0]
    assert not m.complete and m.ents == [] and m.negs == [(3, 4, "CITY")]

    other = "Carl Dahl lives in Lima ."
    manual = task(other, [("Carl Dahl", "PERSON"), ("Lima", "CITY")], view="ner_manual")
    disagreeing = task(other, [("Lima", "PERSON")])  # binary accept that contradicts the complete annotation
    rejected_manual = task("Some other text .", [], "reject", view="ner_manual")
    result = merge_answers([manual, disagreeing, rejected_manual], tokenizer_nlp=nlp0)
    assert [m.complete for m in result.merged] == [True]
    assert result.merged[0].ents == [(0, 2, "PERSON"), (4, 5, "CITY")]
    assert result.conflicts == 1 and result.rejected_complete == 1

    two_versions = [manual, task(other, [("Carl Dahl", "PERSON")], view="ner_manual")]
    result = merge_answers(two_versions, tokenizer_nlp=nlp0)
    assert result.merged == [] and result.conflicts == 1


def test_binary_answers_leave_other_tokens_missing_not_outside(nlp0):
    text = "Anna Berg visited Oslo ."
    merged = merge_answers([task(text, [("Anna Berg", "PERSON")]), task(text, [("Oslo", "PERSON")], "reject")],
                           tokenizer_nlp=nlp0).merged
    (eg,) = answers_to_examples(nlp0, merged)
    assert [t.ent_iob_ for t in eg.reference] == ["B", "I", "", "", ""]  # "" = missing, not "O"
    assert [(s.text, s.label_) for s in eg.reference.spans[INCORRECT_SPANS_KEY]] == [("Oslo", "PERSON")]
    assert not eg.predicted.ents
    complete = merge_answers([task(text, [("Anna Berg", "PERSON")], view="ner_manual")], tokenizer_nlp=nlp0).merged
    (eg,) = answers_to_examples(nlp0, complete)
    assert [t.ent_iob_ for t in eg.reference] == ["B", "I", "O", "O", "O"]


def test_an_accepted_entity_rules_out_the_spans_overlapping_it(nlp0):
    from vnerteach.nlp.merge import implied_negatives, reference_doc

    text = "Yesterday Anna Berg visited Oslo ."
    (m,) = merge_answers([task(text, [("Anna Berg", "PERSON")]), task(text, [("Oslo", "PERSON")], "reject")],
                         tokenizer_nlp=nlp0).merged
    negs = set(implied_negatives(m, ["PERSON", "CITY"]))
    assert (1, 3, "PERSON") not in negs  # the entity itself
    assert {(1, 3, "CITY"), (1, 2, "PERSON"), (0, 3, "PERSON"), (2, 4, "CITY"), (4, 5, "PERSON")} <= negs
    assert not {(3, 4, "CITY"), (3, 5, "CITY"), (4, 5, "CITY")} & negs  # spans clear of the entity: unknown
    doc = reference_doc(nlp0.vocab, m)  # as exports write it: exactly what was answered
    assert [(s.text, s.label_) for s in doc.spans[INCORRECT_SPANS_KEY]] == [("Oslo", "PERSON")]


def test_eval_split_is_deterministic_across_processes():
    hashes = [t["_input_hash"] for t in manual_tasks(400)]
    here = [h for h in hashes if in_eval_split(h, 0.2)]
    assert 40 < len(here) < 120
    code = ("import json,sys; from vnerteach.nlp.training_data import in_eval_split; "
            "print(json.dumps([h for h in json.load(sys.stdin) if in_eval_split(h, 0.2)]))")
    other = subprocess.run([sys.executable, "-c", code], input=json.dumps(hashes), capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert json.loads(other.stdout) == here


@pytest.mark.slow
def test_small_dataset_trains_to_a_real_f1_in_seconds(nlp0):
    tasks = manual_tasks(240)
    train = [t for t in tasks if not in_eval_split(t["_input_hash"], 0.2)]
    dev = [t for t in tasks if in_eval_split(t["_input_hash"], 0.2)]
    nlp, best = train_model(train, nlp0, dev)
    assert best.scores.overall.f >= 0.9, best.scores.to_dict()
    assert best.scores.mode == "complete" and best.scores.complete == len(dev)


@pytest.mark.slow
def test_the_best_epoch_is_kept(nlp0):
    from vnerteach.nlp.training import EpochDone

    merged = merge_answers(manual_tasks(40), tokenizer_nlp=nlp0).merged
    dev = merge_answers(manual_tasks(30, seed=11), tokenizer_nlp=nlp0).merged
    nlp = blank_pipeline("en", ["CITY", "PERSON"], False, FAST)
    trainer = Trainer(nlp, merged, dev, Settings(n_iter=10, dropout=0.5))  # here F peaks before the last epoch
    f = [e.scores.overall.f for e in trainer.epochs() if isinstance(e, EpochDone)]
    best = max(range(len(f)), key=lambda i: (f[i], i))  # ties: the later epoch
    assert trainer.best.epoch == best + 1
    assert evaluate(nlp, dev).overall.f == pytest.approx(f[best])  # the pipeline holds that epoch's weights


def test_binary_only_data_trains_on_accepts_and_rejects(nlp0):
    tasks = binary_tasks(120)
    merged = merge_answers(tasks, tokenizer_nlp=nlp0).merged
    assert all(not m.complete and m.negs for m in merged)
    nlp, best = train_model(tasks, nlp0, manual_tasks(20, seed=7), Settings(n_iter=2))
    assert best.scores.overall.tp > 0


@pytest.mark.slow
def test_a_rejected_span_lowers_that_prediction(nlp0):
    no_lima = [t for t in manual_tasks(200) if "Lima" not in t["text"]]
    rejects = [t for t in binary_tasks(200, seed=4, reject=("Lima", "CITY"), wrong=0)
               if "Lima" in t["text"] and t["answer"] == "reject"]
    assert len(rejects) > 5
    plain, _ = train_model(no_lima, nlp0)
    negative, _ = train_model(no_lima + rejects, nlp0)
    probe = nlp0.make_doc("Yesterday Hana Ito moved to Lima with family . Ref 9999")
    lima = (5, 6, "CITY")
    before = entity_scores(plain, [probe])[0].get(lima, 0.0)
    after = entity_scores(negative, [probe])[0].get(lima, 0.0)
    assert before > 0.5, before
    assert after < before / 2, (before, after)
    assert entity_scores(negative, [probe])[0].get((1, 3, "PERSON"), 0.0) > 0.5


@pytest.mark.slow
def test_evaluate_scores_binary_answers_on_accepts_and_rejects(nlp0):
    nlp, _ = train_model(manual_tasks(150), nlp0)
    text = "Yesterday Mara Novak moved to Oslo with family . Ref 5"
    answers = [task(text, [("Mara Novak", "PERSON")]), task(text, [("Oslo", "PERSON")], "reject")]
    scores = evaluate(nlp, merge_answers(answers, tokenizer_nlp=nlp0).merged)
    assert scores.mode == "binary" and scores.binary == 1
    # the model predicts Mara Novak (accepted: correct) and Oslo as CITY (never judged: not counted)
    assert scores.to_dict()["ents_per_type"]["PERSON"] == {"p": 1.0, "r": 1.0, "f": 1.0, "gold": 1, "predicted": 1,
                                                           "correct": 1}
    assert scores.overall.tp + scores.overall.fp == 1


@pytest.mark.slow
def test_batch_train_command_saves_a_model_that_spacy_loads(cli, tmp_path, db_path):
    connect(str(db_path)).add_examples(manual_tasks(200) + binary_tasks(40, seed=3), ["news"])
    out = tmp_path / "model"
    result = cli("ner.batch-train", "news", "--output", out, "--n-iter", 3, "--eval-split", 0.25)
    assert result.exit_code == 0, result.stderr
    assert "epoch   3" in result.stderr and "words/s" in result.stderr
    assert "PERSON" in result.stdout and "Best epoch" in result.stdout
    meta = json.loads((out / "meta.json").read_text())
    n_answers = 200 + len(binary_tasks(40, seed=3))
    assert meta["vnerteach"]["datasets"] == {"news": n_answers}
    assert meta["vnerteach"]["train_inputs"] + meta["vnerteach"]["eval_inputs"] == 240
    assert set(meta["performance"]["ents_per_type"]) == {"CITY", "PERSON"}
    assert meta["performance"]["ents_f"] > 0.5
    code = ("import spacy; nlp = spacy.load(%r); print(nlp.pipe_names, nlp.get_pipe('ner').cfg['beam_width'], "
            "[(e.text, e.label_) for e in nlp('Yesterday Emil Faure moved to Rome with family . Ref 1').ents])" % str(out))
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert loaded.returncode == 0, loaded.stderr
    assert "['ner'] 16" in loaded.stdout and "('Rome', 'CITY')" in loaded.stdout

    scores_file = tmp_path / "scores.json"
    connect(str(db_path)).add_examples(binary_tasks(30, seed=11), ["teach_eval"])
    result = cli("ner.evaluate", out, "teach_eval", "--output", scores_file)
    assert result.exit_code == 0, result.stderr
    assert "binary answers scored on their accepts and rejects" in " ".join(result.stderr.split())
    scores = json.loads(scores_file.read_text())
    assert scores["mode"] == "binary" and scores["binary_inputs"] == 30 and scores["gold"] == 30


def test_training_commands_reject_bad_input_clearly(cli, tmp_path, db_path):
    store = connect(str(db_path))
    store.create_dataset("empty")
    store.add_examples(binary_tasks(20, seed=1), ["teach"])
    rejects = [dict(t, answer="reject", _task_hash=t["_task_hash"] + 1) for t in binary_tasks(10, seed=2)]
    store.add_examples(rejects, ["only_rejects"])
    out = tmp_path / "m"

    def fails(*args, code=1, says):
        result = cli(*args)
        assert result.exit_code == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert says in " ".join(result.stderr.split()), result.stderr

    fails("ner.batch-train", "empty", "-o", out, says="'empty' has no examples")
    fails("ner.batch-train", "only_rejects", "-o", out, says="only rejected entities")
    fails("ner.batch-train", "teach", "-o", out, "--label", "PERSON,ANIMAL", code=2,
          says="--label ANIMAL: not in the data (labels found: CITY, PERSON)")
    fails("ner.batch-train", "teach", "-o", tmp_path / "missing" / "m", says="does not exist")
    fails("ner.batch-train", "nope", "-o", out, says="Dataset 'nope' not found")
    fails("ner.evaluate", tmp_path / "no-model", "teach", code=2, says="no-model': cannot load it")
    fails("ner.evaluate", tmp_path / "no-model", "teach", "--output", tmp_path / "missing" / "s.json",
          says="does not exist")
    fails("ner.batch-train", "teach", "-o", out, "--eval-dataset", "teach", "--eval-split", "0.3", code=2,
          says="--eval-dataset and --eval-split are alternatives")
    fails("ner.batch-train", "teach", "-o", out, "--label", "CITY", "--eval-dataset", "person_only",
          says="Dataset 'person_only' not found")
    store.add_examples([t for t in binary_tasks(20, seed=9) if t["spans"][0]["label"] == "PERSON"], ["person_only"])
    fails("ner.batch-train", "teach", "-o", out, "--label", "CITY", "--eval-dataset", "person_only",
          says="Evaluation dataset 'person_only': no answer about --label CITY")
    for bad in (["--dropout", "1.5"], ["--batch-size", "0"], ["--n-iter", "0"]):
        fails("ner.train-curve", "teach", *bad, code=2, says="must be")
    assert not out.exists()


def test_eval_inputs_shared_with_training_are_warned_and_excluded(cli, tmp_path, db_path):
    tasks = manual_tasks(80)
    connect(str(db_path)).add_examples(tasks, ["train"])
    connect(str(db_path)).add_examples(tasks[:20] + manual_tasks(20, seed=5), ["dev"])
    out = tmp_path / "m"
    result = cli("ner.batch-train", "train", "-o", out, "--eval-dataset", "dev", "-n", 1)
    assert result.exit_code == 0, result.stderr
    assert "20 inputs of the evaluation dataset are also in the training data: excluded" in \
        " ".join(result.stderr.split())
    meta = json.loads((out / "meta.json").read_text())["vnerteach"]
    assert meta["train_inputs"] == 60 and meta["eval_inputs"] == 40 and meta["eval_overlap_excluded"] == 20


def test_train_curve_prints_each_share_and_a_reading(cli, db_path):
    connect(str(db_path)).add_examples(manual_tasks(80), ["news"])
    result = cli("ner.train-curve", "news", "--n-iter", 1)
    assert result.exit_code == 0, result.stderr
    for share in ("25%", "50%", "75%", "100%"):
        assert share in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if "%" in line and "│" in line]
    f = [float(r[5]) for r in rows]  # │ share │ inputs │ F │ change │
    changes = [float(r[7]) for r in rows[1:]]
    assert len(f) == 4 and changes == pytest.approx([b - a for a, b in zip(f, f[1:])], abs=0.11)
    assert curve_reading([(s / 4, v / 100) for s, v in zip(range(1, 5), f)]) in " ".join(result.stderr.split())
    assert curve_reading([(0.25, 0.5), (0.5, 0.6), (0.75, 0.7), (1.0, 0.75)]).startswith("still rising")
    assert curve_reading([(0.25, 0.5), (0.5, 0.6), (0.75, 0.7), (1.0, 0.705)]).startswith("levelling off")
    assert curve_reading([(0.25, 0.7), (0.5, 0.8), (0.75, 0.8), (1.0, 0.7)]).startswith("dropped")
    assert curve_reading([(0.25, 0.7), (0.5, 0.7), (0.75, 0.7), (1.0, 0.7)]).startswith("flat")


@pytest.mark.slow
def test_evaluate_complete_answers_and_contradictions_are_reported(cli, tmp_path, db_path):
    tasks = manual_tasks(150)
    contradiction = [set_hashes({"text": "Lena Ortiz met Bruno Costa .", "answer": answer, "_view_id": "ner",
                                 "spans": [{"start": 0, "end": 10, "label": "PERSON"}]}) for answer in ("accept", "reject")]
    contradiction[1]["_task_hash"] += 1  # stored as two answers, as two sessions would
    connect(str(db_path)).add_examples(tasks + contradiction, ["news"])
    connect(str(db_path)).add_examples(manual_tasks(40, seed=8), ["gold"])
    out = tmp_path / "model"
    result = cli("ner.batch-train", "news", "-o", out, "-n", 3, "--eval-dataset", "gold")
    assert result.exit_code == 0, result.stderr
    assert "1 contradictory answers dropped" in " ".join(result.stderr.split())
    result = cli("ner.evaluate", out, "gold")
    assert result.exit_code == 0, result.stderr
    assert "complete annotations scored fully" in " ".join(result.stderr.split())
    (total,) = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│ all ")]
    assert total[2].strip() == "80"  # Gold: 40 inputs with 2 entities each, every one counted


def test_an_example_the_beam_search_cannot_learn_is_skipped_not_fatal():
    from thinc.api import fix_random_seed

    from vnerteach.nlp.merge import Merged
    from vnerteach.nlp.training import update_skipping

    labels = ["LOC", "MISC", "ORG", "PER"]
    words = tuple(f"w{i}" for i in (8, 3, 19, 29, 14, 21, 5, 0, 15, 21, 13))
    # a binary input: one accepted entity, two rejected spans, every other token unknown
    bad = Merged(1, words, (True,) * 11, None, [(9, 11, "ORG")], [(2, 5, "LOC"), (6, 9, "ORG")], False)
    good = Merged(2, ("Anna", "went", "home"), (True,) * 3, None, [(0, 1, "PER")], [], False)

    def fresh():
        fix_random_seed(1)  # with this seed the untrained beam asserts on ``bad``
        nlp = blank_pipeline("en", labels, False, Settings())
        return nlp, nlp.initialize()

    nlp, optimizer = fresh()
    with pytest.raises(AssertionError):
        nlp.update(answers_to_examples(nlp, [bad]), sgd=optimizer, drop=0.0)
    nlp, optimizer = fresh()
    before = nlp.get_pipe("ner").model.to_bytes()
    losses = {}
    assert update_skipping(nlp, answers_to_examples(nlp, [good, bad]), optimizer, 0.0, losses) == 1
    assert losses["ner"] > 0 and nlp.get_pipe("ner").model.to_bytes() != before  # ``good`` was learnt


def test_a_long_example_the_oracle_cannot_supervise_is_skipped_not_fatal():
    from thinc.api import fix_random_seed

    from vnerteach.nlp.merge import Merged
    from vnerteach.nlp.training import update_skipping

    labels = ["ANSWER", "HEADER", "QUESTION"]
    words = tuple(f"w{i % 50}" for i in range(194))  # a long page: spaCy's update cuts it with the oracle
    rejects = [(17, 19, "HEADER"), (19, 20, "ANSWER"), (36, 37, "QUESTION"), (66, 67, "QUESTION"),
               (74, 75, "ANSWER"), (75, 78, "HEADER"), (136, 137, "ANSWER"), (137, 139, "HEADER"),
               (171, 174, "HEADER"), (171, 176, "HEADER"), (174, 175, "QUESTION"), (174, 176, "HEADER"),
               (176, 179, "HEADER"), (176, 182, "HEADER"), (179, 182, "HEADER"), (190, 192, "HEADER")]
    bad = Merged(1, words, (True,) * 194, None, [(10, 11, "ANSWER"), (192, 194, "HEADER")], rejects, False)
    good = Merged(2, ("Name", ":", "Ann"), (True,) * 3, None, [(2, 3, "ANSWER")], [], False)

    def fresh():
        fix_random_seed(0)  # with this seed the untrained model's state has no zero-cost move (E024)
        nlp = blank_pipeline("en", labels, False, Settings())
        return nlp, nlp.initialize()

    nlp, optimizer = fresh()
    with pytest.raises(ValueError, match="E024"):
        nlp.update(answers_to_examples(nlp, [bad]), sgd=optimizer, drop=0.0)
    nlp, optimizer = fresh()
    assert update_skipping(nlp, answers_to_examples(nlp, [bad, good]), optimizer, 0.0, {}) == 1


def test_evaluate_with_a_model_of_none_of_the_datasets_labels_is_an_error_not_zeros(cli, tmp_path, db_path):
    """Issue 23 point 17: a table of zeros said nothing about why."""
    from vnerteach.nlp.pipeline import blank_pipeline

    connect(str(db_path)).add_examples(manual_tasks(10), ["news"])
    other = tmp_path / "other"
    nlp = blank_pipeline("en", ["TOTAL", "DATE"], False)
    nlp.initialize()
    nlp.to_disk(other)
    result = cli("ner.evaluate", other, "news")
    assert result.exit_code == 1 and "has none of the labels of 'news'" in " ".join(result.stderr.split())
    assert "TOTAL" in result.stderr and "PERSON" in result.stderr and "│ all " not in result.stdout


def test_a_trained_model_keeps_its_label_order_for_the_keys_of_the_recipes_that_use_it(cli, tmp_path, db_path):
    """Issue 23 point 12: ner.correct with a trained model and review sorted the labels, so key 1 changed meaning."""
    from vnerteach.teach.model import TeachModel
    from vnerteach.nlp.pipeline import load_pipeline, model_labels

    tasks = manual_tasks(30)
    connect(str(db_path)).add_examples(tasks, ["news"])
    first_seen = list(dict.fromkeys(s["label"] for t in tasks for s in t["spans"]))
    given = sorted(first_seen, reverse=True)
    for args, expected in [((), first_seen), (("--label", ",".join(given)), given)]:
        out = tmp_path / f"model{len(args)}"
        assert cli("ner.batch-train", "news", "-o", out, "-n", 1, *args).exit_code == 0
        assert model_labels(load_pipeline(str(out))) == expected
        assert TeachModel.load(str(out), []).labels == expected
    assert first_seen != sorted(first_seen) or given != sorted(given)  # one of the two orders is not alphabetical


def test_a_note_names_eval_split_only_when_the_user_gave_it(store):
    """Issue 23 point 17: make demo warned about --eval-split, a flag its user never gave."""
    from vnerteach.nlp.training_data import prepare_data

    def none_held_out(tasks: list[dict]) -> bool:
        return not any(in_eval_split(t["_input_hash"], 0.2) for t in tasks)

    tasks = next(t for t in (manual_tasks(n) for n in range(1, 8)) if none_held_out(t))
    store.add_examples(tasks, ["few"])
    default = prepare_data(store, ["few"])
    assert default.notes and "--eval-split" not in default.notes[0] and "not evaluated" in default.notes[0]
    given = prepare_data(store, ["few"], eval_split=0.2)
    assert given.notes == [f"--eval-split 0.2 held out no input of {len(tasks)}: no evaluation"]


@pytest.mark.slow
def test_train_is_one_call_that_saves_the_best_epoch_or_nothing_when_stopped(store, tmp_path):
    """Issue 24 point 4: data, blank pipeline, epochs and save in one library call, as spaCy's train."""
    from vnerteach.nlp.training import EpochDone, TrainStart, train

    store.add_examples(manual_tasks(40) + binary_tasks(10, seed=3), ["news"])
    events: list = []
    result = train(store, ["news"], settings=Settings(n_iter=2), output=tmp_path / "m", on_event=events.append)
    assert isinstance(events[0], TrainStart) and events[0].data is result.data and events[0].nlp is result.nlp
    assert [e.epoch for e in events if isinstance(e, EpochDone)] == [1, 2] and result.best is not None
    assert result.output is not None and json.loads((result.output / "meta.json").read_text())["vnerteach"][
        "best_epoch"] == result.best.epoch
    stopped = train(store, ["news"], settings=Settings(n_iter=2), output=tmp_path / "n", stop=lambda: True)
    assert stopped.stopped and stopped.output is None and not (tmp_path / "n").exists()  # all or nothing
    city = train(store, ["news"], settings=Settings(n_iter=1), eval_split=0.0, model_labels=["CITY"])
    assert city.nlp.get_pipe("ner").labels == ("CITY",) and city.data.labels == ["CITY"]
    assert all(label == "CITY" for m in city.data.train for _s, _e, label in (*m.ents, *m.negs))
    store.add_examples(binary_tasks(10, seed=4), ["teach"])  # complete answers teach what is not an entity
    with pytest.raises(InputError, match="no accepted entity of ANIMAL to learn from"):
        train(store, ["teach"], settings=Settings(n_iter=1), eval_split=0.0, model_labels=["ANIMAL"])


def test_train_curve_trains_on_growing_nested_shares_scored_on_one_dev_set(store):
    from vnerteach.nlp.training import CURVE_SHARES, CurvePoint, CurveRun, train_curve

    store.add_examples(manual_tasks(40), ["news"])
    events: list = []
    points = train_curve(store, ["news"], settings=Settings(n_iter=1), on_event=events.append)
    assert [p.share for p in points] == list(CURVE_SHARES) and points == [e for e in events if isinstance(e, CurvePoint)]
    assert [e.inputs for e in events if isinstance(e, CurveRun)] == [p.inputs for p in points]
    assert points[0].inputs < points[-1].inputs
    with pytest.raises(UsageError, match="needs an evaluation set"):
        train_curve(store, ["news"], settings=Settings(n_iter=1), eval_split=0.0)
