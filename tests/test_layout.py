"""Layout: docs from a task's tokens with boxes, the layout features, and a layout model that spaCy loads."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy
import spacy
from spacy.tokens import DocBin

from vnerteach.evaluation import evaluate
from vnerteach.merge import merge_answers
from vnerteach.layout import BOXES_KEY, layout_features, task_doc
from vnerteach.pipeline import Settings, blank_pipeline
from vnerteach.tasks import set_hashes
from vnerteach.training import Trainer



def page(tokens: list[tuple[str, list[int] | None]], spans=(), width=1000, height=2000) -> dict:
    """A page task from (text, box) pairs; spans as (token_start, token_end, label)."""
    out, offset = [], 0
    for i, (text, box) in enumerate(tokens):
        tok = {"text": text, "start": offset, "end": offset + len(text), "id": i, "ws": i < len(tokens) - 1}
        if box:
            tok["bbox"] = box
        out.append(tok)
        offset += len(text) + 1
    task = {"text": " ".join(t for t, _ in tokens), "tokens": out, "width": width, "height": height,
            "answer": "accept", "_view_id": "ner_manual",
            "spans": [{"start": out[s]["start"], "end": out[e]["end"], "token_start": s, "token_end": e, "label": lab}
                      for s, e, lab in spans]}
    return set_hashes(task)


def test_task_doc_keeps_tokens_and_normalised_boxes_through_docbin():
    nlp = spacy.blank("en")
    task = page([("Total:", [100, 200, 180, 230]), ("9.45", [200, 200, 260, 230]), ("(cash)", None)])
    doc = task_doc(nlp, task)
    assert [t.text for t in doc] == ["Total:", "9.45", "(cash)"]  # the task's tokens, not re-tokenized
    assert doc.user_data[BOXES_KEY] == [[0.1, 0.1, 0.18, 0.115], [0.2, 0.1, 0.26, 0.115], None]
    back = list(DocBin(docs=[doc], store_user_data=True).from_bytes(
        DocBin(docs=[doc], store_user_data=True).to_bytes()).get_docs(nlp.vocab))[0]
    assert [list(b) if b else b for b in back.user_data[BOXES_KEY]] == doc.user_data[BOXES_KEY]
    feats = layout_features(back)
    assert feats.shape == (3, 9)
    assert feats[0, :4].tolist() == numpy.float32([0.1, 0.1, 0.18, 0.115]).tolist()
    assert feats[0, 6] == 1 and feats[1, 7] > 0  # has a box; a gap from the previous token
    assert not feats[2].any()  # no box: zeros
    assert not layout_features(nlp("no boxes here")).any()


def position_pages(n: int, seed: int) -> list[dict]:
    """Pages where two identical-looking amounts differ only by position: top is TAX, bottom is TOTAL."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        top = (f"{rng.randint(1, 99)}.{rng.randint(10, 99)}", [600, 100 + rng.randint(0, 80), 700, 140 + rng.randint(80, 90)])
        bottom = (f"{rng.randint(1, 99)}.{rng.randint(10, 99)}", [600, 1700 + rng.randint(0, 80), 700, 1780 + rng.randint(0, 9)])
        first, second = (top, bottom) if rng.random() < 0.5 else (bottom, top)
        tokens = [("Amount", [100, first[1][1], 300, first[1][3]]), first,
                  ("Amount", [100, second[1][1], 300, second[1][3]]), second, (f"#{i}", [900, 1950, 950, 1990])]
        label = {id(top): "TAX", id(bottom): "TOTAL"}
        tasks.append(page(tokens, [(1, 1, label[id(first)]), (3, 3, label[id(second)])]))
    return tasks


def test_layout_features_learn_what_text_cannot_and_the_model_loads_with_spacy(tmp_path):
    nlp0 = spacy.blank("en")
    train = merge_answers(position_pages(120, 0), tokenizer_nlp=nlp0).merged
    dev = merge_answers(position_pages(40, 1), tokenizer_nlp=nlp0).merged
    settings = Settings(n_iter=6)
    f = {}
    for layout in (False, True):
        nlp = blank_pipeline("en", ["TAX", "TOTAL"], layout, settings)
        for _ in Trainer(nlp, train, dev, settings).epochs():
            pass
        f[layout] = evaluate(nlp, dev).overall.f
    assert f[True] >= 0.9, f
    assert f[True] > f[False] + 0.25, f
    nlp.to_disk(tmp_path / "model")
    # a fresh interpreter whose code never imports vnerteach: spaCy finds the architecture by entry point
    code = f"""
import spacy
from spacy.tokens import Doc
nlp = spacy.load({str(tmp_path / 'model')!r})
assert nlp.get_pipe("ner").model.get_ref("tok2vec") is not None
doc = Doc(nlp.vocab, words=["Amount", "3.10", "Amount", "7.70"])
doc.user_data["{BOXES_KEY}"] = [[0.1, 0.85, 0.3, 0.89], [0.6, 0.85, 0.7, 0.89], [0.1, 0.05, 0.3, 0.07], [0.6, 0.05, 0.7, 0.07]]
print([(e.text, e.label_) for e in nlp(doc).ents])
import sys; print("loaded by spaCy:", sorted(m for m in sys.modules if m.startswith("vnerteach")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[('3.10', 'TOTAL'), ('7.70', 'TAX')]" in result.stdout
    assert "'vnerteach.layout'" in result.stdout  # imported through the spacy_architectures entry point
