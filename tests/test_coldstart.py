"""Issue 14 points 3, 4, 6: sensible cold-start questions, rejects that count, pattern scores, stats --patterns."""

from __future__ import annotations

import pytest
import spacy

from helpers import write_jsonl
from helpers.teach import LABELS, taught
from vnerteach.teach.sensible import crosses_line, unlikely
from vnerteach.teach.suggester import Suggester, is_pattern_task
from vnerteach.teach.memory import AnswerMemory
from vnerteach.nlp.merge import merge_answers, rejected_words, spread_rejects
from vnerteach.teach.model import TeachModel, TeachSettings
from vnerteach.teach.patterns import PatternMatcher, PatternScores, pattern_counts, read_patterns
from vnerteach.loop.sorters import prefer_uncertain
from vnerteach.tasks import add_tokens, set_hashes


def tokenized(*texts: str) -> list[dict]:
    return [set_hashes(t) for t in add_tokens(spacy.blank("en"), [{"text": text} for text in texts])]


def binary(task: dict, start: int, end: int, label: str, answer: str, pattern: str | None = None) -> dict:
    """A ner.teach answer about tokens [start, end) of a tokenized task."""
    span = {"start": task["tokens"][start]["start"], "end": task["tokens"][end - 1]["end"], "token_start": start,
            "token_end": end - 1, "label": label}
    if pattern is not None:
        span["pattern"] = pattern
    return set_hashes({**task, "spans": [span], "answer": answer, "_view_id": "ner"}, overwrite=True)


def page_tokens(lines: list[list[str]]) -> list[dict]:
    """Page tokens laid out line by line, 40 px per line, 60 px per word."""
    tokens, at = [], 0
    for y, words in enumerate(lines):
        for x, word in enumerate(words):
            tokens.append({"text": word, "start": at, "end": at + len(word), "id": len(tokens), "ws": True,
                           "bbox": [10 + 60 * x, 10 + 40 * y, 60 + 60 * x, 30 + 40 * y]})
            at += len(word) + 1
    return tokens


def test_punctuation_only_and_line_crossing_spans_are_unlikely():
    [task] = tokenized("Apple ( Inc ) said :\nTim Cook , then left .")
    words = [t["text"] for t in task["tokens"]]
    paren, colon, newline = words.index("("), words.index(":"), words.index("\n")
    assert unlikely(task["tokens"], paren, paren + 1) == "punctuation only"
    assert unlikely(task["tokens"], colon, newline + 1) == "punctuation only"  # ":" and the newline
    assert unlikely(task["tokens"], newline - 1, newline + 2) == "crosses a line"
    assert unlikely(task["tokens"], 0, 3) is None  # "Apple ( Inc": odd, but it has words on one line
    stop = spacy.blank("en").Defaults.stop_words
    [said] = tokenized("The US said that it was of them .")
    assert unlikely(said["tokens"], 0, 1, stop) == "function words only"  # "The"
    assert unlikely(said["tokens"], 3, 7, stop) == "function words only"  # "that it was of"
    assert unlikely(said["tokens"], 1, 2, stop) is None  # "US": capitals make an acronym, not "us"
    assert unlikely(said["tokens"], 0, 2, stop) is None  # "The US"
    page = page_tokens([["TOTAL", "9.45"], ["Thank", "you"]])
    assert not crosses_line(page, 0, 2) and crosses_line(page, 1, 3)
    page[1]["bbox"] = [70, 14, 120, 34]  # a little lower, still mostly on the line
    assert not crosses_line(page, 0, 2)


@pytest.mark.slow
def test_a_model_in_its_cold_start_asks_nothing_punctuation_only_function_words_or_across_a_line():
    texts = [f"Report {i} :\nAlice Baker , of Paris ( France ) ; said -- \" no \" ." for i in range(4)]
    asked = Suggester(taught(TeachModel.load("blank:en", LABELS)), min_score=0.0)
    baseline = Suggester(taught(TeachModel.load("blank:en", LABELS)), min_score=0.0, sensible=False)
    spans = [(eg["tokens"], eg["spans"][0]) for _s, eg in asked(iter(tokenized(*texts)))]
    base = [(eg["tokens"], eg["spans"][0]) for _s, eg in baseline(iter(tokenized(*texts)))]
    stop = asked.stop_words()
    bad = [s for tokens, s in spans if unlikely(tokens, s["token_start"], s["token_end"] + 1, stop)]
    bad_base = [s for tokens, s in base if unlikely(tokens, s["token_start"], s["token_end"] + 1, stop)]
    assert spans and not bad
    assert bad_base  # without the filter, a blank model does propose such spans


