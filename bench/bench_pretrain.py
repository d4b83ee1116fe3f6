"""Issue 13 point 5: does `vnerteach pretrain` help a model trained from blank? FUNSD entity F1 at 25/50/100 forms.

Usage: python bench/bench_pretrain.py [--pretrain-epochs 20] [--epochs 10] [--seeds 0,1,2] [--sizes 25,50,100] [--jobs 2]

1. Unlabelled pages: the 119 FUNSD pool forms (words and boxes, their labels dropped) and the 150 SROIE
   receipts of box/ (the dataset's own OCR lines, cut into words with boxes by characters), written as
   page tasks to a JSONL; `vnerteach pretrain` on it (layout tok2vec, since the pages have boxes).
2. For each size and seed: a random subset of the pool (the seed picks it; the same subset for both
   arms), `ner.batch-train --eval-dataset funsd_eval --seed S` from blank, without and with
   `--init-tok2vec`; entity F1 (QUESTION/ANSWER/HEADER) of the best epoch on the 30 held-out forms.
Data: bench/data.py's data_dir() (never copied); work folder BENCH_DIR (default /tmp/vnerteach-bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_train import DATA, VNERTEACH, WORK, fresh_db, funsd_tasks, run, store_tasks  # noqa: E402


def sroie_pages() -> list[dict]:
    """SROIE receipts as unlabelled page tasks from box/ (x1,y1,...,x4,y4,text per line), a box per word."""
    from PIL import Image

    from vnerteach.tasks import set_hashes

    tasks = []
    for box_file in sorted((DATA / "sroie" / "box").glob("*.txt")):
        with Image.open(DATA / "sroie" / "img" / f"{box_file.stem}.jpg") as image:
            width, height = image.size
        tokens: list[dict] = []
        for line in box_file.read_text(encoding="utf8", errors="replace").splitlines():
            parts = line.split(",", 8)
            if len(parts) < 9 or not parts[8].strip():
                continue
            xs, ys = [int(v) for v in parts[0:8:2]], [int(v) for v in parts[1:8:2]]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
            text = parts[8].strip()
            per_char = (x1 - x0) / max(len(text), 1)
            offset = 0
            for word in text.split():
                at = text.index(word, offset)
                offset = at + len(word)
                start = tokens[-1]["end"] + 1 if tokens else 0
                tokens.append({"text": word, "start": start, "end": start + len(word), "id": len(tokens), "ws": True,
                               "bbox": [round(x0 + at * per_char), y0, round(x0 + offset * per_char), y1]})
        if tokens:
            tokens[-1]["ws"] = False
            tasks.append(set_hashes({"text": " ".join(t["text"] for t in tokens), "tokens": tokens,
                                     "width": width, "height": height, "meta": {"source": box_file.stem}}))
    return tasks


def unlabelled(task: dict) -> dict:
    """A FUNSD form as an unlabelled page: its words and boxes only."""
    return {k: task[k] for k in ("text", "tokens", "width", "height", "meta")}


def train_one(size: int, seed: int, pool: list[dict], n_iter: int, init: Path | None) -> dict:
    """ner.batch-train from blank on a seeded subset of the pool; the best epoch's scores."""
    arm = "pretrained" if init else "blank"
    name = f"pretrain-{size}-{seed}-{arm}"
    env = fresh_db(name)
    subset = random.Random(seed).sample(pool, size)
    store_tasks(env, "train", subset)
    store_tasks(env, "eval", EVAL)
    out = WORK / name
    args = [*VNERTEACH, "ner.batch-train", "train", "--eval-dataset", "eval", "--output", out, "--n-iter", n_iter,
            "--seed", seed]
    if init:
        args += ["--init-tok2vec", init]
    wall, _ = run(args, env, WORK / f"{name}.log")
    meta = json.loads((out / "meta.json").read_text())
    return {"size": size, "seed": seed, "arm": arm, "f": meta["performance"]["ents_f"], "wall": wall,
            "best_epoch": meta["vnerteach"]["best_epoch"]}


EVAL: list[dict] = []


def main(argv: list[str]) -> None:
    """Pretrain once, then train both arms at each size and seed; print one table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="25,50,100")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)", flush=True)
    tasks = funsd_tasks()
    pool, EVAL[:] = tasks[:119], tasks[119:]
    receipts = sroie_pages()
    corpus = WORK / "pretrain-corpus.jsonl"
    with open(corpus, "w", encoding="utf8") as f:
        for task in [unlabelled(t) for t in pool] + receipts:
            f.write(json.dumps(task, ensure_ascii=False) + "\n")
    words = sum(len(t["tokens"]) for t in pool) + sum(len(t["tokens"]) for t in receipts)
    weights = WORK / "pretrained-tok2vec"
    start = time.perf_counter()
    run([*VNERTEACH, "pretrain", corpus, "--output", weights, "--epochs", args.pretrain_epochs],
        {"VNERTEACH_HOME": str(WORK / "home")}, WORK / "pretrain.log")
    pretrain_s = time.perf_counter() - start
    loss = json.loads((weights / "meta.json").read_text())["loss"]
    print(f"Unlabelled pages: {len(pool)} FUNSD pool forms + {len(receipts)} SROIE receipts (box/ lines), {words} words; "
          f"vnerteach pretrain --epochs {args.pretrain_epochs}: {pretrain_s:.0f} s, loss per word {loss[0]:.3f} -> "
          f"{loss[-1]:.3f}", flush=True)
    jobs = [(size, seed, init) for size in sizes for seed in seeds for init in (None, weights)]
    results = []
    with ThreadPoolExecutor(args.jobs) as pool_exec:  # results in job order, each printed as soon as it is in
        for r in pool_exec.map(lambda j: train_one(j[0], j[1], pool, args.epochs, j[2]), jobs):
            results.append(r)
            print(f"  n={r['size']:>3} seed {r['seed']} {r['arm']:<10} F {100 * r['f']:5.2f}  best epoch "
                  f"{r['best_epoch']:>2}  {r['wall']:5.0f} s", flush=True)
    print(f"\nFUNSD entity F1 on the 30 held-out forms, ner.batch-train (layout) from blank, {args.epochs} epochs, "
          f"best epoch; mean ± sample std over seeds {','.join(map(str, seeds))} (seed = subset and training seed)")
    print(f"{'forms':>5}  {'blank':>13}  {'--init-tok2vec':>14}  {'paired diff':>13}  wins")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    for size in sizes:
        blank = [r["f"] for r in results if r["size"] == size and r["arm"] == "blank"]
        pre = [r["f"] for r in results if r["size"] == size and r["arm"] == "pretrained"]
        diff = [p - b for p, b in zip(pre, blank)]
        print(f"{size:>5}  {_ms(blank):>13}  {_ms(pre):>14}  {_ms(diff, sign=True):>13}  "
              f"{sum(d > 0 for d in diff)}/{len(diff)}")


def _ms(values: list[float], sign: bool = False) -> str:
    mean = 100 * statistics.mean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:+.1f} ± {spread:.1f}" if sign else f"{mean:.1f} ± {spread:.1f}"


if __name__ == "__main__":
    main(sys.argv[1:])
