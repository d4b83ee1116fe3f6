"""Score a pipeline's entities on merged answers: complete inputs fully, binary ones on their judged spans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .merge import Merged, merged_doc


@dataclass
class PRF:
    """True positives, false positives and false negatives, with precision, recall and F1."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def p(self) -> float:
        """Precision."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def r(self) -> float:
        """Recall."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f(self) -> float:
        """F1."""
        return 2 * self.p * self.r / (self.p + self.r) if self.p + self.r else 0.0

    def to_dict(self) -> dict:
        """Scores and counts: p, r, f, gold and predicted entities."""
        return {"p": round(self.p, 4), "r": round(self.r, 4), "f": round(self.f, 4),
                "gold": self.tp + self.fn, "predicted": self.tp + self.fp, "correct": self.tp}


@dataclass
class Scores:
    """Per-label and overall scores, and how they were counted (complete and binary inputs)."""

    per_label: dict[str, PRF]
    complete: int = 0
    binary: int = 0

    @property
    def overall(self) -> PRF:
        """Counts summed over labels (micro average)."""
        total = PRF()
        for c in self.per_label.values():
            total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total

    @property
    def mode(self) -> str:
        """Which scoring was used: complete, binary or mixed."""
        if self.binary and self.complete:
            return "mixed"
        return "binary" if self.binary else "complete"

    def describe(self) -> str:
        """A sentence saying what was scored and how."""
        parts = []
        if self.complete:
            parts.append(f"{self.complete} complete annotations scored fully (every predicted entity counts)")
        if self.binary:
            parts.append(f"{self.binary} binary answers scored on their accepts and rejects only "
                         "(a prediction counts when an annotator judged it)")
        return "; ".join(parts) or "nothing scored"

    def to_dict(self) -> dict:
        """JSON-ready scores, spaCy-style keys included (ents_p, ents_r, ents_f, ents_per_type)."""
        total = self.overall
        return {"ents_p": round(total.p, 4), "ents_r": round(total.r, 4), "ents_f": round(total.f, 4),
                "ents_per_type": {label: c.to_dict() for label, c in sorted(self.per_label.items())},
                "gold": total.tp + total.fn, "predicted": total.tp + total.fp, "mode": self.mode,
                "complete_inputs": self.complete, "binary_inputs": self.binary}


def evaluate(nlp: Any, merged: Iterable[Merged], batch_size: int = 128) -> Scores:
    """Score the pipeline's entities on merged inputs: complete ones fully, binary ones on their judged spans."""
    scores = Scores({})
    items = list(merged)
    docs = (merged_doc(nlp.vocab, m) for m in items)
    for m, doc in zip(items, nlp.pipe(docs, batch_size=batch_size)):
        predicted = {(e.start, e.end, e.label_) for e in doc.ents}
        gold = set(m.ents)
        if m.complete:
            scores.complete += 1
            judged_wrong = predicted - gold
        else:
            scores.binary += 1
            judged_wrong = predicted & set(m.negs)
        for s, e, label in gold:
            c = scores.per_label.setdefault(label, PRF())
            if (s, e, label) in predicted:
                c.tp += 1
            else:
                c.fn += 1
        for s, e, label in judged_wrong:
            scores.per_label.setdefault(label, PRF()).fp += 1
    for label in nlp.get_pipe("ner").labels:
        scores.per_label.setdefault(label, PRF())
    return scores
