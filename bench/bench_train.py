"""Training benchmarks: CoNLL-2003 against spacy train, FUNSD text vs layout, SROIE fields, memory.

Usage: python bench/bench_train.py [conll|funsd|sroie|memory ...] (default: all). Environment:
BENCH_DIR (work folder, default /tmp/vnerteach-bench), BENCH_EPOCHS (CoNLL, 5), BENCH_FUNSD_EPOCHS (20),
BENCH_SROIE_EPOCHS (20), BENCH_SROIE_N (150), BENCH_MEMORY_N (50000). Data: bench/data.py's data_dir() (never copied).
"""

from __future__ import annotations

from pathlib import Path

from data import data_dir  # noqa: E402  (bench/ is the script's folder)
from sroie_labels import FIELDS, label_spans  # noqa: E402

DATA = data_dir()


def conll_tasks(path: str | Path) -> list[dict]:
    """CoNLL-2003 sentences (IOB1) as complete ner_manual tasks with tokens and spans."""
    tasks, words, tags = [], [], []

    def flush():
        if words and words[0] != "-DOCSTART-":
            tasks.append(_conll_task(words, tags))
        words.clear()
        tags.clear()

    with open(path, encoding="utf8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                flush()
                continue
            words.append(parts[0])
            tags.append(parts[-1])
    flush()
    return tasks


def _conll_task(words: list[str], tags: list[str]) -> dict:
    from vnerteach.tasks import set_hashes

    tokens, spans, offset = [], [], 0
    for i, word in enumerate(words):
        tokens.append({"text": word, "start": offset, "end": offset + len(word), "id": i, "ws": i < len(words) - 1})
        offset += len(word) + 1
    start = label = None
    for i, tag in enumerate(tags + ["O"]):
        kind, _, typ = tag.partition("-")
        begins = kind == "B" or (kind == "I" and typ != label)
        if label is not None and (kind == "O" or begins):
            spans.append({"start": tokens[start]["start"], "end": tokens[i - 1]["end"], "token_start": start,
                          "token_end": i - 1, "label": label})
            start = label = None
        if kind != "O" and (label is None):
            start, label = i, typ
    return set_hashes({"text": " ".join(words), "tokens": tokens, "spans": spans, "answer": "accept",
                       "_view_id": "ner_manual"})


# --- shared helpers -------------------------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

WORK = Path(os.environ.get("BENCH_DIR", "/tmp/vnerteach-bench"))
VNERTEACH = [sys.executable, "-m", "vnerteach"]


LAST_CPU = [0.0]


def run(args: list[str], env: dict | None = None, log: Path | None = None) -> tuple[float, float]:
    """Run a child process; return (wall seconds, peak RSS MB of that child); raise if it fails.

    The child's CPU seconds (user + system) are left in LAST_CPU[0]: the steadier speed figure on
    a shared machine."""
    start = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen([str(a) for a in args], env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{tail}")
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024


def fresh_db(name: str) -> dict:
    """Environment for a private database under the bench folder."""
    path = WORK / f"{name}.db"
    if path.exists():
        path.unlink()
    return {"VNERTEACH_DB": str(path), "VNERTEACH_HOME": str(WORK / "home")}


def store_tasks(env: dict, dataset: str, tasks) -> None:
    """Add tasks to a dataset of the bench database."""
    from vnerteach.store import connect

    with connect(env["VNERTEACH_DB"]) as store:
        store.add_examples(tasks, [dataset])


# --- CoNLL-2003: ner.batch-train against spacy train --------------------------------------------------


def conll(n_iter: int) -> list[str]:
    """Train on eng.train, score on eng.testa: ner.batch-train and spacy train with the same config."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training.batchers import minibatch_by_words
    from thinc.api import Config, compounding

    from vnerteach.merge import merge_answers, reference_doc
    from vnerteach.pipeline import Settings, training_config

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
    wall, peak = run([*VNERTEACH, "ner.batch-train", "conll_train", "--eval-dataset", "conll_dev", "--output", out,
                      "--n-iter", n_iter], env, WORK / "conll-vnerteach.log")
    f = json.loads((out / "meta.json").read_text())["performance"]["ents_f"]
    lines.append(_row("vnerteach ner.batch-train (beam_ner)", f, wall, n_iter * words, peak))

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
        wall, peak = run([sys.executable, "-m", "spacy", "train", config, "--output", out],
                         log=WORK / f"conll-spacy-{component}.log")
        f = json.loads((out / "model-best" / "meta.json").read_text())["performance"]["ents_f"]
        lines.append(_row(f"python -m spacy train ({component})", f, wall, n_iter * words, peak))
        if component == "ner":
            break
    return lines


def conll_greedy(n_iter: int) -> str:
    """The same trainer with the greedy `ner` component (library call, same process)."""
    from vnerteach.merge import merge_answers
    from vnerteach.pipeline import Settings, blank_pipeline
    from vnerteach.training import Trainer
    import spacy

    nlp0 = spacy.blank("en")
    dev = merge_answers(conll_tasks(DATA / "conll2003" / "eng.testa"), tokenizer_nlp=nlp0).merged
    held_out = {m.input_hash for m in dev}
    train = [m for m in merge_answers(conll_tasks(DATA / "conll2003" / "eng.train"), tokenizer_nlp=nlp0).merged
             if m.input_hash not in held_out]
    settings = Settings(n_iter=n_iter, component="ner")
    nlp = blank_pipeline("en", ["LOC", "MISC", "ORG", "PER"], False, settings)
    start, cpu = time.perf_counter(), time.process_time()
    trainer = Trainer(nlp, train, dev, settings)
    for _ in trainer.epochs():
        pass
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _row("vnerteach Trainer (ner, greedy)", trainer.best.scores.overall.f, wall,
                n_iter * sum(m.n_words for m in train), None, cpu)


def _row(name: str, f: float, wall: float, words: int, peak: float | None, cpu: float | None = None) -> str:
    cpu = LAST_CPU[0] if cpu is None else cpu
    mem = f"{peak:5.0f}" if peak is not None else "    -"
    return (f"{name:<38} F {100 * f:5.2f}  wall {wall:6.0f} s {words / wall:6.0f} words/s  "
            f"CPU {cpu:6.0f} s {words / cpu:6.0f} words/CPU-s  peak MB {mem}")


# --- FUNSD: text-only against layout features ------------------------------------------------------------


def funsd_tasks() -> list[dict]:
    """FUNSD forms as complete page tasks: words in the annotation's order, entities as spans ('other' is O)."""
    from PIL import Image

    from vnerteach.tasks import set_hashes

    root = DATA / "funsd" / "training_data"
    tasks = []
    for path in sorted((root / "annotations").glob("*.json")):
        form = json.loads(path.read_text())["form"]
        with Image.open(root / "images" / f"{path.stem}.png") as image:
            width, height = image.size
        tokens, spans = [], []
        for entity in form:
            words = [w for w in entity["words"] if w["text"].strip()]
            if not words:
                continue
            first = len(tokens)
            for w in words:
                start = tokens[-1]["end"] + 1 if tokens else 0
                tokens.append({"text": w["text"].strip(), "start": start, "end": start + len(w["text"].strip()),
                               "id": len(tokens), "ws": True, "bbox": w["box"]})
            if entity["label"] != "other":
                spans.append({"start": tokens[first]["start"], "end": tokens[-1]["end"], "token_start": first,
                              "token_end": len(tokens) - 1, "label": entity["label"].upper()})
        tokens[-1]["ws"] = False
        tasks.append(set_hashes({"text": " ".join(t["text"] for t in tokens), "tokens": tokens, "spans": spans,
                                 "width": width, "height": height, "meta": {"source": path.stem},
                                 "answer": "accept", "_view_id": "ner_manual"}))
    return tasks


def funsd() -> list[str]:
    """119 forms for training, 30 held out (the last 30 by file name); ner.batch-train --no-layout vs --layout."""
    n_iter = int(os.environ.get("BENCH_FUNSD_EPOCHS", "20"))
    tasks = funsd_tasks()
    env = fresh_db("funsd")
    store_tasks(env, "funsd_train", tasks[:119])
    store_tasks(env, "funsd_eval", tasks[119:])
    lines = [f"FUNSD: {len(tasks[:119])} forms for training, {len(tasks[119:])} held out; words in the annotation "
             f"order (as the published BERT/LayoutLM set-up); {n_iter} epochs; entity F1 on QUESTION/ANSWER/HEADER"]
    for flag in ("--no-layout", "--layout"):
        out = WORK / f"funsd{flag}"
        wall, _ = run([*VNERTEACH, "ner.batch-train", "funsd_train", "--eval-dataset", "funsd_eval", "--output", out,
                       "--n-iter", n_iter, flag], env, WORK / f"funsd{flag}.log")
        perf = json.loads((out / "meta.json").read_text())["performance"]
        per = "  ".join(f"{k} {100 * v['f']:.1f}" for k, v in sorted(perf["ents_per_type"].items()))
        lines.append(f"ner.batch-train {flag:<12} F {100 * perf['ents_f']:5.2f}  ({per})  {wall:6.1f} s")
    lines.append("published (FUNSD test set, entity F1): BERT-base 60.3, LayoutLM-base 78.7")
    return lines


# --- SROIE: fields from our own OCR ------------------------------------------------------------------------


def sroie_keys(n: int) -> list[str]:
    """The first n SROIE receipts by name."""
    return sorted(p.stem for p in (DATA / "sroie" / "img").glob("*.jpg"))[:n]


def sroie_tasks(keys: list[str]) -> tuple[list[dict], dict[str, dict]]:
    """SROIE receipts OCR'd by vnerteach.documents (page cache under BENCH_DIR) as complete page tasks
    labelled by sroie_labels (``meta.key`` the receipt), and the gold fields per receipt."""
    from vnerteach.documents import DocumentOptions, iter_documents, page_task
    from vnerteach.tasks import set_hashes

    root = DATA / "sroie"
    os.environ["VNERTEACH_HOME"] = str(WORK / "home")
    results = iter_documents([root / "img" / f"{k}.jpg" for k in keys], DocumentOptions(workers=2))
    tasks, gold = [], {}
    for key, result in zip(keys, results):
        task = page_task(result)
        fields = json.loads((root / "entities" / f"{key}.txt").read_text())
        gold[key] = fields
        task.update(spans=label_spans(task["tokens"], fields), answer="accept", _view_id="ner_manual")
        task["meta"]["key"] = key
        tasks.append(set_hashes(task))
    return tasks, gold


def sroie() -> list[str]:
    """OCR 150 receipts (vnerteach.documents), label words by matching gold strings, train on 120 with layout,
    extract the four fields on the 30 held out (fields.best_fields), exact match (fields.field_match)."""
    import spacy

    from vnerteach.fields import best_fields, field_match

    n_iter = int(os.environ.get("BENCH_SROIE_EPOCHS", "20"))
    keys = sroie_keys(int(os.environ.get("BENCH_SROIE_N", "150")))
    n_train = len(keys) * 4 // 5
    start = time.perf_counter()
    tasks, gold = sroie_tasks(keys)
    ocr_s = time.perf_counter() - start
    matched = {f: 0 for f in FIELDS}
    for task in tasks:
        for span in task["spans"]:
            matched[span["label"].lower()] += 1
    env = fresh_db("sroie")
    store_tasks(env, "sroie_train", tasks[:n_train])
    store_tasks(env, "sroie_eval", tasks[n_train:])
    out = WORK / "sroie-model"
    wall, _ = run([*VNERTEACH, "ner.batch-train", "sroie_train", "--eval-dataset", "sroie_eval", "--output", out,
                   "--n-iter", n_iter], env, WORK / "sroie.log")
    nlp = spacy.load(out)
    held = tasks[n_train:]
    correct, missing = {f: 0 for f in FIELDS}, {f: 0 for f in FIELDS}
    for task in held:  # the one field extractor, as predict --fields and ner.evaluate --fields
        fields, found = gold[task["meta"]["key"]], best_fields(nlp, [task], [f.upper() for f in FIELDS])
        for field in FIELDS:
            value = found.get(field.upper())
            missing[field] += value is None
            correct[field] += value is not None and field_match(value.text, fields.get(field, ""))
    f1 = json.loads((out / "meta.json").read_text())["performance"]["ents_f"]
    n = len(held)
    lines = [f"SROIE: {len(keys)} receipts OCR'd by vnerteach.documents (Tesseract, no preprocessing) in {ocr_s:.0f} s; "
             f"gold strings matched to OCR words: " + ", ".join(f"{f} {matched[f]}/{len(keys)}" for f in FIELDS),
             f"ner.batch-train (layout) on {n_train}, {n_iter} epochs, {wall:.0f} s; word-label entity F1 on the "
             f"{n} held out: {100 * f1:.1f}",
             f"exact match on the {n} held out (highest-scoring candidate per field, spaces and case ignored): "
             + ", ".join(f"{f} {correct[f]}/{n} ({100 * correct[f] / n:.0f}%, {missing[f]} missing)" for f in FIELDS)]
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
    wall, peak = run([*VNERTEACH, "ner.batch-train", "big", "--output", WORK / "memory-model", "--n-iter", 1,
                      "--eval-split", 0.02], env, WORK / "memory.log")
    return [f"ner.batch-train on {n} examples (20 words each), 1 epoch: {wall:.0f} s, peak RSS {peak:.0f} MB"]


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
