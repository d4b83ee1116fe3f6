"""Training benchmarks: CoNLL-2003 against spacy train, FUNSD and SROIE per layout variant, memory.

Usage: python bench/bench_train.py [conll|funsd|sroie|memory ...] (default: all). Environment:
BENCH_DIR (work folder, default /tmp/vnerteach-bench), BENCH_EPOCHS (CoNLL, 5), BENCH_FUNSD_EPOCHS (20),
BENCH_SROIE_EPOCHS (20), BENCH_SROIE_N (150), BENCH_MEMORY_N (50000); FUNSD and SROIE train every variant
of BENCH_LAYOUTS (v1,v2; see VARIANTS) with every seed of BENCH_SEEDS (0,1,2) in BENCH_JOBS (2) processes.
Data: common.data_dir() (never copied). CPU seconds of a command count its whole process tree (common.run).
"""

from __future__ import annotations

import json
import os
import sys
import time

from common import (CONLL_LABELS, FUNSD_LABELS, SROIE_FIELDS as FIELDS, VNERTEACH, WORK, Ran, conll_tasks, data_dir,
                    fresh_db, funsd_tasks, match_windows, run, sroie_keys, sroie_tasks, spread, store_tasks)

from vnerteach.documents.options import DEFAULT_ENGINE

DATA = data_dir()


# --- CoNLL-2003: ner.batch-train against spacy train --------------------------------------------------


