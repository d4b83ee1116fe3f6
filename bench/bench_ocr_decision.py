"""The OCR engine decision on the figure a user gets: per engine, SROIE field ceilings, `predict --fields` exact match,
word recall and CPU seconds per page.

    python bench/bench_ocr_decision.py                       # every engine, 150 receipts, 5 folds
    python bench/bench_ocr_decision.py --engines rapidocr,ppocrv5 --gaps 0.3,0.4,0.5   # word-gap setting
    python bench/bench_ocr_decision.py --rotated 30          # + the first 30 receipts turned 90/180/270 degrees
    python bench/bench_ocr_decision.py --funsd ppocrv5 --engines ppocrv5 --folds 0   # FUNSD entity F1, OCR vs gold words

Engines: Tesseract (Debian's eng; page segmentation modes 3 (vnerteach's), 4, 6, and mode 3 on a page scaled
to a fixed text height, `--preprocess upscale`), RapidOCR (PP-OCRv4, `vnerteach[rapidocr]`) and PP-OCRv5
(vnerteach's default), each read by vnerteach.documents' own code (words, then page_task's tokens). Each page
is read once per engine in a worker process on one thread; its CPU seconds count the process and the
processes it waited for (Tesseract's), engine loading not included. Raw reads are kept under
BENCH_DIR/ocr-decision, so a second run only re-makes words and re-trains.

Field ceiling: the share of receipts whose gold value is the text of a window of page tokens,
normalised (`field_scores.field_match`: spaces and case ignored) and strict (whitespace collapsed, case kept).
End figure: 5-fold cross-validation over the 150 receipts; per fold a layout model is trained on the
other 120 (labels from common.label_spans on that engine's tokens; BENCH_SROIE_EPOCHS, default 10)
and `fields.best_fields` (what `predict --fields` runs) extracts the four fields of the 30 held out:
exact match, normalised and strict. Word recall as bench_ocr_engines.py.

FUNSD (--funsd ENGINE): the 149 training forms read by the engine; each OCR token takes the label of the
gold entity its box mostly lies in (spans: runs of tokens of one entity). A layout model is trained on 119
forms' OCR tokens and another on their gold words (bench_train's set-up, BENCH_FUNSD_EPOCHS default 20,
seeds BENCH_SEEDS default 0,1,2); entity F1 on the 30 held out: for OCR, a predicted span is right when it
is exactly the tokens of one gold entity with its label, and a gold entity OCR read nothing of is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench_ocr_engines import recall, sroie_pages
from common import FUNSD_LABELS, SROIE_FIELDS as FIELDS, WORK, funsd_folder, funsd_tasks, label_spans, own_cpu, spread

ENGINES = {"tesseract": ("tesseract", "--psm 3", ()), "tesseract-psm4": ("tesseract", "--psm 4", ()),
           "tesseract-psm6": ("tesseract", "--psm 6", ()),
           "tesseract-upscale": ("tesseract", "--psm 3", ("upscale",)),
           "rapidocr": ("rapidocr", "", ()), "ppocrv5": ("ppocrv5", "", ())}
CACHE = WORK / "ocr-decision"
NUMBER_GAP = __import__("vnerteach.documents.lines", fromlist=["NUMBER_GAP"]).NUMBER_GAP  # as shipped


def read(engine: str, image: str, turn: int = 0) -> dict:
    """In a worker: one page read by one engine (turned by `turn` degrees first): its raw read and CPU seconds."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from PIL import Image

    from vnerteach.documents import preprocess

    kind, config, steps = ENGINES[engine]
    with Image.open(image) as opened:
        page = opened.convert("RGB")
    if turn:
        page = page.rotate(turn, expand=True)
    if kind == "rapidocr":
        from vnerteach.documents.rapid import line_of, load_engine
        load_engine()
    elif kind == "ppocrv5":
        from vnerteach.documents.ppocr import load_engine, read_lines
        load_engine()
    start = own_cpu()
    if kind == "tesseract":
        from vnerteach.documents.ocr import ocr_words

        made = preprocess.apply(page, steps)
        words = [w._replace(bbox=tuple(round(v / made.scale) for v in w.bbox))
                 for w in ocr_words(made.image, "eng", config=config)]
        raw = {"words": [tuple(w) for w in words]}
    elif kind == "rapidocr":
        import numpy as np

        found, _ = load_engine()(np.asarray(page), return_word_box=True)
        raw = {"lines": [line_of(*item) for item in found or []]}
    else:
        raw = {"lines": read_lines(load_engine(), page)}
    return {**raw, "cpu": own_cpu() - start, "width": page.width, "height": page.height}