def test_spans_longer_than_any_accepted_for_their_label_are_not_asked():
    memory = AnswerMemory(min_accepts=3, slack=1)
    tasks = tokenized("Alice Baker flew .", "Bruno Costa flew .", "Chen Wei flew .", "Paris is big .")
    assert not memory.too_long(9, "PERSON")  # nothing known yet: no limit
    for task in tasks[:3]:
        memory.add(binary(task, 0, 2, "PERSON", "accept"))
    assert not memory.too_long(3, "PERSON") and memory.too_long(4, "PERSON")
    assert not memory.too_long(9, "CITY")  # another label has its own lengths
    memory.add(binary(tasks[0], 0, 2, "PERSON", "accept"), -1)  # an undo takes it back: 2 accepts, too few
    assert not memory.too_long(9, "PERSON")


def test_phrase_patterns_can_match_in_any_case(tmp_path):
    nlp = spacy.blank("en")
    path = write_jsonl(tmp_path / "p.jsonl", [{"label": "CITY", "pattern": "new york", "lower": True},
                                             {"label": "CITY", "pattern": "Paris"}])
    matcher = PatternMatcher(nlp, read_patterns(path))
    [task] = list(matcher(add_tokens(nlp, [{"text": "NEW YORK and New York , not PARIS but Paris"}])))
    assert [task["text"][s["start"]:s["end"]] for s in task["spans"]] == ["NEW YORK", "New York", "Paris"]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"label": "CITY", "pattern": "x", "lower": "yes"}])
    try:
        read_patterns(bad)
    except Exception as err:  # noqa: BLE001
        assert "bad.jsonl:1" in str(err) and "'lower'" in str(err)
    else:
        raise AssertionError("a non-boolean 'lower' was accepted")


def test_a_pattern_the_annotator_keeps_rejecting_is_asked_less():
    scores = PatternScores(seed=1)
    [task] = tokenized("Paris and Rome")
    for _ in range(12):
        scores.add(binary(task, 0, 1, "CITY", "reject", pattern="bad"))
        scores.add(binary(task, 2, 3, "CITY", "accept", pattern="good"))
    asked_bad = sum(scores.ask("bad") for _ in range(1000))
    asked_good = sum(scores.ask("good") for _ in range(1000))
    assert asked_good == 1000 and asked_bad < 250, (asked_good, asked_bad)
    assert all(scores.ask("new") for _ in range(50))  # a pattern without answers is always asked
    counts = pattern_counts([binary(task, 0, 1, "CITY", a, pattern="p") for a in ("accept", "reject", "reject",
                                                                                   "ignore")])
    assert (counts["p"].accept, counts["p"].reject, counts["p"].ignore, counts["p"].label) == (1, 2, 1, "CITY")


def test_rejected_words_spread_to_other_inputs_unless_accepted_somewhere():
    a, b, c = tokenized("Disneyland was full .", "We saw Disneyland and Alice .", "Alice met Bob .")
    answers = [binary(a, 0, 1, "PERSON", "reject"), binary(b, 4, 5, "PERSON", "accept"),
               binary(c, 0, 1, "PERSON", "reject"), binary(c, 2, 3, "PERSON", "accept")]
    merged = {m.input_hash: m for m in merge_answers(answers, LABELS).merged}
    rejected = rejected_words(merged.values())
    assert rejected == {("Disneyland",): {"PERSON"}}  # "Alice" was rejected once but accepted elsewhere
    spread = spread_rejects(merged[b["_input_hash"]], rejected)
    assert (2, 3, "PERSON") in spread.negs and (4, 5, "PERSON") in spread.ents
    assert spread_rejects(merged[c["_input_hash"]], rejected) is merged[c["_input_hash"]]


