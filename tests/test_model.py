"""The model in the loop: candidates with probabilities, patterns, updates (rejects go down), saving, layout."""

from __future__ import annotations

import threading
import time

import pytest
import spacy

from helpers.teach import LABELS, patterns, sentences, taught
from vnerteach.teach.suggester import Suggester, is_pattern_task, span_task
from vnerteach.errors import UsageError
from vnerteach.teach.fairlock import FairLock
from vnerteach.teach.model import TeachModel, TeachSettings
from vnerteach.teach.patterns import PatternMatcher
from vnerteach.tasks import INPUT_HASH, TASK_HASH, add_tokens, set_hashes


def tokenized(n=20, seed=0):
    return list(add_tokens(spacy.blank("en"), [{"text": t["text"]} for t in sentences(n, seed)]))


def test_blank_model_scores_candidates_of_the_labels_in_0_1():
    model = TeachModel.load("blank:en", LABELS)
    tasks = tokenized(5)
    scores = model.score(tasks)
    assert len(scores) == 5 and all(scores)
    for per_task, task in zip(scores, tasks):
        for (start, end, label), p in per_task.items():
            assert label in LABELS and 0 <= start < end <= len(task["tokens"]) and 0.0 <= p <= 1.0


@pytest.mark.slow
def test_suggestions_are_binary_tasks_with_one_scored_span_and_their_own_hashes():
    model = taught(TeachModel.load("blank:en", LABELS))
    assert model.confident and model.learnt == 48
    tasks = tokenized(3)
    out = list(Suggester(model)(iter(tasks)))
    assert out
    hashes = set()
    for score, eg in out:
        (span,) = eg["spans"]
        assert span["score"] == round(score, 4) == eg["meta"]["score"] and span["label"] in LABELS
        assert eg["meta"]["model_version"] == model.version == 1
        assert eg["text"][span["start"]:span["end"]] == " ".join(
            t["text"] for t in eg["tokens"][span["token_start"]:span["token_end"] + 1])
        assert eg[INPUT_HASH] == set_hashes({"text": eg["text"]})[INPUT_HASH]
        hashes.add(eg[TASK_HASH])
    assert len(hashes) == len(out)  # never the same question twice


def test_a_model_that_knows_nothing_gives_no_scores_and_asks_only_name_like_spans_between_pattern_matches():
    nlp = spacy.blank("en")
    matcher = PatternMatcher(nlp, [dict(p, id=f"pat{i}") for i, p in enumerate(patterns())])
    model = TeachModel.load("blank:en", LABELS)
    assert not model.confident
    tasks = tokenized(30)
    out = [eg for _, eg in Suggester(model, matcher)(iter(tasks))]
    ours = [eg for eg in out if not is_pattern_task(eg)]
    assert ours and len(ours) * 3 <= len(out) - len(ours) + 3  # one per three pattern matches (plus a dry spell)
    for eg in out:
        assert eg["spans"][0]["score"] is None and eg["meta"]["score"] is None  # no confidence: shown as such
    for eg in ours:
        words = eg["text"][eg["spans"][0]["start"]:eg["spans"][0]["end"]].split()
        assert all(w[0].isupper() or w[0].isdigit() for w in (words[0], words[-1]))  # a name or a value
        assert words[0].lower() not in ("the", "in", "a", "yesterday")
    # without patterns, a source of names still gets a question after a dry spell of inputs
    alone = [eg for _, eg in Suggester(TeachModel.load("blank:en", LABELS))(iter(tokenized(30)))]
    assert 1 <= len(alone) <= 3


@pytest.mark.slow
def test_a_swap_and_an_update_each_raise_the_version_and_a_stale_question_is_scored_again_or_dropped():
    nlp = spacy.blank("en")
    model = TeachModel.load("blank:en", LABELS)
    suggest = Suggester(model)
    task = next(iter(add_tokens(nlp, [{"text": "Alice Baker flew to Paris on Monday ."}])))
    question = span_task(task, (0, 2, "CITY"), None, version=model.version)  # "Alice Baker" as a CITY
    assert question["meta"]["model_version"] == 0 and suggest.refresh(question) is question
    taught(model)
    fresh = suggest.refresh(question)
    assert fresh[TASK_HASH] == question[TASK_HASH] and fresh["meta"]["model_version"] == 1
    assert isinstance(fresh["spans"][0]["score"], float)  # confident now: a score
    before = model.version
    model.swap(model.nlp)  # the warm start's swap: a new pipeline scores from now on
    assert model.version > before
    span = question["spans"][0]
    words = question["text"][span["start"]:span["end"]]
    model.update([{**question, "answer": "reject", "_view_id": "ner"}])  # its words, rejected with its label: not asked again
    assert model.memory.rejected(tuple(words.split()), span["label"])
    assert suggest.refresh(question) is None