def raw_reads(engines: list[str], pages: list[dict], workers: int, turns=(0,)) -> dict:
    """(engine, page index, turn) -> raw read, from BENCH_DIR's store or read now in `workers` processes."""
    out, todo = {}, []
    for engine in engines:
        for i, page in enumerate(pages):
            for turn in turns:
                path = CACHE / engine / f"{Path(page['image']).stem}-{turn}.pkl"
                if path.exists():
                    out[(engine, i, turn)] = pickle.loads(path.read_bytes())
                else:
                    todo.append((engine, i, turn, path))
    if todo:
        print(f"reading {len(todo)} pages ({workers} at once) ...", flush=True)
        with ProcessPoolExecutor(workers) as pool:
            futures = {job: pool.submit(read, job[0], pages[job[1]]["image"], job[2]) for job in todo}
            for (engine, i, turn, path), future in futures.items():
                raw = future.result()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(raw))
                out[(engine, i, turn)] = raw
    return out


def page_of(raw: dict, image: str, gap: str | None, turn: int = 0) -> dict:
    """The task vnerteach makes of a raw read: words (lines cut at `gap`, "G" or "GxN" for lines.NUMBER_GAP N),
    then page_task's tokens."""
    from PIL import Image

    from vnerteach.documents import lines
    from vnerteach.documents.lines import GAP, ink_of, words_from_lines
    from vnerteach.documents.results import PageResult, Word
    from vnerteach.documents.task import page_task

    if "words" in raw:
        words = [Word(*w) for w in raw["words"]]
    else:
        with Image.open(image) as opened:
            page = opened.convert("RGB").rotate(turn, expand=True) if turn else opened.convert("RGB")
        share, _, number = (gap or "").partition("x")
        lines.NUMBER_GAP = float(number) if number else NUMBER_GAP
        words = words_from_lines(raw["lines"], ink_of(page), float(share) if share else GAP)
    sha = hashlib.sha256(f"{image}#{turn}".encode()).hexdigest()  # a page of its own to merge_answers
    result = PageResult(image, 1, 1, raw["width"], raw["height"], None, True, sha, "", "image", words=words)
    return page_task(result)


def ceilings(task: dict, fields: dict) -> tuple[dict, dict]:
    """Per field: is the gold value the text of a window of tokens, normalised and strict."""
    from vnerteach.nlp.field_scores import normalise

    tokens, text = task["tokens"], task["text"]
    norm_hit, strict_hit = {}, {}
    for field in FIELDS:
        gold = fields[field]
        want_n, want_s = normalise(gold), " ".join(gold.split())
        n = s = False
        for i in range(len(tokens)):
            for j in range(i, min(len(tokens), i + 60)):
                window = text[tokens[i]["start"]:tokens[j]["end"]]
                value = normalise(window)
                if len(value) > len(want_n):
                    break
                if value == want_n:
                    n = True
                    s = s or " ".join(window.split()) == want_s
        norm_hit[field], strict_hit[field] = n and bool(want_n), s and bool(want_n)
    return norm_hit, strict_hit


