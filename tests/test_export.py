"""Exports: DocBin read back by spaCy, CoNLL lines, entity boxes merged per line, drawn and redacted pages."""

from __future__ import annotations

import json

import spacy
from spacy.tokens import DocBin

from vnerteach.datasets.export import line_boxes
from vnerteach.store import connect
from vnerteach.tasks import set_hashes

from helpers.train import binary_tasks, manual_tasks
from helpers import doc_options


def test_spacy_and_conll_exports_read_back(cli, tmp_path, db_path):
    manual, binary = manual_tasks(12), binary_tasks(5, seed=2)
    connect(str(db_path)).add_examples(manual + binary, ["news"])
    out = tmp_path / "news.spacy"
    result = cli("db-out", "news", out, "--format", "spacy")
    assert result.exit_code == 0, result.stderr
    assert "5 binary inputs left out" in result.stderr
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert len(docs) == 12
    first = next(d for d in docs if d.text == manual[0]["text"])
    assert sorted((e.text, e.label_) for e in first.ents) == sorted(
        (manual[0]["text"][s["start"]:s["end"]], s["label"]) for s in manual[0]["spans"])
    assert all(t.ent_iob_ in ("B", "I", "O") for t in first)

    result = cli("db-out", "news", out, "--format", "spacy", "--partial")
    assert result.exit_code == 0, result.stderr
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert len(docs) == 17
    partial = [d for d in docs if any(t.ent_iob_ == "" for t in d)]
    assert len(partial) == 5 and all(d.spans.get("incorrect_spans") for d in partial)

    conll = tmp_path / "news.conll"
    result = cli("db-out", "news", conll, "--format", "conll")
    assert result.exit_code == 0, result.stderr
    lines = conll.read_text().split("\n")[:-1]
    n_tokens = sum(len(nlp.make_doc(t["text"])) for t in manual)
    assert len(lines) == n_tokens + 12 and lines.count("") == 12
    assert all(len(line.split("\t")) == 2 for line in lines if line)
    first_tags = [line.split("\t")[1] for line in lines[:len(nlp.make_doc(manual[0]["text"]))]]
    assert {tag[:2] for tag in first_tags} <= {"B-", "I-", "O"} and "B-PERSON" in first_tags

    result = cli("db-out", "news", tmp_path / "x.spacy", "--format", "xml")
    assert result.exit_code == 2 and "--format must be one of" in result.stderr


def test_line_boxes_merge_the_tokens_of_each_line():
    assert line_boxes([[10, 10, 50, 30], [55, 12, 90, 31], [10, 40, 60, 60]]) == [[10, 10, 90, 31], [10, 40, 60, 60]]
    assert line_boxes([]) == []


