"""ner.correct's look-ahead: most uncertain first over a pool read ahead, near-duplicates pushed back, pages together."""

from __future__ import annotations

import inspect
import random
import threading
import time

import numpy as np
import pytest
import spacy

from helpers.teach import LABELS, sentences
from vnerteach.loop.controller import Controller
from vnerteach.failures import FailureLog
from vnerteach.teach import costs
from vnerteach.teach.lookahead import (MEASURES, Lookahead, expected_corrections, expected_cost, normalised_logprob,
                                 return_on_investment, signature, similarities)
from vnerteach.teach.model import TeachModel
from vnerteach.tasks import add_tokens

SHOP_ITEMS = ("milk", "bread", "eggs", "butter", "apples", "coffee", "tea", "rice", "pasta", "cheese", "soap", "jam")


def task(text: str, **extra) -> dict:
    """A tokenized task (split at spaces) with extra fields."""
    tokens, offset = [], 0
    for i, word in enumerate(text.split()):
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": i, "ws": True})
        offset += len(word) + 1
    return {"text": text, "tokens": tokens, **extra}


def receipt(rng: random.Random) -> str:
    items = " ".join(f"{item} {rng.randint(1, 99)}.{rng.randint(10, 99)}" for item in rng.sample(SHOP_ITEMS, 3))
    return (f"CORNER GROCERY LTD 12 High Street Leeds VAT 123 456 789 receipt {rng.randint(1000, 9999)} {items} "
            f"total {rng.randint(10, 99)}.{rng.randint(10, 99)} thank you for shopping with us")


def other(i: int, rng: random.Random) -> str:
    words = [rng.choice(("river", "garden", "station", "museum", "harbour", "market", "bridge", "tower", "valley",
                         "forest", "castle", "library", "airport", "village", "school", "theatre"))
             + str(rng.randint(0, 9)) for _ in range(12)]
    return f"note {i} " + " ".join(words)


def by_field(batch: list[dict]) -> list[tuple[float, dict] | None]:
    """A scorer that reads each task's uncertainty from the task (``u``) and marks what it scored."""
    return [(t["u"], {**t, "scored": True}) for t in batch]


def test_uncertainty_measures_grow_with_doubt():
    assert expected_corrections({(0, 1, "A"): 1.0, (1, 2, "B"): 0.0}) == 0.0
    assert expected_corrections({(0, 1, "A"): 0.5, (1, 2, "B"): 0.9}) == pytest.approx(0.6)
    assert normalised_logprob(1.0, 10) == 0.0
    assert normalised_logprob(0.1, 10) > normalised_logprob(0.5, 10) > normalised_logprob(0.5, 20)


def test_expected_cost_charges_reading_edits_and_kept_prefills():
    text, boxed = task("a b c"), task("a b c")
    for tok in boxed["tokens"]:
        tok["bbox"] = [0, 0, 10, 10]
    assert expected_cost({}, text) == costs.READ_SENTENCE_S and expected_cost({}, boxed) == costs.READ_PAGE_S
    # pre-filled at 0.8: kept 0.8 of the time, removed 0.2; not pre-filled at 0.3: added 0.3 of the time
    assert expected_cost({(0, 1, "A"): 0.8, (1, 2, "B"): 0.3}, text) == pytest.approx(
        costs.READ_SENTENCE_S + costs.EDIT_S * (0.2 + 0.3) + costs.KEEP_S * 0.8)
    # the threshold decides what is pre-filled: at 0.9 the 0.8 candidate is added by hand when right
    assert expected_cost({(0, 1, "A"): 0.8}, text, min_prefill=0.9) == pytest.approx(
        costs.READ_SENTENCE_S + costs.EDIT_S * 0.8)