def fold_run(engine: str, fold: int, folds: int, epochs: int, tasks: list[dict], fields: list[dict], seed: int = 0) -> dict:
    """One fold (worker process): train on the other folds' receipts, extract the fields of this fold's."""
    import spacy

    from vnerteach.nlp.field_scores import field_match
    from vnerteach.nlp.fields import best_fields
    from vnerteach.nlp.merge import merge_answers
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import blank_model, fit

    held = [i for i in range(len(tasks)) if i % folds == fold]
    train = [t for i, t in enumerate(tasks) if i % folds != fold]
    labels = [f.upper() for f in FIELDS]
    settings = Settings(n_iter=epochs, seed=seed)
    tokenizer = spacy.blank("en")
    nlp = blank_model("en", labels, True, settings)
    fit(nlp, merge_answers(train, tokenizer_nlp=tokenizer).merged,
        merge_answers([tasks[i] for i in held], tokenizer_nlp=tokenizer).merged, settings)
    out = {"normalised": dict.fromkeys(FIELDS, 0), "strict": dict.fromkeys(FIELDS, 0), "n": len(held)}
    for i in held:
        found = best_fields(nlp, [tasks[i]], labels)
        for field in FIELDS:
            got = found.get(field.upper())
            gold = fields[i][field]
            out["normalised"][field] += bool(got) and field_match(got.text, gold)
            out["strict"][field] += bool(got) and " ".join(got.text.split()) == " ".join(gold.split())
    return out


def labelled(task: dict, fields: dict, key: str) -> dict:
    """A receipt's task with the gold fields as spans, as an accepted ner.manual answer."""
    from vnerteach.tasks import set_hashes

    task = dict(task, spans=label_spans(task["tokens"], fields), answer="accept", _view_id="ner_manual")
    task["meta"] = dict(task["meta"], key=key, path=key)
    return set_hashes(task)


