"""predict and field extraction: a model trained here applied to text and PDFs; ner.evaluate --fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from vnerteach.nlp.field_scores import answer_documents, field_match, group_documents, score_fields
from vnerteach.nlp.fields import best_fields
from vnerteach.nlp.merge import merge_answers
from vnerteach.nlp.pipeline import Settings, blank_pipeline
from vnerteach.store import connect
from vnerteach.nlp.training import Trainer

from helpers import doc_options, write_jsonl
from helpers.documents import faint_receipt, write_lines
from helpers.train import manual_tasks

SENTENCES = ("Yesterday Emil Faure moved to Rome with family . Ref 1", "Lena Ortiz lives in Oslo now . Ref 2",
             "The mayor of Lima met Kofi Mensah at noon . Ref 3")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A beam NER model (PERSON, CITY) trained from blank on synthetic sentences, saved to disk."""
    settings = Settings(n_iter=4, seed=0)
    merged = merge_answers(manual_tasks(150), tokenizer_nlp=spacy.blank("en")).merged
    nlp = blank_pipeline("en", ["CITY", "PERSON"], False, settings)
    trainer = Trainer(nlp, merged, [], settings)
    for _ in trainer.epochs():
        pass
    path = tmp_path_factory.mktemp("model") / "model"
    nlp.to_disk(path)
    return path


def pdf(path, pages):
    """A digital PDF with one sentence per page."""
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        write_lines(doc.new_page(width=612, height=792), [text.split(" ")])
    doc.save(path)
    doc.close()
    return path


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_predict_text_writes_every_entity_with_label_score_text_and_tokens(cli, tmp_path, model_dir):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": s} for s in SENTENCES])
    result = cli("predict", model_dir, source)
    assert result.exit_code == 0, result.stderr
    out = lines(result.stdout)
    assert [o["text"] for o in out] == list(SENTENCES)
    first = {(e["text"], e["label"]) for e in out[0]["entities"]}
    assert ("Emil Faure", "PERSON") in first and ("Rome", "CITY") in first
    for entity in out[0]["entities"]:
        assert 0 < entity["score"] <= 1 and entity["boxes"] == [] and entity["page"] is None
        assert SENTENCES[0][entity["start"]:entity["end"]] == entity["text"]
        assert entity["token_end"] >= entity["token_start"]
    assert "Predict summary" in result.stderr and "Failures" in result.stderr

    only = lines(cli("predict", model_dir, source, "--label", "CITY", "-o", tmp_path / "out.jsonl").stdout
                 or (tmp_path / "out.jsonl").read_text())
    assert all(e["label"] == "CITY" for o in only for e in o["entities"])
    bad = cli("predict", model_dir, source, "--label", "ANIMAL")
    assert bad.exit_code == 2 and "--label" in bad.stderr and "Traceback" not in bad.stderr


def test_predict_pdf_entities_have_boxes_and_fields_one_value_per_label(cli, tmp_path, model_dir):
    doc = pdf(tmp_path / "letter.pdf", SENTENCES[:2])
    result = cli("predict", model_dir, doc)
    assert result.exit_code == 0, result.stderr
    pages = lines(result.stdout)
    assert [p["meta"]["page"] for p in pages] == [1, 2]
    ents = {(e["text"], e["label"]): e for e in pages[0]["entities"]}
    assert ("Emil Faure", "PERSON") in ents
    person = ents["Emil Faure", "PERSON"]
    assert person["page"] == 1 and len(person["boxes"]) == 2 and all(len(b) == 4 for b in person["boxes"])

    result = cli("predict", model_dir, doc, "--fields")
    assert result.exit_code == 0, result.stderr
    (line,) = lines(result.stdout)
    assert line["path"] == str(doc.resolve()) and line["pages"] == 2 and line["image"].startswith("sha256:")
    assert set(line["fields"]) == {"PERSON", "CITY"}
    assert line["fields"]["PERSON"]["text"] in ("Emil Faure", "Lena Ortiz")
    assert line["fields"]["CITY"]["text"] in ("Rome", "Oslo")
    assert all(v["page"] in (1, 2) and v["boxes"] for v in line["fields"].values())

    lowest = min(line["fields"].values(), key=lambda v: v["score"])
    if lowest["score"] < 1.0:  # --min-score above the weaker value drops it, keeps the other
        result = cli("predict", model_dir, doc, "--fields", "--min-score", min(1.0, lowest["score"] + 1e-4))
        (kept,) = lines(result.stdout)
        assert lowest["label"] not in kept["fields"]
    assert cli("predict", model_dir, doc, "--min-score", "2").exit_code == 2


