"""`vnerteach predict` throughput: receipts (pages/s, OCR cold and cached) and text (sentences/s).

A SROIE model is trained (ner.batch-train, layout) on the first 50 receipts, then `predict --fields`
runs on the other 100 twice with one page cache: first cold (OCR by BENCH_PREDICT_ENGINE, default
vnerteach's default engine; --workers 2), then with every page cached. A CoNLL model is trained on 2,000 sentences, then `predict` runs on 3,000
eng.testa sentences. Each figure is the whole command as a user runs it (start-up included): wall
seconds, and CPU seconds of its whole process tree (the OCR workers included, common.run). Work files
in BENCH_DIR (default /tmp/vnerteach-bench).

Usage: python bench/bench_predict.py [receipts|text ...] (default: both). BENCH_PREDICT_EPOCHS (5),
BENCH_PREDICT_ENGINE (ppocrv5, tesseract or rapidocr; default vnerteach's default).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from common import (VNERTEACH, WORK, conll_tasks, data_dir, fresh_db, run, sroie_image, sroie_keys, sroie_tasks,
                    store_tasks)

from vnerteach.documents.options import DEFAULT_ENGINE

EPOCHS = int(os.environ.get("BENCH_PREDICT_EPOCHS", "5"))
ENGINE = os.environ.get("BENCH_PREDICT_ENGINE", DEFAULT_ENGINE)
N_TRAIN, N_PREDICT = 50, 100


def _rate(what: str, n: int, ran) -> str:
    """One row: items per wall second and per CPU second of the command's process tree, peak RSS."""
    return (f"{what:<44} {n:>5}  {ran.wall:7.1f} s  {n / ran.wall:7.1f}/s wall  {ran.cpu:7.1f} CPU s  "
            f"{n / ran.cpu:7.2f}/CPU s  peak {ran.peak_mb:.0f} MB")


def receipts() -> list[str]:
    """Train on 50 receipts, then predict --fields on 100 others: OCR cold, then cached."""
    keys = sroie_keys()
    home = WORK / "predict-home"
    shutil.rmtree(home, ignore_errors=True)
    tasks, _ = sroie_tasks(keys[:N_TRAIN], home)
    env = {**fresh_db("predict-receipts"), "VNERTEACH_HOME": str(home)}
    store_tasks(env, "receipts", tasks)
    model = WORK / "predict-receipts-model"
    run([*VNERTEACH, "ner.batch-train", "receipts", "--output", model, "--n-iter", EPOCHS], env,
        WORK / "predict-train.log")
    folder = WORK / "predict-receipts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for key in keys[N_TRAIN:N_TRAIN + N_PREDICT]:
        (folder / f"{key}.jpg").symlink_to(sroie_image(key))
    n = len(list(folder.iterdir()))
    lines = [f"SROIE: model trained on {N_TRAIN} receipts ({EPOCHS} epochs), predict --fields on {n} others, "
             f"--workers 2 (2 cores), --ocr-engine {ENGINE}"]
    for what in (f"OCR cold ({ENGINE}) + model", "OCR cached + model"):
        out = WORK / "predict-fields.jsonl"
        ran = run([*VNERTEACH, "predict", model, folder, "--fields", "--workers", 2, "--ocr-engine", ENGINE, "-o", out],
                  env, WORK / "predict-receipts.log")
        assert sum(1 for _ in out.open()) == n, "one line per receipt"
        lines.append(_rate(f"pages, {what}", n, ran))
    return lines


def text() -> list[str]:
    """Train on 2,000 CoNLL sentences, then predict on 3,000 eng.testa sentences (JSONL)."""
    env = fresh_db("predict-text")
    store_tasks(env, "conll", conll_tasks(data_dir() / "conll2003" / "eng.train")[:2000])
    model = WORK / "predict-text-model"
    run([*VNERTEACH, "ner.batch-train", "conll", "--output", model, "--n-iter", EPOCHS], env, WORK / "predict-train.log")
    source = WORK / "predict-text.jsonl"
    sentences = conll_tasks(data_dir() / "conll2003" / "eng.testa")[:3000]
    with source.open("w") as f:
        for task in sentences:
            f.write(json.dumps({"text": task["text"]}) + "\n")
    tokens = sum(len(t["tokens"]) for t in sentences) / len(sentences)
    out = WORK / "predict-text-out.jsonl"
    ran = run([*VNERTEACH, "predict", model, source, "-o", out], env, WORK / "predict-text.log")
    assert sum(1 for _ in out.open()) == len(sentences), "one line per sentence"
    return [f"CoNLL: model trained on 2,000 sentences ({EPOCHS} epochs), predict on {len(sentences)} eng.testa "
            f"sentences ({tokens:.1f} tokens each)",
            _rate("sentences, predict (entities)", len(sentences), ran)]


def main(argv: list[str]) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    jobs = {"receipts": receipts, "text": text}
    for name in argv or list(jobs):
        for line in jobs[name]():
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