def pct(n: float, total: int) -> str:
    return f"{100 * n / max(total, 1):5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, from " + ", ".join(ENGINES))
    ap.add_argument("--receipts", type=int, default=150)
    ap.add_argument("--gaps", default="", help="word-gap shares to compare for the line engines (default: lines.GAP)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds of the end figure (0: none)")
    ap.add_argument("--end", default="", help="engines whose end figure is measured (default: all asked)")
    ap.add_argument("--rotated", type=int, default=0, help="also read the first N receipts turned 90/180/270")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--funsd", default="", help="FUNSD entity F1 with this engine's words against the gold words")
    ap.add_argument("--funsd-words", action="store_true", help="word recall and CPU s per page of --engines on FUNSD")
    ap.add_argument("--funsd-ceiling", default="", help="FUNSD entities an engine's words can express at all")
    args = ap.parse_args()
    if args.funsd:
        return funsd(args.funsd, args.workers)
    if args.funsd_ceiling:
        return funsd_ceiling(args.funsd_ceiling, args.workers)
    if args.funsd_words:
        return funsd_words([e for e in args.engines.split(",") if e], args.workers)
    engines = [e for e in args.engines.split(",") if e]
    pages = sroie_pages(args.receipts)
    raws = raw_reads(engines, pages, args.workers)
    gaps = [g for g in args.gaps.split(",") if g] or [None]
    epochs = int(os.environ.get("BENCH_SROIE_EPOCHS", "10"))
    end_engines = [e for e in (args.end.split(",") if args.end else engines) if e]
    n = len(pages)
    print(f"{n} SROIE receipts; field ceiling normalised / strict (%); word recall; CPU s per page (one thread)")
    print(f"{'engine':<22} " + " ".join(f"{f:>13s}" for f in FIELDS) + f" {'mean':>13s} {'recall':>7s} {'CPU s':>6s}")
    results = {}
    for engine in engines:
        for gap in (gaps if ENGINES[engine][0] != "tesseract" else [None]):
            name = engine + (f" gap {gap}" if gap is not None else "")
            tasks, hits_n, hits_s, hit, total = [], dict.fromkeys(FIELDS, 0), dict.fromkeys(FIELDS, 0), 0, 0
            for i, page in enumerate(pages):
                task = page_of(raws[(engine, i, 0)], page["image"], gap)
                tasks.append(labelled(task, page["fields"], Path(page["image"]).stem))
                got_n, got_s = ceilings(task, page["fields"])
                for f in FIELDS:
                    hits_n[f] += got_n[f]
                    hits_s[f] += got_s[f]
                h, t = recall(page["gold"], task["text"].split())  # the engine's words, as vnerteach joins them
                hit, total = hit + h, total + t
            cpu = sum(raws[(engine, i, 0)]["cpu"] for i in range(n)) / n
            results[name] = {"engine": engine, "tasks": tasks,
                             "ceiling": (sum(hits_n.values()) / 4, sum(hits_s.values()) / 4)}
            cells = " ".join(f"{pct(hits_n[f], n)} / {pct(hits_s[f], n)}" for f in FIELDS)
            mean = f"{pct(sum(hits_n.values()) / 4, n)} / {pct(sum(hits_s.values()) / 4, n)}"
            print(f"{name:<22} {cells} {mean:>13s} {hit / total:7.3f} {cpu:6.2f}", flush=True)
    if args.rotated:
        rotated_ceilings(engines, pages[:args.rotated], args.workers)
    if not args.folds:
        return
    import multiprocessing

    seeds = [int(x) for x in os.environ.get("BENCH_SEEDS", "0").split(",")]
    jobs = [(name, fold, seed) for name, r in results.items() if r["engine"] in end_engines
            for seed in seeds for fold in range(args.folds)]
    print(f"\nend figure: {args.folds}-fold, trained on {n - n // args.folds} receipts per fold, {epochs} epochs, "
          f"seeds {seeds}; fields.best_fields exact match on every receipt held out, normalised / strict (%), "
          "mean over seeds", flush=True)
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {job: pool.submit(fold_run, results[job[0]]["engine"], job[1], args.folds, epochs,
                                    results[job[0]]["tasks"], [p["fields"] for p in pages], job[2]) for job in jobs}
        done = {job: f.result() for job, f in futures.items()}
    print(f"{'engine':<22} " + " ".join(f"{f:>13s}" for f in FIELDS) + f" {'mean':>13s}   per seed (normalised)")
    for name in results:
        runs = [done[job] for job in jobs if job[0] == name]
        if not runs:
            continue
        total = n * len(seeds)
        cells = " ".join(f"{pct(sum(r['normalised'][f] for r in runs), total)} / "
                         f"{pct(sum(r['strict'][f] for r in runs), total)}" for f in FIELDS)
        mean_n = sum(sum(r["normalised"].values()) for r in runs) / 4
        mean_s = sum(sum(r["strict"].values()) for r in runs) / 4
        per_seed = [100 * sum(sum(done[(name, fold, seed)]["normalised"].values()) for fold in range(args.folds)) / 4 / n
                    for seed in seeds]
        print(f"{name:<22} {cells} {pct(mean_n, total)} / {pct(mean_s, total)}   {spread(per_seed)}", flush=True)


def rotated_ceilings(engines: list[str], pages: list[dict], workers: int) -> None:
    """The field ceiling of receipts turned by 90/180/270 degrees and read through vnerteach.documents (upright first)."""
    print(f"\nrotated: the first {len(pages)} receipts turned, read as vnerteach reads a page (normalised ceiling %)")
    from PIL import Image

    from vnerteach.documents import DocumentOptions, iter_documents, page_task

    folder = CACHE / "rotated"
    folder.mkdir(parents=True, exist_ok=True)
    for engine in engines:
        kind = ENGINES[engine][0]
        row = []
        for turn in (0, 90, 180, 270):
            paths = []
            for page in pages:
                path = folder / f"{Path(page['image']).stem}-{turn}.png"
                if not path.exists():
                    with Image.open(page["image"]) as opened:
                        opened.convert("RGB").rotate(turn, expand=True).save(path)
                paths.append(path)
            options = DocumentOptions(ocr_engine=kind, workers=workers, cache_dir=str(CACHE / f"home-{kind}"))
            hits = 0
            for page, result in zip(pages, iter_documents(paths, options)):
                if result.ok:
                    hits += sum(ceilings(page_task(result), page["fields"])[0].values())
            row.append(f"{turn:>3}° {pct(hits / 4, len(pages))}")
        print(f"{engine:<22} " + "   ".join(row), flush=True)


