"""Layout: docs from a task's tokens with boxes, the layout features, and a layout model that spaCy loads."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.tokens import DocBin

from vnerteach.nlp.evaluation import evaluate
from vnerteach.nlp.merge import merge_answers
from vnerteach.nlp.layout import (BOXES_KEY, LAYOUT_ARCH, LAYOUT_ARCH_V1, layout_features, make_doc, neighbour_features,
                              neighbour_ids, task_doc)
from vnerteach.nlp.neighbours import neighbourhood
from vnerteach.nlp.pipeline import Settings, blank_pipeline, model_config
from vnerteach.tasks import set_hashes
from vnerteach.nlp.training import Trainer


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


@pytest.mark.slow
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
    assert "'vnerteach.nlp.layout'" in result.stdout  # imported through the spacy_architectures entry point


# --- v2: the neighbourhood ------------------------------------------------------------------------------


def test_neighbourhood_of_hand_built_boxes():
    boxes = [[0.10, 0.10, 0.20, 0.12],   # 0 Date:       first on line 0
             [0.30, 0.10, 0.45, 0.12],   # 1 12/03/2018  right of 0
             [0.10, 0.20, 0.20, 0.22],   # 2 TOTAL       first on line 1, under 0
             [0.25, 0.205, 0.28, 0.225],  # 3 RM          same line as 2 (overlaps most of its height), slightly lower
             [0.30, 0.20, 0.40, 0.22],   # 4 9.00        right of 3, under 1
             None,                       # 5 no box
             [0.80, 0.50, 0.90, 0.52]]   # 6 alone: no neighbour at all
    hood = neighbourhood(boxes)
    assert hood.left.tolist() == [-1, 0, -1, 2, 3, -1, -1]
    assert hood.right.tolist() == [1, -1, 3, 4, -1, -1, -1]
    assert hood.above.tolist() == [-1, -1, 0, -1, 1, -1, -1]  # 3 overlaps nothing above it horizontally
    assert hood.below.tolist() == [2, 4, -1, -1, -1, -1, -1]
    assert hood.line_first.tolist()[:5] == [0, 0, 2, 2, 2] and hood.line_first[6] == 6
    assert hood.slot("line").tolist() == [-1, 0, -1, 2, 2, -1, -1]  # a line's first token has no key word but itself
    assert hood.position.tolist()[:5] == [0, 1, 0, 1, 2]
    assert hood.line_size.tolist() == [2, 2, 3, 3, 3, 0, 1]
    assert hood.line_index.tolist() == [0, 0, 1, 1, 1, -1, 2] and hood.n_lines == 3
    assert neighbourhood([]).n_lines == 0


def test_neighbour_ids_and_features_of_a_doc():
    nlp = spacy.blank("en")
    doc = make_doc(nlp.vocab, ["Date:", "12/03/2018", "TOTAL", "9.00", "(cash)"], [True] * 5,
                   [[0.1, 0.1, 0.2, 0.12], [0.3, 0.1, 0.45, 0.12], [0.1, 0.2, 0.2, 0.22], [0.3, 0.2, 0.4, 0.22], None])
    norm = {t.text: t.norm for t in doc}
    ids = neighbour_ids(doc, ["left", "above", "line"])
    assert ids[3].tolist() == [norm["TOTAL"], norm["12/03/2018"], norm["TOTAL"]]
    assert ids[2].tolist() == [0, norm["Date:"], 0]
    assert not ids[4].any()  # no box
    feats = neighbour_features(doc)
    assert feats.shape == (5, 10)
    assert feats[2, :2].tolist() == [1, 0] and feats[3, :2].tolist() == [0, 1]  # first / last in line
    assert feats[3, 3] == 1 and feats[0, 3] == 0  # line from the top
    assert feats[3, 5] > 0 and feats[2, 5] == 0  # a gap to the left neighbour, none without one
    assert feats[2, 7] == 1 and feats[2, 8] == 1  # a token above, left edges aligned
    assert not feats[4].any() and not neighbour_features(nlp("no boxes here")).any()
    assert not neighbour_ids(nlp("no boxes"), ["left"]).any()


def test_model_config_uses_v2_for_layout_and_v1_on_request():
    assert f'"{LAYOUT_ARCH}"' in model_config("en", True) and "neighbours = " in model_config("en", True)
    v1 = model_config("en", True, Settings(layout_arch=LAYOUT_ARCH_V1))
    assert f'"{LAYOUT_ARCH_V1}"' in v1 and "neighbours" not in v1
    assert "Layout" not in model_config("en", False)


def keyword_pages(n: int, seed: int) -> list[dict]:
    """Pages whose three amounts are told apart only by their key word: 'Total'/'Tax' to the left, 'Date' above.

    The blocks stand at random heights and the tokens are shuffled, so neither the doc order nor a
    token's own box says which amount is which."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        tops = rng.sample(range(100, 1800, 200), 3)
        amounts = [f"{rng.randint(1, 99)}.{rng.randint(10, 99)}" for _ in range(3)]
        rows = [("Total", [100, tops[0], 300, tops[0] + 40], amounts[0], [600, tops[0], 700, tops[0] + 40], "TOTAL"),
                ("Tax", [100, tops[1], 300, tops[1] + 40], amounts[1], [600, tops[1], 700, tops[1] + 40], "TAX"),
                ("Date", [100, tops[2], 300, tops[2] + 40], amounts[2], [100, tops[2] + 60, 300, tops[2] + 100],
                 "DATE")]
        items = [(key, kbox, None) for key, kbox, *_ in rows] + [(value, vbox, label) for _, _, value, vbox, label in rows]
        items.append((f"#{i}", [900, 1950, 950, 1990], None))
        rng.shuffle(items)
        tasks.append(page([(text, box) for text, box, _ in items],
                          [(k, k, label) for k, (_, _, label) in enumerate(items) if label]))
    return tasks


