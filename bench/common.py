"""What the benches share: where the data is, commands timed over their whole process tree, the corpora's loaders.

The data (CoNLL-2003, FUNSD, SROIE) is never copied into the repository: $VNERTEACH_BENCH_DATA, else
../shared/data beside the repository root. Work files go to $BENCH_DIR (default /tmp/vnerteach-bench).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the tests' helper package (tests.helpers: served recipes, PostgreSQL, synthetic
    sys.path.insert(1, str(ROOT))  # pages) is the benches' too: one copy, imported as a package
DATA_ENV = "VNERTEACH_BENCH_DATA"
WORK = Path(os.environ.get("BENCH_DIR", "/tmp/vnerteach-bench"))
VNERTEACH = [sys.executable, "-m", "vnerteach"]
CONLL_LABELS = ["LOC", "MISC", "ORG", "PER"]
FUNSD_LABELS = ["ANSWER", "HEADER", "QUESTION"]
SROIE_FIELDS = ("company", "date", "address", "total")


def data_dir() -> Path:
    """The benchmark data folder (conll2003/, funsd/, sroie/); exits with a message when it is missing."""
    path = Path(os.environ.get(DATA_ENV) or ROOT.parent / "shared" / "data")
    if not path.is_dir():
        sys.exit(f"Benchmark data not found at {path}: set ${DATA_ENV} to the folder with conll2003/, funsd/, sroie/")
    return path


# --- CPU seconds of a command's whole process tree ------------------------------------------------------------


class Ran(NamedTuple):
    """A finished command: wall seconds, CPU seconds of its whole process tree, peak RSS MB of its main process."""

    wall: float
    cpu: float
    peak_mb: float


def own_cpu() -> float:
    """CPU seconds of this process and of every descendant it (or they, recursively) waited for."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _children() -> set[int]:
    """This process's child processes (zombies included), from /proc."""
    me, found = os.getpid(), set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(entry.name))
    return found


def _adopt_orphans() -> None:
    """Become the reaper of orphaned descendants (PR_SET_CHILD_SUBREAPER), so their CPU reaches RUSAGE_CHILDREN.

    A multiprocessing forkserver and its OCR workers outlive `predict`'s main process or are never waited
    for by it: without this their CPU goes to init and os.wait4 of the command sees none of it."""
    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def run(args: list, env: dict | None = None, log: Path | None = None, stdout=None) -> Ran:
    """Run a command (environment: os.environ updated by ``env``) and wait for every process it started.

    CPU: RUSAGE_CHILDREN before and after, once the command and all its descendants were reaped (orphans
    come to this process, see _adopt_orphans). Output to ``log`` (stdout and stderr), else to ``stdout``
    (default: discarded). Exits with the command's error output when it fails."""
    _adopt_orphans()
    mine = _children()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    errors = open(log, "w+") if log else tempfile.TemporaryFile("w+")
    start = time.perf_counter()
    with errors:
        proc = subprocess.Popen([str(a) for a in args], env={**os.environ, **(env or {})},
                                stdout=errors if log else (stdout or subprocess.DEVNULL), stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        while left := _children() - mine:  # descendants that outlived it, handed to us
            for pid in left:
                os.waitpid(pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"failed: {' '.join(map(str, args))}\n{errors.read()[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Ran(wall, cpu, usage.ru_maxrss / 1024)


def fresh_db(name: str) -> dict:
    """Environment for a new private database (and home) under the work folder."""
    path = WORK / f"{name}.db"
    if path.exists():
        path.unlink()
    return {"VNERTEACH_DB": str(path), "VNERTEACH_HOME": str(WORK / "home")}


def store_tasks(env: dict, dataset: str, tasks) -> None:
    """Add tasks to a dataset of the database ``env`` names (fresh_db)."""
    from vnerteach.store import connect

    with connect(env["VNERTEACH_DB"]) as store:
        store.add_examples(tasks, [dataset])


def spread(values: list[float]) -> str:
    """Mean, standard deviation and range of a few runs' figures."""
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):5.1f} ± {sd:4.1f} [{min(values):5.1f}, {max(values):5.1f}]"


# --- CoNLL-2003 -------------------------------------------------------------------------------------------------

Sentence = tuple[list[str], list[tuple[int, int, str]]]