@pytest.mark.slow  # updates a model in the loop
def test_a_word_rejected_with_its_label_is_not_suggested_again_and_patterns_are_scored():
    nlp = spacy.blank("en")
    model = TeachModel.load("blank:en", LABELS)
    matcher = PatternMatcher(nlp, [{"label": "PERSON", "pattern": "Disneyland", "id": "disney"}])
    first, *later = tokenized(*[f"We went to Disneyland on day {i} ." for i in range(40)])
    model.update([binary(first, 3, 4, "PERSON", "reject", pattern="disney")] * 1)
    for i, task in enumerate(later[:10]):
        model.update([binary(task, 3, 4, "PERSON", "reject", pattern="disney")])
    out = [eg for _s, eg in Suggester(model, matcher, min_score=0.0)(iter(later[10:]))]
    about = [eg for eg in out if eg["spans"][0]["label"] == "PERSON"
             and eg["text"][eg["spans"][0]["start"]:eg["spans"][0]["end"]] == "Disneyland"]
    from_pattern = [eg for eg in about if is_pattern_task(eg)]
    assert not [eg for eg in about if not is_pattern_task(eg)]  # never again as the model's own suggestion
    assert len(from_pattern) < 15, len(from_pattern)  # the rejected pattern is asked for a few of the 29 matches
    assert model.memory.patterns.counts["disney"].reject == 11


def test_warmup_prefers_high_scores_until_enough_accepts():
    import random

    rng = random.Random(0)
    stream = [(0.95 if rng.random() < 0.1 else 0.5, {"id": i}) for i in range(1000)]
    sure = {t["id"] for score, t in stream if score == 0.95}

    def share_sure(warmup: float) -> float:
        out = [t["id"] for t in prefer_uncertain(iter(stream), warmup=lambda: warmup, max_wait=60)]
        return sum(i in sure for i in out) / len(out)

    assert share_sure(1.0) > 0.5 > 0.05 > share_sure(0.0)  # a cold model asks what it is sure of first
    model = TeachModel.load("blank:en", LABELS, TeachSettings(warm_accepts=4))
    assert model.warmup() == 1.0
    [task] = tokenized("Alice Baker and Bruno Costa met .")
    model.memory.add(binary(task, 0, 2, "PERSON", "accept"))
    model.memory.add(binary(task, 3, 5, "PERSON", "accept"))
    assert model.warmup() == 0.5


def test_stats_patterns_shows_each_patterns_answers(cli, tmp_path, store):
    [task] = tokenized("Paris and Rome and Oslo")
    answers = [binary(task, 0, 1, "CITY", "accept", pattern="cities.jsonl:1"),
               binary(task, 2, 3, "CITY", "reject", pattern="cities.jsonl:2"),
               binary(task, 4, 5, "CITY", "reject", pattern="cities.jsonl:2"),
               binary(task, 4, 5, "PERSON", "reject")]
    store.add_examples(answers, ["news"])
    result = cli("stats", "news", "--patterns")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if "cities.jsonl" in line}
    assert rows["cities.jsonl:1"] == ["CITY", "1", "0", "0", "0.67"]
    assert rows["cities.jsonl:2"] == ["CITY", "0", "2", "0", "0.25"]
    missing = cli("stats", "--patterns")
    assert missing.exit_code == 2 and "--patterns" in missing.stderr and "Traceback" not in missing.output


def test_line_crossing_candidates_come_back_once_such_an_entity_of_their_label_is_accepted():
    tokens = page_tokens([["Ship", "to", ":", "12", "High"], ["Street", "Leeds"]])
    text = " ".join(t["text"] for t in tokens)
    page = set_hashes({"text": text, "tokens": tokens, "width": 400, "height": 100})
    model = TeachModel.load("blank:en", ["ADDRESS", "NAME"])
    suggest = Suggester(model)
    assert not suggest._sensible(tokens, (3, 7, "ADDRESS"))
    model.memory.add(binary(page, 3, 7, "ADDRESS", "accept"))  # "12 High Street Leeds", over two lines
    assert model.memory.crosses_lines("ADDRESS") and not model.memory.crosses_lines("NAME")
    assert suggest._sensible(tokens, (3, 6, "ADDRESS")) and not suggest._sensible(tokens, (3, 6, "NAME"))
    assert not suggest._sensible(tokens, (2, 3, "ADDRESS"))  # ":" alone is still never asked


def test_a_pattern_match_of_punctuation_only_is_not_asked():
    nlp = spacy.blank("en")
    matcher = PatternMatcher(nlp, [{"label": "CITY", "pattern": ":", "id": "colon"},
                                   {"label": "CITY", "pattern": "Paris", "id": "paris"}])
    model = TeachModel.load("blank:en", LABELS)
    found = [eg["spans"][0].get("pattern") for _s, eg in Suggester(model, matcher)(iter(tokenized("Paris : Rome")))]
    assert "paris" in found and "colon" not in found