def funsd_forms() -> list[dict]:
    """FUNSD's training forms: image, gold entities (label, word boxes) and the gold-word task (bench_train)."""
    root = funsd_folder()
    forms = []
    for path, task in zip(sorted((root / "annotations").glob("*.json")), funsd_tasks()):
        entities = [(e["label"].upper(), [w["box"] for w in e["words"] if w["text"].strip()])
                    for e in json.loads(path.read_text())["form"]]
        forms.append({"image": str(root / "images" / f"{path.stem}.png"), "gold_task": task,
                      "entities": [(label, boxes) for label, boxes in entities if boxes]})
    return forms


def _inside(box, boxes) -> float:
    """The largest share of box's area that lies in one of boxes."""
    x0, y0, x1, y1 = box
    area = max((x1 - x0) * (y1 - y0), 1)
    return max((max(0, min(x1, b[2]) - max(x0, b[0])) * max(0, min(y1, b[3]) - max(y0, b[1])) / area
                for b in boxes), default=0.0)


def projected(task: dict, entities: list) -> tuple[list[int | None], list[dict]]:
    """Each OCR token's gold entity (index, or None), and the spans of runs of tokens of one labelled entity."""
    owner: list[int | None] = []
    for token in task["tokens"]:
        shares = [_inside(token["bbox"], boxes) for _, boxes in entities]
        best = max(range(len(shares)), key=shares.__getitem__) if shares else None
        owner.append(best if best is not None and shares[best] >= 0.5 else None)
    spans, i = [], 0
    while i < len(owner):
        j = i
        while j + 1 < len(owner) and owner[j + 1] == owner[i]:
            j += 1
        if owner[i] is not None and entities[owner[i]][0] != "OTHER":
            tokens = task["tokens"]
            spans.append({"start": tokens[i]["start"], "end": tokens[j]["end"], "token_start": i, "token_end": j,
                          "label": entities[owner[i]][0]})
        i = j + 1
    return owner, spans


def funsd_words(engines: list[str], workers: int) -> None:
    """Word recall and CPU seconds per page of each engine on FUNSD's 149 training forms."""
    from bench_ocr_engines import funsd_pages

    forms = funsd_pages(1000)
    raws = raw_reads(engines, forms, workers)
    print(f"FUNSD: {len(forms)} forms; word recall (gold words, as bench_ocr_engines.py); CPU s per page (one thread)")
    for engine in engines:
        hit = total = 0
        for i, form in enumerate(forms):
            h, t = recall(form["gold"], page_of(raws[(engine, i, 0)], form["image"], None)["text"].split())
            hit, total = hit + h, total + t
        cpu = sum(raws[(engine, i, 0)]["cpu"] for i in range(len(forms))) / len(forms)
        print(f"  {engine:<22} recall {hit / total:.3f}  CPU s {cpu:.2f}", flush=True)


def funsd_ceiling(engine: str, workers: int) -> None:
    """How many FUNSD entities an engine's tokens can express: read at all, and as one run of tokens of their own
    (what funsd_run's exact match needs); the entity F1 a perfect model reaches on them, all forms and held out."""
    forms = funsd_forms()
    raws = raw_reads([engine], forms, workers)
    for name, chosen in (("all 149 forms", range(len(forms))), ("30 held out", range(119, len(forms)))):
        wanted = read = alone = 0
        for i in chosen:
            task = page_of(raws[(engine, i, 0)], forms[i]["image"], None)
            owner, _ = projected(task, forms[i]["entities"])
            for e, (label, _) in enumerate(forms[i]["entities"]):
                if label == "OTHER":
                    continue
                wanted += 1
                mine = [k for k, o in enumerate(owner) if o == e]
                read += bool(mine)
                alone += bool(mine) and mine == list(range(mine[0], mine[-1] + 1))
        recall = alone / max(wanted, 1)
        print(f"FUNSD {name}, {engine}: {wanted} entities; with a token {100 * read / wanted:.1f}%; as one run of "
              f"their own tokens {100 * recall:.1f}%; a perfect model's entity F1 {100 * 2 * recall / (1 + recall):.1f}",
              flush=True)