def test_best_fields_takes_the_top_candidate_of_all_pages_even_when_the_parse_has_none(model_dir):
    nlp = spacy.load(model_dir)
    tasks = [{"text": s, "tokens": [{"text": w, "start": 0, "end": 0} for w in s.split(" ")], "meta": {"page": i}}
             for i, s in enumerate(("Ref 7 .", SENTENCES[1]), start=1)]
    for task in tasks:  # real offsets
        at = 0
        for token in task["tokens"]:
            token["start"] = task["text"].index(token["text"], at)
            token["end"] = at = token["start"] + len(token["text"])
    found = best_fields(nlp, tasks)
    assert found["PERSON"].text == "Lena Ortiz" and found["PERSON"].page == 2
    assert set(found) == {"PERSON", "CITY"}
    only_first = best_fields(nlp, tasks[:1])  # no entity in the best parse, yet a value per label
    assert set(only_first) == {"PERSON", "CITY"} and all(f.page == 1 for f in only_first.values())
    assert best_fields(nlp, tasks[:1], min_score=1.01) == {}


def test_one_content_under_two_names_is_two_records(cli, tmp_path, model_dir):
    from vnerteach.documents.identity import document_of

    folder = tmp_path / "docs"
    folder.mkdir()
    pdf(folder / "a.pdf", SENTENCES[:2])
    (folder / "b.pdf").write_bytes((folder / "a.pdf").read_bytes())  # a copy under another name
    result = cli("predict", model_dir, folder, "--fields")
    assert result.exit_code == 0, result.stderr
    records = lines(result.stdout)
    assert [(Path(r["path"]).name, r["pages"]) for r in records] == [("a.pdf", 2), ("b.pdf", 2)]
    pages = lines(cli("predict", model_dir, folder).stdout)
    assert len({document_of(p) for p in pages}) == 2 and len({p["image"].split("#")[0] for p in pages}) == 1


def test_field_match_ignores_spaces_and_case():
    assert field_match("TOTAL  9.45", "total 9.45") and field_match("Rm 9 .45", {"x", "RM9.45"})
    assert not field_match("9.45", "9.46") and not field_match(None, "9.45")


def test_a_broken_file_is_a_failure_record_and_the_run_goes_on(cli, tmp_path, model_dir):
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf(folder / "a.pdf", SENTENCES[:1])
    (folder / "b.pdf").write_bytes(b"%PDF-1.7\ntruncated")
    result = cli("predict", model_dir, folder, "--fields")
    assert result.exit_code == 0, result.stderr
    (line,) = lines(result.stdout)
    assert line["path"].endswith("a.pdf") and "PERSON" in line["fields"]
    assert "b.pdf" in result.stderr and "Traceback" not in result.stderr
    strict = cli("predict", model_dir, folder, "--fields", "--strict")
    assert strict.exit_code == 1 and "--strict" in strict.stderr


def test_ner_evaluate_fields_scores_exact_match_per_label(cli, tmp_path, db_path, model_dir):
    held_out = manual_tasks(20, seed=9)
    connect(str(db_path)).add_examples(held_out, ["fields_eval"])
    scores_file = tmp_path / "scores.json"
    result = cli("ner.evaluate", model_dir, "fields_eval", "--fields", "-o", scores_file)
    assert result.exit_code == 0, result.stderr
    assert "fields" in result.stdout and "PERSON" in result.stdout and "CITY" in result.stdout
    assert "exact match" in result.stderr
    scores = json.loads(scores_file.read_text())
    assert scores["documents"] == 20 and scores["fields"] is True
    assert scores["ents_per_type"]["PERSON"]["gold"] == 20 and scores["ents_per_type"]["PERSON"]["predicted"] == 20
    assert scores["ents_per_type"]["PERSON"]["correct"] >= 15

    # the same function from the library: a wrong gold value is a miss
    nlp = spacy.load(model_dir)
    from vnerteach.tasks import tokenized
    docs = [(list(tokenized(nlp, [dict(t)])), {"PERSON": {"Nobody Here"}}) for t in held_out[:3]]
    wrong = score_fields(nlp, docs, ["PERSON"])
    assert wrong.per_label["PERSON"].tp == 0 and wrong.per_label["PERSON"].fn == 3
    assert len(group_documents(held_out)) == 20
    assert cli("ner.evaluate", model_dir, "nope", "--fields").exit_code != 0