def conll(n_iter: int) -> list[str]:
    """Train on eng.train, score on eng.testa: ner.batch-train and spacy train with the same config."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training.batchers import minibatch_by_words
    from thinc.api import Config, compounding

    from vnerteach.nlp.merge import merge_answers, reference_doc
    from vnerteach.nlp.pipeline import Settings, training_config

    train = conll_tasks(DATA / "conll2003" / "eng.train")
    dev = conll_tasks(DATA / "conll2003" / "eng.testa")
    env = fresh_db("conll")
    store_tasks(env, "conll_train", train)
    store_tasks(env, "conll_dev", dev)
    # what ner.batch-train trains on: one input per distinct sentence, none of the dev sentences
    nlp = spacy.blank("en")
    dev_merged = merge_answers(dev, tokenizer_nlp=nlp).merged
    held_out = {m.input_hash for m in dev_merged}
    train_merged = [m for m in merge_answers(train, tokenizer_nlp=nlp).merged if m.input_hash not in held_out]
    words = sum(m.n_words for m in train_merged)
    lines = [f"CoNLL-2003: eng.train {len(train)} sentences -> {len(train_merged)} distinct inputs not in the dev "
             f"set ({words} words); dev eng.testa {len(dev)} sentences -> {len(dev_merged)} distinct; "
             f"{n_iter} epochs each; words/s = epochs x training words / wall time "
             "(start-up, evaluation and saving included)"]
    out = WORK / "conll-vnerteach"
    ran = run([*VNERTEACH, "ner.batch-train", "conll_train", "--eval-dataset", "conll_dev", "--output", out,
               "--n-iter", n_iter], env, WORK / "conll-vnerteach.log")
    f = json.loads((out / "meta.json").read_text())["performance"]["ents_f"]
    lines.append(_row("vnerteach ner.batch-train (beam_ner)", f, ran, n_iter * words))

    # the same pipeline, batching, optimizer and evaluation frequency for spacy train
    for name, merged in (("train", train_merged), ("dev", dev_merged)):
        bin_ = DocBin(store_user_data=True)
        for m in merged:
            bin_.add(reference_doc(nlp.vocab, m))
        bin_.to_disk(WORK / f"conll-{name}.spacy")
    lengths = [m.n_words for m in train_merged]
    sizes = compounding(100.0, 1000.0, 1.001)
    steps = sum(len(list(minibatch_by_words(lengths, size=sizes, get_length=lambda n: n))) for _ in range(n_iter))
    for component in ("beam_ner", "ner"):
        settings = Settings(n_iter=n_iter, component=component)
        config = WORK / f"conll-{component}.cfg"
        text = training_config("en", False, settings, str(WORK / "conll-train.spacy"), str(WORK / "conll-dev.spacy"),
                               max(1, steps // n_iter))
        # fill the sections spacy train needs ([training] logger, gpu_allocator ...) with its defaults
        filled = spacy.util.load_model_from_config(Config().from_str(text), auto_fill=True).config
        config.write_text(filled.to_str())
        out = WORK / f"conll-spacy-{component}"
        ran = run([sys.executable, "-m", "spacy", "train", config, "--output", out],
                  log=WORK / f"conll-spacy-{component}.log")
        f = json.loads((out / "model-best" / "meta.json").read_text())["performance"]["ents_f"]
        lines.append(_row(f"python -m spacy train ({component})", f, ran, n_iter * words))
        if component == "ner":
            break
    return lines


def conll_greedy(n_iter: int) -> str:
    """The same trainer with the greedy `ner` component (library call, same process)."""
    from vnerteach.nlp.merge import merge_answers
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import blank_model, fit
    import spacy

    nlp0 = spacy.blank("en")
    dev = merge_answers(conll_tasks(DATA / "conll2003" / "eng.testa"), tokenizer_nlp=nlp0).merged
    held_out = {m.input_hash for m in dev}
    train = [m for m in merge_answers(conll_tasks(DATA / "conll2003" / "eng.train"), tokenizer_nlp=nlp0).merged
             if m.input_hash not in held_out]
    settings = Settings(n_iter=n_iter, component="ner")
    nlp = blank_model("en", CONLL_LABELS, False, settings)
    start, cpu = time.perf_counter(), time.process_time()
    result = fit(nlp, train, dev, settings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _row("vnerteach Trainer (ner, greedy)", result.best.scores.overall.f, Ran(wall, cpu, None),
                n_iter * sum(m.n_words for m in train))


def _row(name: str, f: float, ran: Ran, words: int) -> str:
    """One line of the CoNLL table: F1, words per wall and per CPU second (whole process tree), peak RSS."""
    wall, cpu = ran.wall, ran.cpu
    mem = f"{ran.peak_mb:5.0f}" if ran.peak_mb is not None else "    -"
    return (f"{name:<38} F {100 * f:5.2f}  wall {wall:6.0f} s {words / wall:6.0f} words/s  "
            f"CPU {cpu:6.0f} s {words / cpu:6.0f} words/CPU-s  peak MB {mem}")


# --- layout variants: architectures compared in one run, over seeds, in worker processes ----------------

# name -> (layout on, Settings.layout_arch, config overrides); the slots are layout.NEIGHBOURS by default
_SLOTS = "components.ner.model.tok2vec.embed.neighbours"
VARIANTS = {
    "text": (False, None, {}),
    "v1": (True, "vnerteach.LayoutEmbed.v1", {}),
    "v2": (True, "vnerteach.LayoutEmbed.v2", {}),
    "v2-geometry": (True, "vnerteach.LayoutEmbed.v2", {_SLOTS: []}),
    "v2-left-above": (True, "vnerteach.LayoutEmbed.v2", {_SLOTS: ["left", "above"]}),
    "v2-five": (True, "vnerteach.LayoutEmbed.v2", {_SLOTS: ["left", "above", "line", "right", "below"]}),
}


def variant_runs() -> list[tuple[str, int]]:
    """(variant, seed) pairs from BENCH_LAYOUTS (default v1,v2) and BENCH_SEEDS (default 0,1,2)."""
    names = os.environ.get("BENCH_LAYOUTS", "v1,v2").split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"BENCH_LAYOUTS: unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    seeds = [int(x) for x in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
    return [(name, seed) for name in names for seed in seeds]


def run_variants(fn, runs: list[tuple[str, int]], *args) -> dict[tuple[str, int], dict]:
    """fn(variant, seed, *args) for every run in BENCH_JOBS (default 2) worker processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = int(os.environ.get("BENCH_JOBS", "2"))
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {run: pool.submit(fn, *run, *args) for run in runs}
        return {run: f.result() for run, f in futures.items()}


def train_variant(variant: str, seed: int, n_iter: int, labels: list[str], train: list[dict], dev: list[dict]):
    """A pipeline of the variant trained on complete tasks (best epoch on ``dev`` kept); (nlp, result, wall s, CPU s)."""
    import spacy

    from vnerteach.nlp.merge import merge_answers
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import blank_model, fit

    layout, arch, overrides = VARIANTS[variant]
    settings = Settings(n_iter=n_iter, seed=seed, **({"layout_arch": arch} if arch else {}))
    tokenizer = spacy.blank("en")
    train_m = merge_answers(train, tokenizer_nlp=tokenizer).merged
    dev_m = merge_answers(dev, tokenizer_nlp=tokenizer).merged
    nlp = blank_model("en", labels, layout, settings, overrides=overrides)
    start, cpu = time.perf_counter(), time.process_time()
    result = fit(nlp, train_m, dev_m, settings)
    return nlp, result, time.perf_counter() - start, time.process_time() - cpu


# --- FUNSD: layout variants ------------------------------------------------------------