def funsd_run(kind: str, seed: int, epochs: int, train: list[dict], dev: list[dict], forms: list[dict]) -> float:
    """One FUNSD model (worker process): entity F1 on the held-out forms against every gold entity."""
    import spacy

    from vnerteach.nlp.fields import page_entities
    from vnerteach.nlp.merge import merge_answers
    from vnerteach.nlp.pipeline import Settings
    from vnerteach.nlp.training import blank_model, fit

    labels = FUNSD_LABELS
    settings = Settings(n_iter=epochs, seed=seed)
    tokenizer = spacy.blank("en")
    nlp = blank_model("en", labels, True, settings)
    result = fit(nlp, merge_answers(train, tokenizer_nlp=tokenizer).merged,
                 merge_answers(dev, tokenizer_nlp=tokenizer).merged, settings)
    if kind == "gold":
        return 100 * result.best.scores.overall.f
    tp = fp = fn = 0
    for task, form, found in zip(dev, forms, page_entities(nlp, dev)):
        owner = task["meta"]["owner"]
        wanted = {i for i, (label, _) in enumerate(form["entities"]) if label != "OTHER"}
        right = set()
        for f in found:
            ids = set(owner[f.token_start:f.token_end + 1])
            entity = next(iter(ids)) if len(ids) == 1 else None
            exact = entity is not None and entity in wanted and form["entities"][entity][0] == f.label and \
                [k for k, o in enumerate(owner) if o == entity] == list(range(f.token_start, f.token_end + 1))
            if exact and entity not in right:
                right.add(entity)
                tp += 1
            else:
                fp += 1
        fn += len(wanted - right)
    return 100 * 2 * tp / max(2 * tp + fp + fn, 1)


def funsd(engine: str, workers: int) -> None:
    """FUNSD entity F1 with an engine's words against the gold words: 119 forms to train, the last 30 held out."""
    import multiprocessing

    from vnerteach.tasks import set_hashes

    forms = funsd_forms()
    raws = raw_reads([engine], forms, workers)
    tasks = []
    for i, form in enumerate(forms):
        task = page_of(raws[(engine, i, 0)], form["image"], None)
        owner, spans = projected(task, form["entities"])
        task.update(spans=spans, answer="accept", _view_id="ner_manual")
        task["meta"] = dict(task["meta"], owner=owner, path=form["image"])
        tasks.append(set_hashes(task))
    epochs = int(os.environ.get("BENCH_FUNSD_EPOCHS", "20"))
    seeds = [int(x) for x in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
    gold = [f["gold_task"] for f in forms]
    jobs = [(kind, seed) for kind in ("gold", engine) for seed in seeds]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {(kind, seed): pool.submit(funsd_run, kind, seed, epochs, (gold if kind == "gold" else tasks)[:119],
                                             (gold if kind == "gold" else tasks)[119:], forms[119:])
                   for kind, seed in jobs}
        done = {job: f.result() for job, f in futures.items()}
    words = sum(len(t["tokens"]) for t in tasks) / len(tasks)
    cpu = sum(raws[(engine, i, 0)]["cpu"] for i in range(len(forms))) / len(forms)
    print(f"FUNSD: 149 forms read by {engine} ({words:.0f} tokens a form, {cpu:.2f} CPU s a form); "
          f"119 to train, 30 held out; {epochs} epochs; entity F1, seeds {seeds}")
    for kind in ("gold", engine):
        values = [done[(kind, seed)] for seed in seeds]
        print(f"  {('gold words' if kind == 'gold' else engine + ' words'):<20} {spread(values)}  "
              + " ".join(f"{v:.1f}" for v in values), flush=True)


if __name__ == "__main__":
    main()