def test_roi_ranks_what_teaches_most_per_second_first():
    from vnerteach.teach.model import MIN_PREFILL

    assert MEASURES["roi"][1] is return_on_investment  # ner.correct calls it with its default threshold: the recipe's
    assert inspect.signature(return_on_investment).parameters["min_prefill"].default == MIN_PREFILL
    roi = lambda scores, t: return_on_investment(scores, 1.0, t, MIN_PREFILL)  # noqa: E731
    doubt = {(0, 1, "A"): 0.5, (2, 3, "B"): 0.4}
    # equal uncertainty: the input that costs less to correct first (a sentence before a page; fewer kept pre-fills)
    page_task = task("a b c d")
    for tok in page_task["tokens"]:
        tok["bbox"] = [0, 0, 10, 10]
    assert roi(doubt, task("a b c d")) > roi(doubt, page_task)
    assert roi(doubt, task("a b c d")) > roi({**doubt, (4, 5, "A"): 1.0, (6, 7, "A"): 1.0}, task("a b c d e f g h"))
    assert expected_corrections({**doubt, (4, 5, "A"): 1.0}) == expected_corrections(doubt)  # same benefit
    # equal cost: the uncertain input before the confident one
    unsure = {(0, 1, "A"): 0.5, (2, 3, "B"): 0.5}  # read 3 + two edits of 0.5 x 2.5 + two keeps of 0.5 x 0.5
    sure = {**{(i, i + 1, "A"): 1.0 for i in range(0, 8, 2)}, (8, 9, "B"): 0.75}  # read 3 + 4 x 0.5 + 0.625 + 0.375
    assert expected_cost(sure, task("a b c d")) == pytest.approx(expected_cost(unsure, task("a b c d")))
    assert roi(unsure, task("a b c d")) > roi(sure, task("a b c d")) > roi({}, task("a b c d")) == 0.0
    # what "corrections" ranks first need not be: more doubt, but far more to read and keep
    big = {**{(i, i + 1, "A"): 1.0 for i in range(0, 40, 2)},
           (41, 42, "A"): 0.5, (43, 44, "B"): 0.4, (45, 46, "A"): 0.3}
    assert expected_corrections(big) > expected_corrections(doubt) and roi(big, page_task) < roi(doubt, task("a b"))


def test_signatures_tell_receipts_of_one_shop_from_other_texts():
    rng = random.Random(1)
    a, b = (signature(receipt(rng).split()) for _ in range(2))
    c, d = (signature(other(i, rng).split()) for i in range(2))
    assert similarities(a, a)[0] == 1.0
    near, far = similarities(np.stack([b, c]), a), similarities(d, c)[0]
    assert near[0] > 0.4 > 0.1 > max(near[1], far)


@pytest.mark.parametrize("diversity", [True, False])
def test_near_duplicates_are_pushed_back(diversity):
    rng = random.Random(0)
    receipts = [task(receipt(rng), u=2.0 + rng.random()) for _ in range(20)]  # the most uncertain
    others = [task(other(i, rng), u=1.0 + rng.random()) for i in range(20)]
    source = receipts[:10] + others + receipts[10:]
    out = list(Lookahead(iter(source), by_field, size=64, diversity=diversity, deterministic=True))
    assert len(out) == 40 and all(t["scored"] for t in out)
    shop = [t["text"].startswith("CORNER GROCERY") for t in out]
    if diversity:
        assert shop[0] and sum(shop[:10]) <= 3  # one receipt, then mostly other texts
    else:
        assert all(shop[:20])  # without the guard: the twenty receipts one after the other


def test_most_uncertain_of_the_pool_first_and_the_pool_slides():
    rng = random.Random(3)
    source = [task(other(i, rng), u=rng.random()) for i in range(100)]
    out = list(Lookahead(iter(source), by_field, size=40, diversity=False, deterministic=True))
    assert sorted(t["text"] for t in out) == sorted(t["text"] for t in source)
    assert out[0]["u"] == max(t["u"] for t in source[:40])
    # each choice is the best of the 40 held then: never one the source gives later
    seen = {t["text"]: i for i, t in enumerate(source)}
    for k, t in enumerate(out[:60]):
        window = [s for s in source[:40 + k] if s["text"] not in {o["text"] for o in out[:k]}]
        assert t["u"] == max(s["u"] for s in window) and seen[t["text"]] < 40 + k


def page(sha: str, n: int, pages: int, u: float) -> dict:
    return task(f"page {n} of document {sha} words here", u=u, image=f"sha256:{sha}#page={n}",
                meta={"path": f"/docs/{sha}.pdf", "page": n, "pages": pages})


def test_pages_of_a_document_stay_together_in_order():
    rng = random.Random(5)
    source = [task(other(0, rng), u=0.5), page("aa", 1, 3, 0.1), page("aa", 2, 3, 0.2), page("aa", 3, 3, 0.3),
              task(other(1, rng), u=0.55), page("bb", 1, 2, 0.1), page("bb", 2, 2, 0.2), task(other(2, rng), u=0.05)]
    out = list(Lookahead(iter(source), by_field, size=20, diversity=False, deterministic=True))
    order = [(t.get("meta") or {}).get("page") and t["image"] for t in out]
    # document aa (0.6 over its pages) first, its pages in order; bb (0.3) after the texts above it
    assert order[:3] == ["sha256:aa#page=1", "sha256:aa#page=2", "sha256:aa#page=3"]
    assert [t["u"] for t in out[3:]] == [0.55, 0.5, 0.1, 0.2, 0.05]
    assert out[5]["image"] == "sha256:bb#page=1" and out[6]["image"] == "sha256:bb#page=2"