def funsd_run(variant: str, seed: int, n_iter: int) -> dict:
    """One FUNSD training run (worker process): entity F1 overall and per label on the 30 held out."""
    tasks = funsd_tasks()
    _, result, wall, cpu = train_variant(variant, seed, n_iter, FUNSD_LABELS, tasks[:119], tasks[119:])
    scores = result.best.scores
    return {"f": 100 * scores.overall.f, "per": {k: 100 * v.f for k, v in scores.per_label.items()},
            "epoch": result.best.epoch, "wall": wall, "cpu": cpu}


def funsd() -> list[str]:
    """119 forms for training, 30 held out (the last 30 by file name); layout variants x seeds (BENCH_LAYOUTS, BENCH_SEEDS)."""
    n_iter = int(os.environ.get("BENCH_FUNSD_EPOCHS", "20"))
    runs = variant_runs()
    results = run_variants(funsd_run, runs, n_iter)
    lines = [f"FUNSD: 119 forms for training, 30 held out; words in the annotation order (as the published "
             f"BERT/LayoutLM set-up); {n_iter} epochs, best epoch on the held-out forms; entity F1 on "
             "QUESTION/ANSWER/HEADER; per run:"]
    for (variant, seed), r in results.items():
        per = "  ".join(f"{k} {v:.1f}" for k, v in sorted(r["per"].items()))
        lines.append(f"  {variant:<14} seed {seed}  F {r['f']:5.2f}  ({per})  best epoch {r['epoch']:2d}  "
                     f"wall {r['wall']:5.0f} s  CPU {r['cpu']:5.0f} s")
    lines.append(f"  {'variant':<14} {'runs':>4}  F1 mean ± sd [min, max]          CPU s (mean)")
    for variant in dict.fromkeys(v for v, _ in runs):
        mine = [r for (v, _), r in results.items() if v == variant]
        lines.append(f"  {variant:<14} {len(mine):4d}  {spread([r['f'] for r in mine])}  "
                     f"{sum(r['cpu'] for r in mine) / len(mine):6.0f}")
    lines.append("published (FUNSD test set, entity F1): BERT-base 60.3, LayoutLM-base 78.7")
    return lines


# --- SROIE: fields from our own OCR ------------------------------------------------------------------------


def field_bounds(nlp, task: dict, gold: dict) -> dict[str, str]:
    """What bounds each field of a held-out receipt: 'ocr' (gold not in the page text), 'tokens' (not a window of
    whole tokens), else the model's: 'right', 'candidate' (wrong, but a beam candidate had the gold value) or
    'absent' (wrong, and no candidate of that label had it)."""
    from vnerteach.nlp.field_scores import field_match, normalise
    from vnerteach.nlp.fields import best_fields, make_field, page_scores

    words = [t["text"] for t in task["tokens"]]
    found = best_fields(nlp, [task], [f.upper() for f in FIELDS])
    candidates = page_scores(nlp, [task], prune=False)[0]
    out = {}
    for field in FIELDS:
        value, label = gold.get(field, ""), field.upper()
        if normalise(value) not in normalise("".join(words)):
            out[field] = "ocr"
        elif not any(field_match("".join(words[s:e]), value) for s, e in match_windows(words, value)):
            out[field] = "tokens"
        elif label in found and field_match(found[label].text, value):
            out[field] = "right"
        else:
            out[field] = "candidate" if any(lab == label and field_match(make_field(task, (s, e, lab), 0).text, value)
                                            for s, e, lab in candidates) else "absent"
    return out


BOUNDS = ("ocr", "tokens", "right", "candidate", "absent")


def sroie_run(variant: str, seed: int, n_iter: int, tasks: list[dict], gold: dict, n_train: int) -> dict:
    """One SROIE training run (worker process): per field, the held-out receipts in each of BOUNDS."""
    nlp, result, wall, cpu = train_variant(variant, seed, n_iter, [f.upper() for f in FIELDS], tasks[:n_train],
                                           tasks[n_train:])
    bounds = {f: dict.fromkeys(BOUNDS, 0) for f in FIELDS}
    for task in tasks[n_train:]:
        for field, bound in field_bounds(nlp, task, gold[task["meta"]["key"]]).items():
            bounds[field][bound] += 1
    return {"bounds": bounds, "f": 100 * result.best.scores.overall.f, "epoch": result.best.epoch,
            "wall": wall, "cpu": cpu}


