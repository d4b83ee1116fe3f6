"""SROIE labels: which match of a gold string among a receipt's tokens a person would label, and how many differ.

Usage: python bench/sroie_labels.py [N] (default 150 receipts). OCR by vnerteach.documents (page cache under
$BENCH_DIR/home, as bench_train.py); data from bench/data.py's data_dir() (never copied).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from data import data_dir  # noqa: E402  (bench/ is the script's folder)

FIELDS = ("company", "date", "address", "total")
# Words (or their starts) on the line of a value that say what it is (a SUB TOTAL or the CASH paid is not the total).
KEYWORDS = {"total": re.compile(r"(GRAND)?TOTAL|AMOUNT|AMT|JUMLAH|NETT?|ROUNDED|DUE|PAYABLE"),
            "date": re.compile(r"DATE|TARIKH|TKH")}
NOT_KEYWORD = re.compile(r"SUB|SUBTOTAL|ITEMS?|QTY|CHANGE|CASH|TENDERED|PAID|VISA|CARD")
AMOUNT = re.compile(r"\d+[.,]\d\d")


def norm(text: str) -> str:
    """Upper case without spaces: how gold strings and tokens are compared."""
    return "".join(text.upper().split())


def match_windows(words: list[str], gold: str) -> list[tuple[int, int]]:
    """Token windows [start, end) equal to the gold string (spaces ignored) in page order, else the closest."""
    import difflib

    target, n_gold = norm(gold), max(1, len(gold.split()))
    exact: set[tuple[int, int]] = set()
    best, best_ratio = None, 0.8
    for size in range(1, n_gold * 3 + 4):
        for start in range(0, len(words) - size + 1):
            text = norm("".join(words[start:start + size]))
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
    return [norm(t["text"]) for i, t in enumerate(tokens)
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
    for field in FIELDS:
        windows = match_windows(words, fields[field]) if fields.get(field) else []
        window = choose_window(tokens, windows, field) if choose else (windows[0] if windows else None)
        if window and not any(s["token_start"] < window[1] and window[0] <= s["token_end"] for s in spans):
            s, e = window
            spans.append({"start": tokens[s]["start"], "end": tokens[e - 1]["end"], "token_start": s,
                          "token_end": e - 1, "label": field.upper()})
    return spans


def main(argv: list[str]) -> None:
    """OCR the receipts, label each by first match and by choose_window, print how many labels changed."""
    from vnerteach.documents import DocumentOptions, iter_documents, page_task

    root = data_dir() / "sroie"
    keys = sorted(p.stem for p in (root / "img").glob("*.jpg"))[:int(argv[0]) if argv else 150]
    os.environ.setdefault("VNERTEACH_HOME", str(Path(os.environ.get("BENCH_DIR", "/tmp/vnerteach-bench")) / "home"))
    results = iter_documents([root / "img" / f"{k}.jpg" for k in keys], DocumentOptions(workers=2,
                             cache_dir=str(Path(os.environ["VNERTEACH_HOME"]) / "cache")))
    changed = {f: 0 for f in FIELDS}
    labelled = {f: 0 for f in FIELDS}
    several = {f: 0 for f in FIELDS}
    examples = []
    for key, result in zip(keys, results):
        task = page_task(result)
        fields = json.loads((root / "entities" / f"{key}.txt").read_text())
        words = [t["text"] for t in task["tokens"]]
        first = {s["label"]: s for s in label_spans(task["tokens"], fields, choose=False)}
        chosen = {s["label"]: s for s in label_spans(task["tokens"], fields)}
        for field in FIELDS:
            label = field.upper()
            labelled[field] += label in chosen
            several[field] += len(match_windows(words, fields[field])) > 1 if fields.get(field) else 0
            a, b = first.get(label), chosen.get(label)
            if (a and a["start"]) != (b and b["start"]):
                changed[field] += 1
                if len(examples) < 5 and b:
                    examples.append(f"  {key} {label} {fields[field]!r}: first match at character "
                                    f"{a and a['start']}, chosen at {b['start']}, after "
                                    f"{task['text'][max(0, b['start'] - 30):b['start']]!r}")
    print(f"SROIE labels over {len(keys)} receipts (vnerteach OCR, page_task tokens):")
    for field in FIELDS:
        print(f"  {field:8s} labelled {labelled[field]:3d}, gold string found more than once {several[field]:3d}, "
              f"label changed vs first match {changed[field]:3d}")
    print(f"  total changed: {sum(changed.values())} of {sum(labelled.values())} labels")
    print("\n".join(examples))


if __name__ == "__main__":
    main(sys.argv[1:])