def test_a_document_larger_than_the_pool_is_served_in_parts():
    source = [page("cc", n, 9, 0.1 * n) for n in range(1, 10)]
    out = list(Lookahead(iter(source), by_field, size=4, deterministic=True))
    assert sorted(t["meta"]["page"] for t in out) == list(range(1, 10))


def slow_source(n: int, pause: float, stop: threading.Event | None = None):
    rng = random.Random(7)
    for i in range(n):
        if stop is not None and stop.is_set():
            return
        time.sleep(pause)
        yield task(other(i, rng), u=rng.random())


def gated_source(n: int, gate: threading.Event):
    """n tasks at once, then nothing until the gate opens (a source stuck in OCR), then n more."""
    rng = random.Random(7)
    for i in range(2 * n):
        if i == n:
            gate.wait(60)
        yield task(other(i, rng), u=rng.random())


def in_thread(call):
    """Start call in a thread; the returned list gets its result."""
    got: list = []
    thread = threading.Thread(target=lambda: got.append(call()), daemon=True)
    thread.start()
    return thread, got


def test_first_question_comes_before_the_pool_fills():
    gate = threading.Event()
    stream = Lookahead(gated_source(5, gate), by_field, size=1000)
    thread, got = in_thread(lambda: next(stream))
    thread.join(30)
    served_while_stuck = bool(got) and not gate.is_set()
    gate.set()
    thread.join(30)
    stream.close()
    assert served_while_stuck and got[0]["scored"]


@pytest.mark.slow
def test_a_stuck_source_never_blocks_a_request_for_questions(store):
    gate = threading.Event()
    stream = Lookahead(gated_source(2, gate), by_field, size=50)
    c = Controller(store, {"dataset": "d", "stream": stream, "view_id": "ner_manual", "buffer": 2,
                           "on_exit": stream.close})
    try:
        answered = []
        for _ in range(3):  # the first gets the two tasks read, the others nothing: none waits for the source
            thread, got = in_thread(lambda: c.questions(5))
            thread.join(30)
            answered.append(got[0] if got and not gate.is_set() else None)
    finally:
        gate.set()
        c.close()
    assert None not in answered and sum(len(a) for a in answered) == 2


def test_the_threads_stop_when_the_stream_is_closed():
    stop = threading.Event()
    stream = Lookahead(slow_source(10_000, 0.01, stop), by_field, size=20)
    next(stream)
    threads = [t for t in threading.enumerate() if t.name.startswith("vnerteach-lookahead")]
    assert len(threads) >= 2 and stream.running
    stream.close()  # waits for them: a scorer left inside the model's BLAS aborts the process at exit
    running = stream.running
    stop.set()
    assert not running
    with pytest.raises(StopIteration):
        next(stream)


def test_a_source_error_comes_after_the_inputs_read_before_it():
    def broken():
        yield task("one two three", u=0.2)
        yield task("four five six", u=0.9)
        raise OSError("the disk went away")

    stream = Lookahead(broken(), by_field, size=10, deterministic=True)
    got = []
    with pytest.raises(OSError, match="disk went away"):
        for t in stream:
            got.append(t["text"])
    assert sorted(got) == ["four five six", "one two three"]


def test_a_scorer_that_fails_as_a_whole_ends_the_stream_with_its_error():
    def broken(batch):
        raise RuntimeError("the model is gone")

    stream = Lookahead(iter([task("one two three", u=0.1)] * 5), broken, size=10)
    with pytest.raises(RuntimeError, match="the model is gone"):
        next(stream)
    deadline = time.monotonic() + 30
    while stream.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not stream.running


# with the model in the loop ---------------------------------------------------------------------------


def complete_answers(gold: list[dict]) -> list[dict]:
    out = []
    for t in add_tokens(spacy.blank("en"), [{"text": g["text"]} for g in gold]):
        starts = {tok["start"]: i for i, tok in enumerate(t["tokens"])}
        ends = {tok["end"]: i for i, tok in enumerate(t["tokens"])}
        spans = [{"start": a, "end": b, "label": lab, "token_start": starts[a], "token_end": ends[b]}
                 for a, b, lab in next(g["gold"] for g in gold if g["text"] == t["text"])]
        out.append({**t, "spans": spans, "answer": "accept", "_view_id": "ner_manual"})
    return out


@pytest.fixture(scope="module")
def trained():
    """A model updated once on 60 complete answers: sure of some inputs, unsure of others."""
    model = TeachModel.load("blank:en", LABELS)
    model.update(complete_answers(sentences(60, seed=5)))
    return model