def conll_sentences(path: Path) -> list[Sentence]:
    """Sentences of a CoNLL-2003 file: words and entity spans (token start, end exclusive, label), IOB1."""
    out, words, tags = [], [], []

    def flush():
        if words:
            ents, start, label = [], None, None
            for i, tag in enumerate(tags + ["O"]):
                kind, _, lab = tag.partition("-")
                if start is not None and (kind in ("O", "B") or lab != label):
                    ents.append((start, i, label))
                    start = None
                if kind in ("I", "B") and start is None:
                    start, label = i, lab
            out.append((list(words), ents))
        words.clear()
        tags.clear()

    for line in Path(path).read_text(encoding="utf8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            flush()
            continue
        parts = line.split()
        words.append(parts[0])
        tags.append(parts[-1])
    flush()
    return out


def _tokens(words: list[str], boxes=None) -> list[dict]:
    """Tokens of words joined by single spaces (with their boxes when given)."""
    tokens, offset = [], 0
    for i, w in enumerate(words):
        tok = {"text": w, "start": offset, "end": offset + len(w), "id": i, "ws": i < len(words) - 1}
        if boxes is not None:
            tok["bbox"] = boxes[i]
        tokens.append(tok)
        offset += len(w) + 1
    return tokens


def task_of(words: list[str], ents, boxes=None, size=None, key=None) -> dict:
    """A tokenized task with its gold entities (character offsets) under ``gold`` (the simulated annotator's input)."""
    from vnerteach.tasks import set_hashes

    tokens = _tokens(words, boxes)
    task = {"text": " ".join(words), "tokens": tokens,
            "gold": [[tokens[s]["start"], tokens[e - 1]["end"], label] for s, e, label in ents]}
    if size is not None:
        task["width"], task["height"] = size
        task["image"] = f"funsd:{key}"
    return set_hashes(task)


def conll_tasks(path: Path) -> list[dict]:
    """CoNLL-2003 sentences as complete ner_manual answers (tokens and spans, accepted)."""
    from vnerteach.tasks import set_hashes

    tasks = []
    for words, ents in conll_sentences(path):
        tokens = _tokens(words)
        spans = [{"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s, "token_end": e - 1,
                  "label": label} for s, e, label in ents]
        tasks.append(set_hashes({"text": " ".join(words), "tokens": tokens, "spans": spans, "answer": "accept",
                                 "_view_id": "ner_manual"}))
    return tasks


# --- FUNSD ------------------------------------------------------------------------------------------------------


def funsd_folder() -> Path:
    """FUNSD's training forms (annotations/, images/)."""
    return data_dir() / "funsd" / "training_data"


def funsd_entities(folder: Path | None = None) -> Iterator[tuple[str, tuple[int, int], list[tuple[str, list[dict]]]]]:
    """FUNSD forms by file name: (name, image size, [(label, its non-blank words)]) in the annotation's order."""
    from PIL import Image

    folder = folder or funsd_folder()
    for path in sorted((folder / "annotations").glob("*.json")):
        form = json.loads(path.read_text(encoding="utf8"))["form"]
        with Image.open(folder / "images" / f"{path.stem}.png") as image:
            size = image.size
        yield path.stem, size, [(e["label"], [w for w in e["words"] if w["text"].strip()]) for e in form]


def funsd_forms(folder: Path | None = None) -> list[dict]:
    """FUNSD forms as page tasks with ``gold`` entities (QUESTION/ANSWER/HEADER; spaces inside a word dropped)."""
    out = []
    for key, size, entities in funsd_entities(folder):
        words, boxes, ents = [], [], []
        for label, ws in entities:
            if not ws:
                continue
            start = len(words)
            words += [w["text"].replace(" ", "") for w in ws]
            boxes += [list(w["box"]) for w in ws]
            if label != "other":
                ents.append((start, len(words), label.upper()))
        out.append(task_of(words, ents, boxes, size, key))
    return out


def funsd_tasks(folder: Path | None = None) -> list[dict]:
    """FUNSD forms as complete ner_manual answers: words stripped, entities as spans ('other' is O)."""
    from vnerteach.tasks import set_hashes

    tasks = []
    for key, (width, height), entities in funsd_entities(folder):
        tokens, spans = [], []
        for label, words in entities:
            if not words:
                continue
            first = len(tokens)
            for w in words:
                start = tokens[-1]["end"] + 1 if tokens else 0
                tokens.append({"text": w["text"].strip(), "start": start, "end": start + len(w["text"].strip()),
                               "id": len(tokens), "ws": True, "bbox": w["box"]})
            if label != "other":
                spans.append({"start": tokens[first]["start"], "end": tokens[-1]["end"], "token_start": first,
                              "token_end": len(tokens) - 1, "label": label.upper()})
        tokens[-1]["ws"] = False
        tasks.append(set_hashes({"text": " ".join(t["text"] for t in tokens), "tokens": tokens, "spans": spans,
                                 "width": width, "height": height, "meta": {"source": key},
                                 "answer": "accept", "_view_id": "ner_manual"}))
    return tasks


# --- SROIE ------------------------------------------------------------------------------------------------------


def sroie_folder() -> Path:
    """SROIE's receipts (img/, box/, entities/)."""
    return data_dir() / "sroie"


def sroie_keys(n: int | None = None) -> list[str]:
    """The first n SROIE receipts by name (all of them without n)."""
    return sorted(p.stem for p in (sroie_folder() / "img").glob("*.jpg"))[:n]


def sroie_image(key: str) -> Path:
    """A receipt's image."""
    return sroie_folder() / "img" / f"{key}.jpg"


def sroie_fields(key: str) -> dict:
    """A receipt's gold fields (entities/: company, date, address, total)."""
    return json.loads((sroie_folder() / "entities" / f"{key}.txt").read_text(encoding="utf-8", errors="replace"))


def sroie_lines(key: str) -> list[list[str]]:
    """A receipt's gold lines (box/): x1..y4 and the text, nine strings each."""
    with open(sroie_folder() / "box" / f"{key}.txt", encoding="utf-8", errors="replace") as f:
        return [parts for parts in (line.rstrip("\n").split(",", 8) for line in f) if len(parts) == 9]


def sroie_tasks(keys: list[str], home: Path | None = None) -> tuple[list[dict], dict[str, dict]]:
    """Receipts OCR'd by vnerteach.documents (its default engine, 2 workers; page cache in ``home``, default
    BENCH_DIR/home) as complete page tasks labelled by label_spans (``meta.key`` the receipt); gold fields per key."""
    from vnerteach.documents import DocumentOptions, iter_documents, page_task
    from vnerteach.tasks import set_hashes

    cache = (home or WORK / "home") / "cache"
    results = iter_documents([sroie_image(k) for k in keys], DocumentOptions(workers=2, cache_dir=str(cache)))
    tasks, gold = [], {}
    for key, result in zip(keys, results):
        task = page_task(result)
        gold[key] = sroie_fields(key)
        task.update(spans=label_spans(task["tokens"], gold[key]), answer="accept", _view_id="ner_manual")
        task["meta"]["key"] = key
        tasks.append(set_hashes(task))
    return tasks, gold


# --- SROIE labels: which match of a gold string a person would label -------------------------------------------

# Words (or their starts) on the line of a value that say what it is (a SUB TOTAL or the CASH paid is not the total).
KEYWORDS = {"total": re.compile(r"(GRAND)?TOTAL|AMOUNT|AMT|JUMLAH|NETT?|ROUNDED|DUE|PAYABLE"),
            "date": re.compile(r"DATE|TARIKH|TKH")}
NOT_KEYWORD = re.compile(r"SUB|SUBTOTAL|ITEMS?|QTY|CHANGE|CASH|TENDERED|PAID|VISA|CARD")
AMOUNT = re.compile(r"\d+[.,]\d\d")


def _norm(text: str) -> str:
    """Upper case without spaces: how gold strings and tokens are compared."""
    return "".join(text.upper().split())


def match_windows(words: list[str], gold: str) -> list[tuple[int, int]]:
    """Token windows [start, end) equal to the gold string (spaces ignored) in page order, else the closest."""
    import difflib

    target, n_gold = _norm(gold), max(1, len(gold.split()))
    exact: set[tuple[int, int]] = set()
    best, best_ratio = None, 0.8
    for size in range(1, n_gold * 3 + 4):
        for start in range(0, len(words) - size + 1):
            text = _norm("".join(words[start:start + size]))
            if text == target:
                exact.add((start, start + size))
            elif not exact and abs(len(text) - len(target)) <= max(3, len(target) // 5):
                ratio = difflib.SequenceMatcher(None, text, target).ratio()
                if ratio > best_ratio:
                    best, best_ratio = (start, start + size), ratio
    if exact:  # the tightest window at each start (a window that holds another holds stray tokens)
        tight = [w for w in exact if not any(o != w and w[0] <= o[0] and o[1] <= w[1] for o in exact)]
        return sorted(tight)
    return [best] if best else []


def _same_line(a: list, b: list) -> bool:
    """Boxes that overlap vertically by at least half the smaller one's height."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1])


def _line(tokens: list[dict], window: tuple[int, int]) -> list[str]:
    """The texts of the other tokens on the window's line."""
    box = tokens[window[0]].get("bbox")
    return [_norm(t["text"]) for i, t in enumerate(tokens)
            if box and t.get("bbox") and not window[0] <= i < window[1] and _same_line(t["bbox"], box)]


def _rank(tokens: list[dict], window: tuple[int, int], field: str) -> tuple[bool, bool]:
    """How likely a person labels this match: by its line's keyword (TOTAL, not SUB TOTAL), then as its only amount."""
    line, keyword = _line(tokens, window), KEYWORDS.get(field)
    keyed = bool(keyword) and any(keyword.match(w) for w in line) and not any(NOT_KEYWORD.fullmatch(w)
                                                                                  for w in line)
    return keyed, keyed and not any(AMOUNT.fullmatch(w) for w in line)


def choose_window(tokens: list[dict], windows: list[tuple[int, int]], field: str) -> tuple[int, int] | None:
    """The match a person would label: the best ranked, the last of them for a total, the first for the others."""
    if not windows:
        return None
    ranks = [_rank(tokens, w, field) for w in windows]
    best = [w for w, r in zip(windows, ranks) if r == max(ranks)]
    return best[-1] if field == "total" else best[0]


def label_spans(tokens: list[dict], fields: dict, choose: bool = True) -> list[dict]:
    """Non-overlapping spans of the gold fields: each the chosen match (the first with ``choose=False``)."""
    words = [t["text"] for t in tokens]
    spans: list[dict] = []
    for field in SROIE_FIELDS:
        windows = match_windows(words, fields[field]) if fields.get(field) else []
        window = choose_window(tokens, windows, field) if choose else (windows[0] if windows else None)
        if window and not any(s["token_start"] < window[1] and window[0] <= s["token_end"] for s in spans):
            s, e = window
            spans.append({"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s,
                          "token_end": e - 1, "label": field.upper()})
    return spans
