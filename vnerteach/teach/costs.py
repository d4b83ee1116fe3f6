"""The annotator's cost model: seconds a person spends on each action, for ner.correct's ranking and the benchmarks.

Fixed: bench/annotator_time.py's results are only comparable under the same costs.
"""

from __future__ import annotations

BINARY_S = 2.0  # one accept/reject decision in ner.teach
READ_SENTENCE_S = 3.0  # reading a sentence before annotating it completely (ner.manual, ner.correct)
READ_PAGE_S = 6.0  # reading a page before annotating it completely
EDIT_S = 2.5  # a span added, removed or relabelled; a boundary fix counts as one
KEEP_S = 0.5  # a pre-filled span kept as suggested


def read_s(task: dict) -> float:
    """Seconds to read a task before annotating it: a page's when its tokens have boxes, else a sentence's."""
    boxed = any(isinstance(t, dict) and t.get("bbox") for t in task.get("tokens") or [])
    return READ_PAGE_S if boxed else READ_SENTENCE_S