@pytest.mark.slow
def test_v2_learns_the_key_word_left_of_and_above_a_value_and_both_versions_load_with_spacy(tmp_path):
    nlp0 = spacy.blank("en")
    train = merge_answers(keyword_pages(150, 0), tokenizer_nlp=nlp0).merged
    dev = merge_answers(keyword_pages(40, 1), tokenizer_nlp=nlp0).merged
    f = {}
    for arch in (LAYOUT_ARCH_V1, LAYOUT_ARCH):
        settings = Settings(n_iter=6, layout_arch=arch)
        nlp = blank_pipeline("en", ["DATE", "TAX", "TOTAL"], True, settings)
        for _ in Trainer(nlp, train, dev, settings).epochs():
            pass
        f[arch] = evaluate(nlp, dev).overall.f
        nlp.to_disk(tmp_path / arch)
    assert f[LAYOUT_ARCH] >= 0.9, f
    assert f[LAYOUT_ARCH] > f[LAYOUT_ARCH_V1] + 0.2, f
    # a fresh interpreter whose code never imports vnerteach: spaCy finds both versions by entry point
    code = f"""
import spacy
from spacy.tokens import Doc
for arch in {[LAYOUT_ARCH_V1, LAYOUT_ARCH]!r}:
    nlp = spacy.load({str(tmp_path)!r} + "/" + arch)
    print(arch, nlp.config["components"]["ner"]["model"]["tok2vec"]["embed"]["@architectures"])
    doc = Doc(nlp.vocab, words=["3.10", "Tax", "7.70", "Total"])
    doc.user_data["{BOXES_KEY}"] = [[0.6, 0.5, 0.7, 0.52], [0.1, 0.1, 0.3, 0.12], [0.6, 0.1, 0.7, 0.12],
                                   [0.1, 0.5, 0.3, 0.52]]
    print(arch, [(e.text, e.label_) for e in nlp(doc).ents])
import sys; print("loaded by spaCy:", sorted(m for m in sys.modules if m.startswith("vnerteach")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{LAYOUT_ARCH_V1} {LAYOUT_ARCH_V1}" in result.stdout and f"{LAYOUT_ARCH} {LAYOUT_ARCH}" in result.stdout
    assert f"{LAYOUT_ARCH} [('3.10', 'TOTAL'), ('7.70', 'TAX')]" in result.stdout
    assert "'vnerteach.nlp.layout'" in result.stdout  # imported through the spacy_architectures entry point