@pytest.mark.slow
def test_the_trained_model_asks_the_least_certain_input_of_a_large_look_ahead_first(trained):
    inputs = list(add_tokens(spacy.blank("en"), [{"text": t["text"]} for t in sentences(80, 3, held_out=True)]))
    scored = [eg["meta"]["uncertainty"] for _c, eg in trained.predict_tasks(inputs)]
    worst = max(range(80), key=scored.__getitem__)
    inputs.insert(60, inputs.pop(worst))  # beyond the old window of 32
    out = list(trained.correct(iter(inputs), lookahead=80, diversity=False, deterministic=True))
    assert len(out) == 80 and out[0]["text"] == inputs[60]["text"]
    got = [eg["meta"]["uncertainty"] for eg in out]
    assert got == sorted(got, reverse=True) and got[0] > got[-1]
    assert all(eg["spans"] is not None and "confidence" in eg["meta"] for eg in out)


@pytest.mark.slow
def test_failures_are_reported_per_input_and_the_rest_is_served(trained):
    inputs = list(add_tokens(spacy.blank("en"), [{"text": t["text"]} for t in sentences(10, 4)]))
    bad = {"text": "Apple buys", "tokens": [{"text": "", "start": 0, "end": 0}, {"text": "Apple", "start": 0, "end": 5}]}
    failures = FailureLog()
    out = list(trained.correct(iter(inputs[:5] + [bad] + inputs[5:]), lookahead=20, on_failure=failures,
                               deterministic=True))
    assert sorted(t["text"] for t in out) == sorted(t["text"] for t in inputs)
    assert failures.count == 1 and "cannot use this task" in failures.messages()[0]


@pytest.mark.slow
def test_scores_are_refreshed_after_an_update():
    model = TeachModel.load("blank:en", LABELS)
    inputs = list(add_tokens(spacy.blank("en"), [{"text": t["text"]} for t in sentences(30, 6)]))
    stream = model.correct(iter(inputs), lookahead=30, diversity=False, deterministic=True)
    first = next(stream)
    assert stream.scored == 30
    model.update(complete_answers(sentences(30, seed=8)))
    second = next(stream)  # chosen on the new model's scores
    fresh = {eg["text"]: eg["meta"]["uncertainty"] for _c, eg in model.predict_tasks([dict(t) for t in inputs])}
    assert stream.scored >= 59 and second["meta"]["uncertainty"] == fresh[second["text"]]
    assert second["meta"]["uncertainty"] == max(v for k, v in fresh.items() if k != first["text"])
    stream.close()


def test_ner_correct_takes_lookahead_and_window_as_its_old_name(tmp_path, capsys):
    from vnerteach.errors import UsageError
    from vnerteach.recipes.teach import ner_correct

    src = tmp_path / "t.jsonl"
    src.write_text('{"text": "Alice flew to Paris"}\n')
    with pytest.raises(UsageError, match="--lookahead must be 1 or more"):
        ner_correct("d", "blank:en", str(src), label=LABELS, lookahead=0)
    components = ner_correct("d", "blank:en", str(src), label=LABELS, window=7)
    assert components["stream"].size == 7 and "--window is now called --lookahead" in capsys.readouterr().err
    assert [t["text"] for t in components["stream"]] == ["Alice flew to Paris"]
    components["on_exit"]()


@pytest.mark.slow
def test_ner_manual_with_a_trained_model_and_lookahead_asks_the_least_certain_first(trained, tmp_path):
    from vnerteach.errors import UsageError
    from vnerteach.recipes.manual import ner_manual

    folder = trained.to_disk(tmp_path / "model")
    texts = [t["text"] for t in sentences(40, 3, held_out=True)]
    src = tmp_path / "t.jsonl"
    src.write_text("".join(f'{{"text": "{t}"}}\n' for t in texts))
    with pytest.raises(UsageError, match="MODEL must be a pipeline folder"):
        ner_manual("d", "blank:en", str(src), label=LABELS, lookahead=10)
    components = ner_manual("d", str(folder), str(src), label=LABELS, lookahead=40)
    components["stream"].deterministic, components["stream"].diversity = True, False
    out = list(components["stream"])
    components["on_exit"]()
    assert sorted(t["text"] for t in out) == sorted(texts) and not any(t.get("spans") for t in out)
    got = [t["meta"]["uncertainty"] for t in out]
    assert got == sorted(got, reverse=True) and got[0] > got[-1]
    in_order = ner_manual("d", str(folder), str(src), label=LABELS)["stream"]
    assert [t["text"] for t in in_order] == texts
