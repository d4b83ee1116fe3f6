"""SROIE labels: which match of a gold string among a receipt's tokens a person would label, and how many differ.

Usage: python bench/sroie_labels.py [N] (default 150 receipts). OCR by vnerteach.documents (page cache under
$BENCH_DIR/home, as bench_train.py); the labelling rules are common.label_spans.
"""

from __future__ import annotations

import sys

from common import SROIE_FIELDS as FIELDS, label_spans, match_windows, sroie_keys, sroie_tasks


def main(argv: list[str]) -> None:
    """OCR the receipts, label each by first match and by choose_window, print how many labels changed."""
    keys = sroie_keys(int(argv[0]) if argv else 150)
    tasks, gold = sroie_tasks(keys)
    changed = {f: 0 for f in FIELDS}
    labelled = {f: 0 for f in FIELDS}
    several = {f: 0 for f in FIELDS}
    examples = []
    for key, task in zip(keys, tasks):
        fields = gold[key]
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