def make_pdf(path):
    """A digital PDF (text layer, no OCR needed): a name on one line, an address over two lines."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    for y, text in ((60, "Patient: Alice Baker"), (100, "Address: 12 Long Road"), (125, "Oslo Norway"),
                    (170, "Doctor: Emil Faure")):
        page.insert_text((40, y), text, fontname="helv", fontsize=14)
    doc.save(path)


def page_tasks(pdf) -> list[dict]:
    from vnerteach.documents import iter_documents, page_task

    (result,) = list(iter_documents([pdf], doc_options(ocr="never", dpi=100)))
    task = page_task(result)
    words = [t["text"] for t in task["tokens"]]

    def span(first: str, last: str, label: str) -> dict:
        s, e = words.index(first), words.index(last)
        return {"start": task["tokens"][s]["start"], "end": task["tokens"][e]["end"], "token_start": s,
                "token_end": e, "label": label}

    task.update(answer="accept", _view_id="ner_manual",
                spans=[span("Alice", "Baker", "PERSON"), span("12", "Norway", "ADDRESS"),
                       span("Emil", "Faure", "PERSON")])
    return [set_hashes(task)]


def test_boxes_draw_and_redact_pages(cli, tmp_path, db_path):
    from PIL import Image

    pdf = tmp_path / "letter.pdf"
    make_pdf(pdf)
    tasks = page_tasks(pdf)
    connect(str(db_path)).add_examples(tasks, ["letters"])
    boxes_file, redacted, drawn = tmp_path / "boxes.jsonl", tmp_path / "redacted", tmp_path / "drawn"
    result = cli("db-out", "letters", boxes_file, "--format", "boxes", "--redact", redacted, "--label", "PERSON",
                 "--draw", drawn)
    assert result.exit_code == 0, result.stderr
    (record,) = [json.loads(line) for line in boxes_file.read_text().splitlines()]
    ents = {e["text"]: e for e in record["entities"]}
    assert set(ents) == {"Alice Baker", "12 Long Road Oslo Norway", "Emil Faure"}
    assert len(ents["Alice Baker"]["boxes"]) == 1  # two tokens, one line: one merged box
    assert len(ents["12 Long Road Oslo Norway"]["boxes"]) == 2  # one box per line
    token_boxes = [t["bbox"] for t in tasks[0]["tokens"]][ents["Alice Baker"]["token_start"]:
                                                           ents["Alice Baker"]["token_end"] + 1]
    assert ents["Alice Baker"]["boxes"][0] == [token_boxes[0][0], min(b[1] for b in token_boxes),
                                               token_boxes[1][2], max(b[3] for b in token_boxes)]

    png = redacted / "letter-p1.png"
    assert png.exists() and (redacted / "letter-redacted.pdf").exists()
    with Image.open(png) as image:
        gray = image.convert("L")
        for name in ("Alice Baker", "Emil Faure"):
            x0, y0, x1, y1 = (round(v) for v in ents[name]["boxes"][0])
            assert gray.crop((x0, y0, x1, y1)).getextrema() == (0, 0), name  # every pixel covered
        x0, y0, x1, y1 = (round(v) for v in ents["12 Long Road Oslo Norway"]["boxes"][0])
        darkest, lightest = gray.crop((x0, y0, x1, y1)).getextrema()  # not a PERSON: text still visible
        assert darkest < 100 < lightest
    import pymupdf

    with pymupdf.open(redacted / "letter-redacted.pdf") as doc:
        assert doc.page_count == 1 and doc[0].get_text().strip() == ""  # image only: no text left to copy
    with Image.open(drawn / "letter-p1.png") as image, Image.open(png) as original:
        assert image.size == original.size
        x0, y0, x1, y1 = (round(v) for v in ents["Alice Baker"]["boxes"][0])
        r, g, b = image.convert("RGB").getpixel((x0 - 1, (y0 + y1) // 2))  # on the outline, left of the name
        assert max(r, g, b) - min(r, g, b) > 100  # coloured by its label, not black text or white paper
    assert "covered 2 boxes" in " ".join(result.stderr.split())

    result = cli("db-out", "letters", "--redact", redacted)
    assert result.exit_code == 2 and "--redact needs --label" in result.stderr
    result = cli("db-out", "letters", "--redact", redacted, "--label", "EMAIL")
    assert result.exit_code == 2 and "no entity to cover has that label" in result.stderr
    assert "ADDRESS, PERSON" in result.stderr


def test_redact_with_jsonl_to_a_file_and_documents_of_the_same_name(cli, tmp_path, db_path):
    from PIL import Image

    tasks = []
    for folder in ("a", "b"):  # two files named letter.pdf: their pages must not overwrite each other
        (tmp_path / folder).mkdir()
        make_pdf(tmp_path / folder / "letter.pdf")
        tasks += page_tasks(tmp_path / folder / "letter.pdf")
    connect(str(db_path)).add_examples(tasks, ["letters"])
    out, redacted = tmp_path / "all.jsonl", tmp_path / "redacted"
    result = cli("db-out", "letters", out, "--redact", redacted, "--label", "PERSON")
    assert result.exit_code == 0, result.stderr
    assert len(out.read_text().splitlines()) == 2  # the JSONL export and the redacted pages both
    assert sorted(p.name for p in redacted.iterdir()) == ["letter-2-p1.png", "letter-2-redacted.pdf",
                                                           "letter-p1.png", "letter-redacted.pdf"]
    for png in ("letter-p1.png", "letter-2-p1.png"):
        with Image.open(redacted / png) as image:
            assert image.convert("L").getextrema()[0] == 0  # something was covered on each


def test_page_exports_open_elsewhere_absolute_path_and_embedded_images(cli, tmp_path, monkeypatch):
    import base64
    import io

    from PIL import Image

    from helpers.documents import digital_pdf

    monkeypatch.chdir(tmp_path)
    digital_pdf(tmp_path / "letter.pdf", pages=2)
    assert cli("ocr", "letter.pdf", "-o", "pages.jsonl").exit_code == 0  # a relative path, as users type it
    assert cli("db-in", "letters", "pages.jsonl").exit_code == 0
    plain = [json.loads(line) for line in cli("db-out", "letters").stdout.splitlines()]
    assert [t["meta"]["path"] for t in plain] == [str(tmp_path / "letter.pdf")] * 2
    assert all(t["image"].startswith("sha256:") for t in plain)
    result = cli("db-out", "letters", "--embed-images")
    assert result.exit_code == 0, result.stderr
    embedded = [json.loads(line) for line in result.stdout.splitlines()]
    for task, ref in zip(embedded, plain):
        head, data = task["image"].split(",", 1)
        assert head == "data:image/png;base64"
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.size == (ref["width"], ref["height"]) and task["tokens"] == ref["tokens"]
    assert cli("db-out", "letters", "--embed-images", "--format", "conll").exit_code == 2
