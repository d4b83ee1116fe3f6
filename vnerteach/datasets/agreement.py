"""Inter-annotator agreement per label: span-level F1 between annotators, pairwise, micro-averaged.

For every input at least two annotators annotated completely, and every pair of them, a span
(start, end, label) both marked agrees and one only one of them marked disagrees. Summed over
pairs and inputs per label, F1 = 2 * agreed / (2 * agreed + disagreed), which is the same
whichever annotator of a pair is taken as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Iterable, Mapping

Span3 = tuple[int, int, str]


@dataclass
class LabelAgreement:
    """One label's (or every label's) agreement: spans agreed and disagreed on, over how many inputs and annotators."""

    label: str | None  # None: all labels
    inputs: int = 0
    annotators: int = 0
    agreed: int = 0  # spans both annotators of a pair marked, counted per pair
    disagreed: int = 0  # spans one annotator of a pair marked and the other did not

    @property
    def f1(self) -> float | None:
        """Span-level F1 between annotators; None with no span marked at all."""
        total = 2 * self.agreed + self.disagreed
        return 2 * self.agreed / total if total else None


@dataclass
class Agreement:
    """Agreement per label and overall, with how many inputs could be compared and how many could not."""

    labels: list[LabelAgreement] = field(default_factory=list)
    overall: LabelAgreement = field(default_factory=lambda: LabelAgreement(None))
    pairs: int = 0  # annotator pairs compared, counted per input
    single: int = 0  # inputs only one annotator annotated: nothing to compare


def agreement(annotations: Mapping[int, Mapping[str, Iterable[Span3]]]) -> Agreement:
    """Agreement from each input's complete annotations by annotator: ``{input: {annotator: spans}}``."""
    per_label: dict[str, LabelAgreement] = {}
    label_inputs: dict[str, set[int]] = {}
    label_annotators: dict[str, set[str]] = {}
    result = Agreement()
    compared_inputs, compared_annotators = 0, set()
    for key, by_annotator in annotations.items():
        spans = {who: set(s) for who, s in by_annotator.items()}
        if len(spans) < 2:
            result.single += 1
            continue
        compared_inputs += 1
        compared_annotators.update(spans)
        for who, own in spans.items():
            for _s, _e, label in own:
                label_inputs.setdefault(label, set()).add(key)
                label_annotators.setdefault(label, set()).add(who)
        for a, b in combinations(sorted(spans), 2):
            result.pairs += 1
            for span in spans[a] | spans[b]:
                entry = per_label.setdefault(span[2], LabelAgreement(span[2]))
                if span in spans[a] and span in spans[b]:
                    entry.agreed += 1
                else:
                    entry.disagreed += 1
    for label in sorted(per_label):
        entry = per_label[label]
        entry.inputs, entry.annotators = len(label_inputs[label]), len(label_annotators[label])
        result.labels.append(entry)
    result.overall = LabelAgreement(None, compared_inputs, len(compared_annotators),
                                    sum(e.agreed for e in result.labels), sum(e.disagreed for e in result.labels))
    return result