def test_pattern_matches_are_tagged_mixed_in_and_not_asked_twice():
    nlp = spacy.blank("en")
    matcher = PatternMatcher(nlp, [dict(p, id=f"pat{i}") for i, p in enumerate(patterns())])
    model = TeachModel.load("blank:en", LABELS)
    task = next(iter(add_tokens(nlp, [{"text": "Alice Baker flew to Paris on Monday ."}])))
    out = [eg for _, eg in Suggester(model, matcher, min_score=0.0)(iter([task]))]
    from_patterns = [eg for eg in out if is_pattern_task(eg)]
    spans = {(eg["spans"][0]["start"], eg["spans"][0]["end"], eg["spans"][0]["label"]) for eg in from_patterns}
    assert spans == {(0, 11, "PERSON"), (20, 25, "CITY")}
    assert {eg["meta"]["pattern"] for eg in from_patterns} == {"pat0", "pat6"}
    all_spans = [(eg["spans"][0]["start"], eg["spans"][0]["end"], eg["spans"][0]["label"]) for eg in out]
    assert len(all_spans) == len(set(all_spans))  # the model's own candidate for a matched span is dropped


def test_a_rejected_span_scores_lower_after_updates_and_an_accepted_one_is_predicted():
    model = TeachModel.load("blank:en", LABELS, TeachSettings(replay=0, seed=1))
    raw = sentences(1, seed=5)[0]
    task = next(iter(add_tokens(spacy.blank("en"), [{"text": raw["text"]}])))
    tokens = task["tokens"]
    starts = {t["start"]: i for i, t in enumerate(tokens)}
    ends = {t["end"]: i + 1 for i, t in enumerate(tokens)}
    gold = [(starts[s], ends[e], label) for s, e, label in raw["gold"]]
    scores = model.score([task])[0]
    bad, p_bad = max(((k, v) for k, v in scores.items()
                      if not any(k[0] < g[1] and g[0] < k[1] for g in gold)), key=lambda kv: kv[1])
    good = gold[0]

    def answer(triple, kind):
        s, e, label = triple
        return {**task, "_view_id": "ner", "answer": kind, "spans": [
            {"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s, "token_end": e - 1,
             "label": label}]}

    assert p_bad > 0.3
    for _ in range(8):
        model.update([answer(bad, "reject"), answer(good, "accept")])
    after = model.score([task])[0]
    assert after.get(bad, 0.0) < p_bad - 0.2
    assert after.get(good, 0.0) > 0.5
    assert model.updates == 8


def test_ignored_answers_are_skipped():
    model = TeachModel.load("blank:en", LABELS)
    task = tokenized(1)[0]
    assert model.update([{**task, "answer": "ignore", "_view_id": "ner"}]) == 0.0
    assert model.updates == 0


def test_saved_model_loads_with_spacy_load_and_into_teach(tmp_path):
    model = TeachModel.load("blank:en", LABELS)
    task = tokenized(1)[0]
    model.update([{**task, "_view_id": "ner", "answer": "accept", "spans": [
        {"start": 0, "end": len(task["tokens"][0]["text"]), "token_start": 0, "token_end": 0, "label": "PERSON"}]}])
    path = model.to_disk(tmp_path / "loop")
    nlp = spacy.load(path)
    assert set(nlp.get_pipe("ner").labels) == set(LABELS)
    again = TeachModel.load(str(path), LABELS + ["ORG"])  # a new label is added to a trained model
    assert "ORG" in again.nlp.get_pipe("ner").labels
    assert again.score([task])[0] and again.nlp.meta["vnerteach"]["in_loop_updates"] == 1


