"""Issue 13 point 5: does `vnerteach pretrain` help a model trained from blank? FUNSD entity F1 at 25/50/100 forms.

Usage: python bench/bench_pretrain.py [--pretrain-epochs 30] [--epochs 10] [--seeds 0,1,2] [--sizes 25,50,100] [--jobs 2]
       [--weights DIR]

1. Unlabelled pages: the 119 FUNSD pool forms (words and boxes, their labels dropped) and the 150 SROIE
   receipts of box/ (the dataset's own OCR lines, cut into words with boxes by characters), written as
   page tasks to a JSONL; `vnerteach pretrain` on it (layout tok2vec, since the pages have boxes).
2. For each size and seed: a random subset of the pool (the seed picks it; the same subset for both
   arms), trained from blank by ner.batch-train's Trainer (in worker processes, seed S), without and
   with the pretrained weights (--init-tok2vec's load_pretrained); entity F1 (QUESTION/ANSWER/HEADER)
   of the last epoch on the 30 held-out forms (no epoch chosen on them).
Data: common.data_dir() (never copied); work folder BENCH_DIR (default /tmp/vnerteach-bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import FUNSD_LABELS, VNERTEACH, WORK, funsd_tasks, run, sroie_image, sroie_keys, sroie_lines


def sroie_pages() -> list[dict]:
    """SROIE receipts as unlabelled page tasks from box/ (x1,y1,...,x4,y4,text per line), a box per word."""
    from PIL import Image

    from vnerteach.tasks import set_hashes

    tasks = []
    for key in sroie_keys():
        with Image.open(sroie_image(key)) as image:
            width, height = image.size
        tokens: list[dict] = []
        for parts in sroie_lines(key):
            if not parts[8].strip():
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
                                     "width": width, "height": height, "meta": {"source": key}}))
    return tasks


def unlabelled(task: dict) -> dict:
    """A FUNSD form as an unlabelled page: its words and boxes only."""
    return {k: task[k] for k in ("text", "tokens", "width", "height", "meta")}


_TASKS: list[dict] = []


def train_one(job: tuple[int, int, str | None, int]) -> dict:
    """From blank on a seeded subset of the pool (the library path of ner.batch-train --eval-dataset, in a worker
    process), without or with --init-tok2vec; entity F1 of the last epoch on the 30 held-out forms."""
    import spacy

    from vnerteach.nlp.evaluation import evaluate
    from vnerteach.nlp.merge import merge_answers
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.pretraining import load_pretrained
    from vnerteach.nlp.training import blank_model, fit

    size, seed, init, n_iter = job
    if not _TASKS:
        _TASKS.extend(funsd_tasks())
    subset = random.Random(seed).sample(_TASKS[:119], size)
    tokenizer = spacy.blank("en")
    train = merge_answers(subset, tokenizer_nlp=tokenizer).merged
    held_out = merge_answers(_TASKS[119:], tokenizer_nlp=tokenizer).merged
    settings = Settings(n_iter=n_iter, seed=seed)
    pretrained = load_pretrained(init) if init else None
    nlp = blank_model("en", LABELS, True, settings, pretrained)
    start, cpu = time.perf_counter(), time.process_time()
    fit(nlp, train, [], settings, pretrained)
    scores = evaluate(nlp, held_out)
    return {"size": size, "seed": seed, "arm": "pretrained" if init else "blank", "f": scores.overall.f,
            "per_label": {k: v.f for k, v in scores.per_label.items()}, "wall": time.perf_counter() - start,
            "cpu": time.process_time() - cpu}


LABELS = FUNSD_LABELS


def main(argv: list[str]) -> None:
    """Pretrain once, then train the arms at each size and seed; print one table of every kept result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="25,50,100")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--weights", help="a folder `vnerteach pretrain` wrote before: skip pretraining")
    parser.add_argument("--arms", default="blank,pretrained", help="run only these arms now (blank needs no weights, "
                        "so it can run while pretraining does); the table reads every result kept in BENCH_DIR")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    arms = args.arms.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)", flush=True)
    weights = Path(args.weights) if args.weights else WORK / "pretrained-tok2vec"
    if "pretrained" in arms:
        _pretrain(weights, args.pretrain_epochs, reuse=bool(args.weights))
    jobs = [(size, seed, str(weights) if arm == "pretrained" else None, args.epochs)
            for size in sizes for seed in seeds for arm in ("blank", "pretrained") if arm in arms]
    kept = WORK / "pretrain-results.jsonl"
    with ProcessPoolExecutor(args.jobs) as workers:  # results in job order, each printed and kept as soon as it is in
        for r in workers.map(train_one, jobs):
            _print_run(r)
            with open(kept, "a") as f:
                f.write(json.dumps(dict(r, epochs=args.epochs)) + "\n")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    found = {}
    for line in kept.read_text().splitlines():  # the latest result of each run with these epochs
        r = json.loads(line)
        if r["epochs"] == args.epochs and r["size"] in sizes and r["seed"] in seeds:
            found[r["size"], r["seed"], r["arm"]] = r
    print("Every run kept in BENCH_DIR with these epochs:")
    for key in sorted(found):
        _print_run(found[key])
    print(f"\nFUNSD entity F1 on the 30 held-out forms, trained from blank with layout features (ner.batch-train's "
          f"Trainer), {args.epochs} epochs, last epoch; mean ± sample std over seeds {','.join(map(str, seeds))} "
          "(seed = subset and training seed)")
    print(f"{'forms':>5}  {'blank':>13}  {'--init-tok2vec':>14}  {'paired diff':>13}  wins")
    for size in sizes:
        pairs = [(found[size, s, "blank"]["f"], found[size, s, "pretrained"]["f"]) for s in seeds
                 if (size, s, "blank") in found and (size, s, "pretrained") in found]
        if not pairs:
            print(f"{size:>5}  (no seed has both arms yet)")
            continue
        blank, pre = [b for b, _ in pairs], [p for _, p in pairs]
        diff = [p - b for b, p in pairs]
        print(f"{size:>5}  {_ms(blank):>13}  {_ms(pre):>14}  {_ms(diff, sign=True):>13}  "
              f"{sum(d > 0 for d in diff)}/{len(diff)}")


