"""review served as a user starts it: questions and answers over HTTP, dedup on restart, ner.batch-train on its output."""

from __future__ import annotations

import json

import pytest

from helpers.review import manual
from helpers.web import ServedRecipe, free_port, http

pytestmark = pytest.mark.slow

PEOPLE = ["Mara Novak", "Emil Faure", "Ines Berg", "Tomas Vik", "Lena Roth", "Otto Kern"]
CITIES = ["Oslo", "Rome", "Lyon", "Graz", "Porto", "Gent"]


def annotated() -> tuple[list[dict], list[str]]:
    """Two annotators on 12 inputs: they agree on the first 6; bob misses the city in the others."""
    answers, split = [], []
    for i in range(12):
        person, city = PEOPLE[i % 6], CITIES[(i + i // 6) % 6]
        text = f"Yesterday {person} moved to {city} with family . Ref {i}"
        full = [(person, "PERSON"), (city, "CITY")]
        answers.append(manual(text, full, "news-alice"))
        answers.append(manual(text, full if i < 6 else full[:1], "news-bob"))
        if i >= 6:
            split.append(text)
    return answers, split


def test_review_over_http_then_batch_train_on_its_output(cli, store, env, tmp_path):
    answers, split = annotated()
    store.add_examples(answers, ["news"])
    served = ServedRecipe(["review", "final", "news", "--auto-accept"], env, free_port())
    try:
        project = http("GET", served.url + "/api/project")[1]
        assert project["view_id"] == "review" and project["labels"] == ["PERSON", "CITY"]  # as annotators first used them
        tasks = http("GET", served.url + "/api/questions?n=20")[1]["tasks"]
        assert sorted(t["text"] for t in tasks) == sorted(split)
        reviewed = []
        for task in tasks:
            alice = next(v for v in task["versions"] if v["annotators"] == ["news-alice"])
            assert [v["annotators"] for v in task["versions"]] == [["news-alice"], ["news-bob"]]
            reviewed.append({**task, "spans": alice["spans"], "answer": "accept", "chosen_version": 0})
        reviewed[-1] = {**reviewed[-1], "spans": [], "answer": "reject"}  # reject all
        code, body = http("POST", served.url + "/api/answers", {"session": project["session"], "answers": reviewed})
        assert code == 200 and body["refused"] == 0, body
    finally:
        code, out, err = served.stop()
    assert code == 0, err
    final = list(store.iter_examples("final"))
    assert len(final) == 12 and sum(bool(e.get("auto_accepted")) for e in final) == 6
    chosen = [e for e in final if not e.get("auto_accepted")]
    assert all(e["_view_id"] == "review" and len(e["versions"]) == 2 for e in chosen)
    assert sum(e["answer"] == "reject" for e in chosen) == 1
    assert all({s["label"] for s in e["spans"]} == {"PERSON", "CITY"} for e in chosen if e["answer"] == "accept")

    # Again: every input is in the output, nothing is asked again (and no server is started)
    again = cli("review", "final", "news", "--auto-accept")
    assert again.exit_code == 0 and "Nothing left to review: every input of 'news' is in 'final'" in again.stderr
    assert store.count("final") == 12

    model = tmp_path / "model"
    result = cli("ner.batch-train", "final", "--output", model, "--n-iter", 2, "--eval-split", 0.25)
    assert result.exit_code == 0, result.stderr
    meta = json.loads((model / "meta.json").read_text())["vnerteach"]
    assert meta["datasets"] == {"final": 12}
    assert meta["train_inputs"] + meta["eval_inputs"] == 11  # the rejected input is not trained on
    assert set(meta["labels"]) == {"CITY", "PERSON"}
