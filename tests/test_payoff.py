"""Issue 21 point 5: whether the model in the loop pays, in the controller's progress and in `stats`."""

from __future__ import annotations

from helpers import write_jsonl
from vnerteach.loop.controller import Controller
from vnerteach.teach.payoff import ACCEPT_WINDOW, BREAK_EVEN, KEPT_WINDOW, Payoff, accepted, kept, sparkline
from vnerteach.tasks import set_hashes


def corrected(i: int, prefilled: list, spans: list, answer: str = "accept") -> dict:
    """A ner.correct answer: what the model pre-filled (meta.prefilled) and the spans the annotator left."""
    eg = set_hashes({"text": f"Total {i}.00 paid", "meta": {"prefilled": prefilled}, "_view_id": "ner_manual",
                     "spans": [{"start": s, "end": e, "label": label} for s, e, label in spans]})
    return {**eg, "answer": answer}


def question(i: int, answer: str) -> dict:
    eg = set_hashes({"text": f"Acme {i}", "_view_id": "ner", "meta": {"score": None},
                     "spans": [{"start": 0, "end": 4, "label": "ORG"}]})
    return {**eg, "answer": answer}


TOTAL = [6, 10, "TOTAL"]


def test_a_prefill_counts_as_kept_only_with_its_boundaries_and_label():
    assert kept(corrected(1, [TOTAL], [TOTAL])) == (1, 1)
    assert kept(corrected(1, [TOTAL], [(6, 13, "TOTAL")])) == (0, 1)  # a boundary fixed
    assert kept(corrected(1, [TOTAL], [(6, 10, "DATE")])) == (0, 1)  # relabelled
    assert kept(corrected(1, [], [TOTAL])) == (0, 0)  # nothing pre-filled: no share, still an input
    assert kept(corrected(1, [TOTAL], [TOTAL], answer="ignore")) is None
    assert kept({**corrected(1, [TOTAL], [TOTAL]), "meta": {}}) is None  # ner.manual: the model pre-filled nothing
    assert accepted(question(1, "accept")) == (1, 1) and accepted(question(1, "reject")) == (0, 1)
    assert accepted(question(1, "ignore")) is None and accepted(corrected(1, [], [])) is None


def test_the_share_is_over_the_last_window_and_its_trend_rises_as_the_model_learns():
    # The first 30 inputs keep 1 of 2 pre-fills, the next 20 keep both.
    answers = [corrected(i, [TOTAL, [0, 5, "TOTAL"]], [TOTAL] if i < 30 else [TOTAL, (0, 5, "TOTAL")])
               for i in range(50)]
    [figure] = Payoff(answers).figures()
    assert figure.name == "kept" and figure.window == KEPT_WINDOW == figure.answers
    assert (figure.hits, figure.of, figure.value) == (40, 40, 1.0)
    assert figure.trend[0] == 0.5 and figure.trend[-1] == 1.0
    assert all(a <= b for a, b in zip(figure.trend, figure.trend[1:]))  # rises, never falls
    assert figure.as_dict()["break_even"] == BREAK_EVEN


def test_an_answer_again_replaces_the_first_and_an_undo_takes_it_back():
    payoff = Payoff([question(i, "reject") for i in range(ACCEPT_WINDOW)])
    payoff.add(question(0, "accept"))  # the same question, answered again
    [figure] = payoff.figures()
    assert (figure.hits, figure.of) == (1, ACCEPT_WINDOW)
    payoff.remove(question(0, "accept")["_task_hash"])
    [figure] = payoff.figures()
    assert (figure.hits, figure.of) == (0, ACCEPT_WINDOW - 1)


def test_sparkline_draws_the_share():
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"


def make(store, tasks):
    return Controller(store, {"dataset": "forms", "stream": iter(tasks), "view_id": "ner_manual",
                              "config": {"labels": ["TOTAL"]}}, wait_s=5, fill_s=5)


def tasks_prefilled(n: int) -> list[dict]:
    return [set_hashes({"text": f"Total {i}.00 paid", "meta": {"prefilled": [TOTAL]},
                        "spans": [{"start": 6, "end": 10, "label": "TOTAL"}]}) for i in range(n)]


def test_the_progress_says_how_many_prefills_were_kept_and_remembers_after_a_restart(store):
    c = make(store, tasks_prefilled(4))
    assert c.progress().as_dict()["payoff"] == []  # nothing answered: no figure
    given = c.questions(4)
    kept_one = {**given[0], "answer": "accept"}
    fixed = {**given[1], "answer": "accept", "spans": [{"start": 6, "end": 13, "label": "TOTAL"}]}
    [payoff] = c.answer([kept_one, fixed])["progress"]["payoff"]
    assert (payoff["name"], payoff["hits"], payoff["of"], payoff["value"]) == ("kept", 1, 2, 0.5)
    assert payoff["trend"] == [1.0, 0.5]
    c.undo(given[1]["_task_hash"])
    [payoff] = c.progress().as_dict()["payoff"]
    assert (payoff["hits"], payoff["of"]) == (1, 1)
    c.close()
    again = make(store, tasks_prefilled(4))  # a new run of the same dataset: the figure is the dataset's
    [payoff] = again.progress().as_dict()["payoff"]
    assert (payoff["hits"], payoff["of"]) == (1, 1)
    again.close()


def test_stats_shows_the_share_of_prefills_kept_with_its_trend(cli, tmp_path):
    answers = [corrected(i, [TOTAL], [TOTAL] if i % 4 else [(6, 13, "TOTAL")]) for i in range(24)]
    answers += [question(i, "accept" if i % 2 else "reject") for i in range(10)]
    assert cli("db-in", "forms", write_jsonl(tmp_path / "a.jsonl", answers)).exit_code == 0
    out = cli("stats", "forms").stdout
    line = next(line for line in out.splitlines() if "pre-fills kept" in line)
    assert "75%" in line and "15/20" in line and "20 inputs" in line  # 3 of every 4 kept
    assert any(ch in line for ch in "▁▂▃▄▅▆▇█")
    line = next(line for line in out.splitlines() if "questions accepted" in line)
    assert "50%" in line and "5/10" in line
    assert "ner.manual is faster" in out
    assert "pre-fills kept" not in cli("stats").stdout  # all datasets: counts only