@pytest.mark.slow
def test_predict_reads_a_faint_scan_by_retrying_and_counts_it(cli, tmp_path, model_dir):
    from PIL import Image

    folder = tmp_path / "scans"
    folder.mkdir()
    faint_receipt(folder / "a_faint.png")
    Image.new("L", (400, 200), 255).save(folder / "b_blank.png")
    result = cli("predict", model_dir, folder, "--workers", "1", "--ocr-engine", "tesseract")  # needs the retry
    assert result.exit_code == 0, result.stderr
    faint, blank = lines(result.stdout)
    assert faint["meta"]["retried"] and "TOTAL" in faint["text"] and blank["text"] == "" and blank["entities"] == []
    summary = " ".join(result.stderr.split())
    assert "Retried with stronger preprocessing (no words) │ 2" in summary
    assert "OCR pages still without words │ 1" in summary


def test_answers_are_grouped_into_documents_by_file_with_their_gold_values():
    def page(n, text, spans, answer="accept"):
        return {"text": text, "image": f"sha256:abc#page={n}", "meta": {"path": "/x/r.pdf", "page": n},
                "_input_hash": n, "answer": answer, "spans": [{"start": text.index(s), "end": text.index(s) + len(s),
                                                                "label": lab} for s, lab in spans]}

    answers = [page(1, "Lena Ortiz lives here", [("Lena Ortiz", "PERSON")]), page(2, "in Oslo", [("Oslo", "CITY")]),
               page(1, "Lena Ortiz lives here", [("Ortiz", "PERSON")]), page(2, "in Oslo", [], "reject"),
               {"text": "Rome", "_input_hash": 9, "answer": "accept", "spans": [{"start": 0, "end": 4, "label": "CITY"}]}]
    (pages, gold), (text_pages, text_gold) = answer_documents(answers)
    assert [p["meta"]["page"] for p in pages] == [1, 2]
    assert gold == {"PERSON": {"Lena Ortiz", "Ortiz"}, "CITY": {"Oslo"}}
    assert len(text_pages) == 1 and text_gold == {"CITY": {"Rome"}}


def test_predict_fields_on_text_is_one_line_per_line_even_when_lines_repeat(cli, tmp_path, model_dir):
    source = tmp_path / "in.txt"
    source.write_text(f"{SENTENCES[1]}\n{SENTENCES[1]}\n{SENTENCES[0]}\n")
    result = cli("predict", model_dir, source, "--fields", "--label", "PERSON")
    assert result.exit_code == 0, result.stderr
    out = lines(result.stdout)
    assert [o["text"] for o in out] == [SENTENCES[1], SENTENCES[1], SENTENCES[0]]
    assert [set(o["fields"]) for o in out] == [{"PERSON"}] * 3
    assert out[2]["fields"]["PERSON"]["text"] == "Emil Faure" and out[2]["fields"]["PERSON"]["page"] is None


def test_predict_reads_a_page_as_an_annotator_corrected_it(cli, tmp_path, model_dir, store):
    """A misread word ("Rorne") corrected on a page in a dataset is read corrected there with --corrections."""
    from vnerteach.tasks.corrections import rebuild

    from vnerteach.sources import get_stream
    from vnerteach.tasks import set_hashes

    source = pdf(tmp_path / "misread.pdf", ["Yesterday Emil Faure moved to Rorne with family . Ref 1"])
    [page] = list(get_stream(str(source), documents=doc_options()))
    misread = next(i for i, t in enumerate(page["tokens"]) if t["text"] == "Rorne")
    answer = {**page, "answer": "accept", "_view_id": "ner_manual"}
    answer["tokens"] = [dict(t) for t in page["tokens"]]
    answer["tokens"][misread]["text"] = "Rome"
    rebuild(answer)
    store.add_examples([set_hashes(answer)], ["fixes"])

    plain = lines(cli("predict", model_dir, source).stdout)
    assert "Rorne" in plain[0]["text"]
    result = cli("predict", model_dir, source, "--corrections", "fixes")
    assert result.exit_code == 0, result.stderr
    [line] = lines(result.stdout)
    assert "moved to Rome with" in line["text"] and "Rorne" not in line["text"]
    assert ("Rome", "CITY") in {(e["text"], e["label"]) for e in line["entities"]}
    assert "annotator corrected" in result.stderr
    fields = lines(cli("predict", model_dir, source, "--fields", "--corrections", "fixes").stdout)
    assert fields[0]["fields"]["CITY"]["text"] == "Rome"
    missing = cli("predict", model_dir, source, "--corrections", "nope")
    assert missing.exit_code != 0 and "nope" in missing.stderr and "Traceback" not in missing.stderr