def _pretrain(weights: Path, epochs: int, reuse: bool) -> None:
    """Write the unlabelled pages and run `vnerteach pretrain` on them (unless reusing weights); print what it did."""
    tasks = funsd_tasks()
    pool = tasks[:119]
    receipts = sroie_pages()
    words = sum(len(t["tokens"]) for t in pool) + sum(len(t["tokens"]) for t in receipts)
    took = f"weights of an earlier run ({weights})"
    if not reuse:
        corpus = WORK / "pretrain-corpus.jsonl"
        with open(corpus, "w", encoding="utf8") as f:
            for task in [unlabelled(t) for t in pool] + receipts:
                f.write(json.dumps(task, ensure_ascii=False) + "\n")
        start = time.perf_counter()
        run([*VNERTEACH, "pretrain", corpus, "--output", weights, "--epochs", epochs],
            {"VNERTEACH_HOME": str(WORK / "home")}, WORK / "pretrain.log")
        took = f"{time.perf_counter() - start:.0f} s"
    meta = json.loads((weights / "meta.json").read_text())
    print(f"Unlabelled pages: {len(pool)} FUNSD pool forms + {len(receipts)} SROIE receipts (box/ lines), {words} "
          f"words (pretrain read {meta['docs']} pages, {meta['words']} tokens); vnerteach pretrain --epochs "
          f"{meta['epochs']}: {took}, loss per word {meta['loss'][0]:.3f} -> {meta['loss'][-1]:.3f}", flush=True)


def _print_run(r: dict) -> None:
    per = "  ".join(f"{k} {100 * v:4.1f}" for k, v in sorted(r["per_label"].items()))
    print(f"  n={r['size']:>3} seed {r['seed']} {r['arm']:<10} F {100 * r['f']:5.2f}  ({per})  "
          f"{r['wall']:5.0f} s wall {r['cpu']:5.0f} s CPU", flush=True)


def _ms(values: list[float], sign: bool = False) -> str:
    mean = 100 * statistics.mean(values)
    spread = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:+.1f} ± {spread:.1f}" if sign else f"{mean:.1f} ± {spread:.1f}"


if __name__ == "__main__":
    main(sys.argv[1:])