def sroie() -> list[str]:
    """OCR 150 receipts, train on 120 per layout variant and seed, extract the four fields on the 30 held out
    (fields.best_fields), exact match (field_scores.field_match), and what bounds each field that is missed."""
    n_iter = int(os.environ.get("BENCH_SROIE_EPOCHS", "20"))
    start = time.perf_counter()
    tasks, gold = sroie_tasks(sroie_keys(int(os.environ.get("BENCH_SROIE_N", "150"))))
    ocr_s = time.perf_counter() - start
    matched = {f: 0 for f in FIELDS}
    for task in tasks:
        for span in task["spans"]:
            matched[span["label"].lower()] += 1
    n_train = len(tasks) * 4 // 5
    n = len(tasks) - n_train
    runs = variant_runs()
    results = run_variants(sroie_run, runs, n_iter, tasks, gold, n_train)
    lines = [f"SROIE: {len(tasks)} receipts OCR'd by vnerteach.documents ({DEFAULT_ENGINE}, no preprocessing) in {ocr_s:.0f} s; "
             f"gold strings matched to OCR words: " + ", ".join(f"{f} {matched[f]}/{len(tasks)}" for f in FIELDS),
             f"trained on {n_train}, {n_iter} epochs (best epoch on the held out by word-label F1); exact match on "
             f"the {n} held out (highest-scoring beam candidate per field, spaces and case ignored); per run:"]
    for (variant, seed), r in results.items():
        lines.append(f"  {variant:<14} seed {seed}  " + "  ".join(f"{f} {r['bounds'][f]['right']:2d}/{n}"
                                                                   for f in FIELDS)
                     + f"  word-label F {r['f']:4.1f}  best epoch {r['epoch']:2d}  CPU {r['cpu']:4.0f} s")
    lines.append(f"  {'variant':<14} exact match %, mean ± sd [min, max] over seeds")
    for variant in dict.fromkeys(v for v, _ in runs):
        mine = [r for (v, _), r in results.items() if v == variant]
        for field in FIELDS + ("average",):
            vals = [100 * (sum(r["bounds"][f]["right"] for f in FIELDS) / len(FIELDS) if field == "average"
                           else r["bounds"][field]["right"]) / n for r in mine]
            lines.append(f"  {variant:<14} {field:<8} {spread(vals)}")
    lines.append(f"  what bounds each field on the {n} held out (mean over seeds): ocr = gold not in the OCR text, "
                 "tokens = in the text but not a window of whole tokens, right, candidate = wrong but the gold "
                 "value was a beam candidate, absent = wrong and not a candidate")
    for variant in dict.fromkeys(v for v, _ in runs):
        mine = [r for (v, _), r in results.items() if v == variant]
        for field in FIELDS:
            lines.append(f"  {variant:<14} {field:<8} " + "  ".join(
                f"{b} {sum(r['bounds'][field][b] for r in mine) / len(mine):4.1f}" for b in BOUNDS))
    return lines


# --- memory: 50,000 examples ---------------------------------------------------------------------------------


def memory() -> list[str]:
    """Peak RSS of ner.batch-train on 50,000 stored ner.manual examples (one epoch)."""
    import random

    from vnerteach.tasks import set_hashes

    n = int(os.environ.get("BENCH_MEMORY_N", "50000"))
    rng = random.Random(0)
    vocab = ("the market rose after Apple and Siemens reported results in London Berlin while analysts "
             "from Goldman Sachs said growth in India would slow next year according to Reuters").split()

    def tasks():
        for i in range(n):
            words = [rng.choice(vocab) for _ in range(19)] + [f"#{i}"]
            tokens, start = [], 0
            for j, w in enumerate(words):
                tokens.append({"text": w, "start": start, "end": start + len(w), "id": j, "ws": j < len(words) - 1})
                start += len(w) + 1
            spans = [{"start": tokens[k]["start"], "end": tokens[k]["end"], "token_start": k, "token_end": k,
                      "label": "ORG" if words[k] in ("Apple", "Siemens", "Reuters") else "GPE"}
                     for k, w in enumerate(words) if w in ("Apple", "Siemens", "Reuters", "London", "Berlin", "India")]
            yield set_hashes({"text": " ".join(words), "tokens": tokens, "spans": spans, "answer": "accept",
                              "_view_id": "ner_manual"})

    env = fresh_db("memory")
    store_tasks(env, "big", tasks())
    ran = run([*VNERTEACH, "ner.batch-train", "big", "--output", WORK / "memory-model", "--n-iter", 1,
               "--eval-split", 0.02], env, WORK / "memory.log")
    return [f"ner.batch-train on {n} examples (20 words each), 1 epoch: {ran.wall:.0f} s, peak RSS {ran.peak_mb:.0f} MB"]


def main(argv: list[str]) -> None:
    """python bench/bench_train.py [conll|funsd|sroie|memory ...] (default: all)."""
    WORK.mkdir(parents=True, exist_ok=True)
    parts = argv or ["conll", "funsd", "sroie", "memory"]
    n_iter = int(os.environ.get("BENCH_EPOCHS", "5"))
    for part in parts:
        if part == "conll":
            lines = conll(n_iter)
            lines.append(conll_greedy(n_iter))
        else:
            lines = globals()[part]()
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