def test_a_model_without_a_beam_is_refused(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("PERSON")
    nlp.initialize()
    nlp.to_disk(tmp_path / "greedy")
    with pytest.raises(UsageError, match="no beam"):
        TeachModel.load(str(tmp_path / "greedy"), ["PERSON"])
    with pytest.raises(UsageError, match="cannot load"):
        TeachModel.load(str(tmp_path / "missing"), ["PERSON"])
    with pytest.raises(UsageError, match="no language"):
        TeachModel.load("blank:zz", ["PERSON"])


def test_page_tasks_get_a_layout_model_that_saves_and_loads(tmp_path):
    tokens, x = [], 10
    words = "Total due 9.00 Date 2024-01-02".split()
    for i, w in enumerate(words):
        tokens.append({"text": w, "start": sum(len(v) + 1 for v in words[:i]), "end": sum(len(v) + 1 for v in words[:i]) + len(w),
                       "id": i, "ws": True, "bbox": [x, 20 + 40 * (i // 3), x + 12 * len(w), 50 + 40 * (i // 3)]})
        x += 12 * len(w) + 10
    task = {"text": " ".join(words), "tokens": tokens, "width": 600, "height": 200, "image": "sha256:ab#page=1"}
    model = TeachModel.load("blank:en", ["TOTAL", "DATE"])
    matcher = PatternMatcher(spacy.blank("en"), [{"label": "TOTAL", "pattern": "9.00", "id": "total"}])
    out = list(Suggester(model, matcher)(iter([task])))
    assert model.layout and out and all("bbox" in eg["tokens"][0] for _, eg in out)
    model.update([{**out[0][1], "answer": "reject", "_view_id": "ner"}])
    path = model.to_disk(tmp_path / "layout")
    nlp = spacy.load(path)  # the architecture is registered through the spacy_architectures entry point
    assert any(node.name == "neighbour_features" for node in nlp.get_pipe("ner").model.walk())  # v2, the default
    assert TeachModel.load(str(path), ["TOTAL", "DATE"]).layout


def test_correct_prefills_the_best_analysis_most_uncertain_first():
    model = TeachModel.load("blank:en", LABELS)
    gold = sentences(60, seed=5)
    complete = []
    for task in add_tokens(spacy.blank("en"), [{"text": t["text"]} for t in gold]):
        starts = {t["start"]: i for i, t in enumerate(task["tokens"])}
        ends = {t["end"]: i for i, t in enumerate(task["tokens"])}
        spans = [{"start": a, "end": b, "label": lab, "token_start": starts[a], "token_end": ends[b]}
                 for a, b, lab in next(g["gold"] for g in gold if g["text"] == task["text"])]
        complete.append({**task, "spans": spans, "answer": "accept", "_view_id": "ner_manual"})
    model.update(complete)  # once: more and it is sure of every input
    tasks = tokenized(12)
    out = list(model.correct(iter(tasks), lookahead=12, diversity=False, deterministic=True))
    assert len(out) == 12
    uncertainties = [eg["meta"]["uncertainty"] for eg in out]
    assert uncertainties == sorted(uncertainties, reverse=True) and uncertainties[0] > uncertainties[-1]
    assert sum(len(eg["spans"]) for eg in out) >= 12  # the trained model's entities are pre-filled
    for eg in out:
        assert all(s["label"] in LABELS and 0 <= s["score"] <= 1 for s in eg["spans"])


def test_correct_prefills_nothing_from_an_untaught_blank_model_and_only_likely_entities_after():
    model = TeachModel.load("blank:en", LABELS)
    tasks = tokenized(8)
    # a blank model's beam is sure of noise (spans at probability 1.0): none of it is pre-filled
    assert all(eg["spans"] == [] for _c, eg in model.predict_tasks([dict(t) for t in tasks]))
    gold = sentences(40, seed=5)
    model.update([{**t, "spans": [{"start": a, "end": b, "label": lab} for a, b, lab in g["gold"]],
                   "answer": "accept", "_view_id": "ner_manual"}
                  for t, g in zip(add_tokens(spacy.blank("en"), [{"text": g["text"]} for g in gold]), gold)])
    everything = model.predict_tasks([dict(t) for t in tasks], min_score=0.0)
    likely = model.predict_tasks([dict(t) for t in tasks], min_score=0.5)
    assert sum(len(eg["spans"]) for _c, eg in everything) > 0
    for (_c, all_of), (_c2, some) in zip(everything, likely):
        assert some["spans"] == [s for s in all_of["spans"] if s["score"] >= 0.5]


def test_fair_lock_lets_a_waiting_thread_in_between_a_greedy_one():
    lock, order, stop = FairLock(), [], threading.Event()

    def greedy():
        while not stop.is_set() and len(order) < 5_000:
            with lock:
                order.append("g")
                end = time.perf_counter() + 0.002  # holding the GIL, as the scorer does between batches
                while time.perf_counter() < end:
                    pass

    def waiter():
        with lock:
            order.append("w")

    g = threading.Thread(target=greedy)
    g.start()
    while not order:
        time.sleep(0.001)
    tickets = lock._next
    w = threading.Thread(target=waiter)
    w.start()
    while lock._next == tickets:  # the waiter has its ticket
        time.sleep(0.0005)
    queued = len(order)
    w.join()
    stop.set()
    g.join()
    assert order.index("w") - queued <= 2, order.index("w") - queued  # the holder's turn and one queued before
