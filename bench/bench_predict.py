"""`vnerteach predict` throughput: receipts (pages/s, OCR cold and cached) and text (sentences/s).

A SROIE model is trained (ner.batch-train, layout) on the first 50 receipts, then `predict --fields`
runs on the other 100 twice with one page cache: first cold (Tesseract, --workers 2), then with
every page cached. A CoNLL model is trained on 2,000 sentences, then `predict` runs on 3,000
eng.testa sentences. Each figure is the whole command as a user runs it (start-up included), wall
and CPU seconds of the child process. Work files in BENCH_DIR (default /tmp/vnerteach-bench).

Usage: python bench/bench_predict.py [receipts|text ...] (default: both). BENCH_PREDICT_EPOCHS (5).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from bench_train import DATA, LAST_CPU, VNERTEACH, WORK, conll_tasks, fresh_db, run, store_tasks  # noqa: E402
from sroie_labels import label_spans  # noqa: E402

EPOCHS = int(os.environ.get("BENCH_PREDICT_EPOCHS", "5"))
N_TRAIN, N_PREDICT = 50, 100


def _rate(what: str, n: int, wall: float, cpu: float | None) -> str:
    per_cpu = f"{n / cpu:7.1f}/CPU s" if cpu else "    (OCR workers' CPU not counted)"
    return f"{what:<44} {n:>5}  {wall:7.1f} s  {n / wall:7.1f}/s wall  {per_cpu}"


def receipts() -> list[str]:
    """Train on 50 receipts, then predict --fields on 100 others: OCR cold, then cached."""
    from vnerteach.documents import DocumentOptions, iter_documents, page_task
    from vnerteach.tasks import set_hashes

    root = DATA / "sroie"
    keys = sorted(p.stem for p in (root / "img").glob("*.jpg"))
    home = WORK / "predict-home"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["VNERTEACH_HOME"] = str(home)
    tasks = []
    for key, result in zip(keys[:N_TRAIN], iter_documents([root / "img" / f"{k}.jpg" for k in keys[:N_TRAIN]],
                                                           DocumentOptions(workers=2, cache_dir=str(home / "cache")))):
        task = page_task(result)
        task.update(spans=label_spans(task["tokens"], json.loads((root / "entities" / f"{key}.txt").read_text())),
                    answer="accept", _view_id="ner_manual")
        tasks.append(set_hashes(task))
    env = {**fresh_db("predict-receipts"), "VNERTEACH_HOME": str(home)}
    store_tasks(env, "receipts", tasks)
    model = WORK / "predict-receipts-model"
    run([*VNERTEACH, "ner.batch-train", "receipts", "--output", model, "--n-iter", EPOCHS], env,
        WORK / "predict-train.log")
    folder = WORK / "predict-receipts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for key in keys[N_TRAIN:N_TRAIN + N_PREDICT]:
        (folder / f"{key}.jpg").symlink_to(root / "img" / f"{key}.jpg")
    n = len(list(folder.iterdir()))
    lines = [f"SROIE: model trained on {N_TRAIN} receipts ({EPOCHS} epochs), predict --fields on {n} others, "
             f"--workers 2 (2 cores)"]
    for what, cold in (("OCR cold (Tesseract) + model", True), ("OCR cached + model", False)):
        out = WORK / "predict-fields.jsonl"
        wall, peak = run([*VNERTEACH, "predict", model, folder, "--fields", "--workers", 2, "-o", out], env,
                         WORK / "predict-receipts.log")
        assert sum(1 for _ in out.open()) == n, "one line per receipt"
        lines.append(_rate(f"pages, {what}", n, wall, None if cold else LAST_CPU[0]) + f"  peak {peak:.0f} MB")
    return lines


def text() -> list[str]:
    """Train on 2,000 CoNLL sentences, then predict on 3,000 eng.testa sentences (JSONL)."""
    env = fresh_db("predict-text")
    store_tasks(env, "conll", conll_tasks(DATA / "conll2003" / "eng.train")[:2000])
    model = WORK / "predict-text-model"
    run([*VNERTEACH, "ner.batch-train", "conll", "--output", model, "--n-iter", EPOCHS], env, WORK / "predict-train.log")
    source = WORK / "predict-text.jsonl"
    sentences = conll_tasks(DATA / "conll2003" / "eng.testa")[:3000]
    with source.open("w") as f:
        for task in sentences:
            f.write(json.dumps({"text": task["text"]}) + "\n")
    tokens = sum(len(t["tokens"]) for t in sentences) / len(sentences)
    out = WORK / "predict-text-out.jsonl"
    wall, peak = run([*VNERTEACH, "predict", model, source, "-o", out], env, WORK / "predict-text.log")
    assert sum(1 for _ in out.open()) == len(sentences), "one line per sentence"
    return [f"CoNLL: model trained on 2,000 sentences ({EPOCHS} epochs), predict on {len(sentences)} eng.testa "
            f"sentences ({tokens:.1f} tokens each)",
            _rate("sentences, predict (entities)", len(sentences), wall, LAST_CPU[0]) + f"  peak {peak:.0f} MB"]


def main(argv: list[str]) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    jobs = {"receipts": receipts, "text": text}
    for name in argv or list(jobs):
        for line in jobs[name]():
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
