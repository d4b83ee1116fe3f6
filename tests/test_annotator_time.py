"""bench/annotator_time.py: the cost model, the strategies' accounting, resuming, --quick (synthetic CoNLL corpus)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import annotator_time as at  # noqa: E402

pytestmark = pytest.mark.slow

FIRST = ["Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid"]
LAST = ["Berg", "Costa", "Novak", "Okafor", "Ruiz", "Sato"]
PLACES = ["Paris", "Lagos", "Osaka", "Lima", "Oslo", "Quito"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella"]
FILLER = ["met", "people", "in", "yesterday", "with", "the", "team", "at", "near", "and"]


def _sentence(rng: random.Random) -> list[tuple[str, str]]:
    words = [(w, "O") for w in rng.sample(FILLER, 3)]
    words.insert(rng.randrange(4), (rng.choice(FIRST), "I-PER"))
    i = next(k for k, (_, t) in enumerate(words) if t == "I-PER")
    words.insert(i + 1, (rng.choice(LAST), "I-PER"))
    words.append((rng.choice(PLACES), "I-LOC"))
    if rng.random() < 0.5:
        words += [("for", "O"), (rng.choice(ORGS), "I-ORG")]
    return words + [(".", "O")]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A CoNLL-2003-shaped folder (IOB1, -DOCSTART-) of generated sentences: 80 to annotate, 30 held out."""
    root = tmp_path_factory.mktemp("bench-data")
    (root / "conll2003").mkdir()
    rng = random.Random(7)
    for name, n in (("eng.train", 80), ("eng.testa", 30)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            lines += [f"{w} NN I-NP {t}" for w, t in _sentence(rng)] + [""]
        (root / "conll2003" / name).write_text("\n".join(lines), encoding="utf8")
    return root


def _corpus(data: Path, seed: int = 0, pool: int = 80) -> at.Corpus:
    """The corpus of the synthetic data; a pool below 80 leaves sentences for the cold-start patterns."""
    return at.conll_corpus(data, seed, pool=pool, heldout=30)


def test_complete_cost_follows_the_cost_model():
    ann, bob, cara = (0, 5, "PER"), (10, 13, "PER"), (20, 25, "LOC")
    # two spans kept as suggested and one added
    assert at.complete_cost([ann, bob], [ann, bob, cara], at.READ_SENTENCE_S) == \
        at.READ_SENTENCE_S + 2 * at.KEEP_S + at.EDIT_S
    # a boundary fix and a relabel are one action each; a spurious span is one removal
    assert at.complete_cost([(0, 4, "PER"), (20, 25, "ORG"), (30, 33, "ORG")], [ann, cara], at.READ_PAGE_S) == \
        at.READ_PAGE_S + 3 * at.EDIT_S
    # by hand: every span added
    assert at.complete_cost([], [ann, bob, cara], at.READ_SENTENCE_S) == at.READ_SENTENCE_S + 3 * at.EDIT_S


def test_strategies_charge_what_the_cost_model_states(data):
    corpus = _corpus(data)
    gold = corpus.by_hash()
    answers, clock, exhausted = at.simulate("manual", corpus, 0, 120)
    costs = [at.complete_cost([], gold[a["_input_hash"]]["gold"], at.READ_SENTENCE_S) for a in answers]
    assert not exhausted and answers
    assert clock == pytest.approx([sum(costs[:i + 1]) for i in range(len(costs))])
    assert clock[-1] <= 120 < clock[-1] + at.READ_SENTENCE_S + 5 * at.EDIT_S
    assert all(a["answer"] == "accept" and len(a["spans"]) == len(gold[a["_input_hash"]]["gold"]) for a in answers)

    answers, clock, _ = at.simulate("teach_random", _corpus(data, pool=40), 0, 60)  # ner.teach needs its patterns
    assert len(answers) == int(60 // at.BINARY_S)
    assert clock == pytest.approx([at.BINARY_S * (i + 1) for i in range(len(answers))])
    assert {a["answer"] for a in answers} <= {"accept", "reject"}

    # ner.correct: each answer costs what turning the model's pre-fill into gold costs, never less than reading
    answers, clock, _ = at.simulate("correct_order", corpus, 0, 300)
    steps = [b - a for a, b in zip([0.0] + clock, clock)]
    assert answers and all(s >= at.READ_SENTENCE_S for s in steps)


def test_hand_then_correct_starts_by_hand(data):
    corpus = _corpus(data)
    answers, clock, _ = at.simulate("hand_then_correct", corpus, 0, 400)
    manual, _, _ = at.simulate("manual", corpus, 0, at.RECOMMENDED_MANUAL_S + 60)
    by_hand = next(i for i, c in enumerate(clock) if c >= at.RECOMMENDED_MANUAL_S) + 1
    assert [a["_input_hash"] for a in answers[:by_hand]] == [a["_input_hash"] for a in manual[:by_hand]]
    assert len({a["_input_hash"] for a in answers}) == len(answers)  # nothing asked twice


def test_recommended_is_the_readmes_workflow_for_the_kind_of_corpus(data):
    from dataclasses import replace

    text = _corpus(data)
    pages = replace(text, layout=True)  # only the kind changes: the strategies never read boxes themselves
    hashes = lambda name, corpus: [a["_input_hash"] for a in at.simulate(name, corpus, 0, 300)[0]]  # noqa: E731
    assert hashes("recommended", text) == hashes("hand_then_correct", text)
    assert hashes("recommended", pages) == hashes("correct_uncertain", pages)
    assert hashes("hand_then_correct", text) != hashes("correct_uncertain", text)


def test_results_resume_where_they_stopped(data, tmp_path):
    out = tmp_path / "results.jsonl"
    load = lambda seed: _corpus(data, seed)  # noqa: E731
    assert at.run("conll", load, ["manual"], [0, 1], [1, 2], 1, out, say=lambda _: None) == 4
    rows = at.read_results(out)
    assert sorted((r["seed"], r["minute"]) for r in rows) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert at.run("conll", load, ["manual"], [0, 1], [1, 2], 1, out, say=lambda _: None) == 0
    out.write_text("".join(json.dumps(r) + "\n" for r in rows if (r["seed"], r["minute"]) != (1, 2)))
    assert at.run("conll", load, ["manual"], [0, 1], [1, 2], 1, out, say=lambda _: None) == 1
    assert len(at.read_results(out)) == 4


def test_quick_writes_a_line_per_strategy_and_checkpoint(data, tmp_path, capsys):
    out = tmp_path / "quick.jsonl"
    at.main(["--corpus", "conll", "--quick", "--data", str(data), "--out", str(out)])
    rows = at.read_results(out)
    assert sorted((r["strategy"], r["minute"]) for r in rows) == \
        sorted((s, m) for s in at.STRATEGIES for m in at.QUICK_MINUTES)
    assert all(0.0 <= r["score"] <= 1.0 and r["seed"] == 0 for r in rows)
    manual = {r["minute"]: r for r in rows if r["strategy"] == "manual"}
    assert manual[5]["answers"] > manual[2]["answers"] > 0
    table = at.table(rows)
    assert all(f"| {s} |" in table for s in at.STRATEGIES)


def test_bad_flags_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        at.main(["--corpus", "conll", "--strategies", "manual,nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--strategies: unknown strategy nope; choose from manual" in err and "Traceback" not in err


def test_update_every_and_min_prefill_reach_ner_correct(data, tmp_path):
    from dataclasses import replace

    corpus = _corpus(data)
    clock = lambda c: at.simulate("correct_order", c, 0, 200)[1]  # noqa: E731
    # learning from every answer pre-fills sooner, so the answers cost other seconds than every 10th's model
    assert clock(replace(corpus, update_every=1)) != clock(corpus)
    out = tmp_path / "flags.jsonl"
    at.main(["--corpus", "conll", "--quick", "--data", str(data), "--out", str(out), "--strategies", "correct_order",
             "--update-every", "1", "--min-prefill", "0.8"])
    assert {(r["update_every"], r["min_prefill"]) for r in at.read_results(out)} == {(1, 0.8)}


def test_measure_reaches_ner_correct_its_rows_and_the_report(data, tmp_path):
    from dataclasses import replace

    corpus = _corpus(data)
    order = lambda c: [a["_input_hash"] for a in at.simulate("correct_uncertain", c, 0, 300)[0]]  # noqa: E731
    assert order(replace(corpus, measure="roi")) != order(corpus)
    out = tmp_path / "measure.jsonl"
    at.main(["--corpus", "conll", "--quick", "--data", str(data), "--out", str(out),
             "--strategies", "manual,correct_uncertain", "--measure", "roi"])
    rows = at.read_results(out)
    assert {r["measure"] for r in rows} == {"roi"} and len(rows) == 2 * len(at.QUICK_MINUTES)
    # the default measure's rows are still to do for the ranked strategy, not for ner.manual
    load = lambda seed: _corpus(data, seed)  # noqa: E731
    assert at.run("conll", load, ["manual", "correct_uncertain"], [0], [2], 1, out, say=lambda _: None) == 1
    table = at.table(at.read_results(out))
    assert "| manual |" in table and "| correct_uncertain |" in table and "| correct_uncertain (roi) |" in table


def test_retrain_schedules_and_their_names():
    def fired(schedule: str, upto: int, start: int = 0) -> list[int]:
        due, last, out = at.parse_schedule(schedule), start, []
        for n in range(1, upto + 1):
            if due(n, last):
                out.append(n)
                last = n
        return out

    assert fired("5,10,20,40,80", 90) == [5, 10, 20, 40, 80]
    assert fired("double", 90) == [5, 10, 20, 40, 80]
    assert fired("double", 130, start=23) == [46, 92]  # after a MODEL trained on 23 answers
    assert fired("every:7", 22) == [7, 14, 21] and fired("cont", 3) == [1, 2, 3]
    for bad in ("0,5", "every:0", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            at.schedule_arg(bad)
    assert at.schedule_arg("") == ""
    row = {"strategy": "recommended", "retrain": "cont", "retrain_epochs": 10, "model_kwargs": {"passes": 1}}
    assert at.strategy_name(row) == "recommended [retrain cont; passes 1]"
    assert at.strategy_name({**row, "strategy": "manual"}) == "manual"
    assert at.strategy_name({"strategy": "recommended"}) == "recommended"
