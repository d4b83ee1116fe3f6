"""Answers prepared for training: merged per input, checked for something to learn, split into training and evaluation.

Answers are merged per input and split into training and evaluation inputs by a hash of the
input, the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ..errors import InputError, UsageError
from ..tasks import stable_hash
from .merge import Merged, MergeResult, Unusable, merge_answers
from .pipeline import blank_nlp


def in_eval_split(input_hash: int, fraction: float) -> bool:
    """Whether an input is held out: a hash of its input hash decides, the same on every run."""
    return (stable_hash({"eval-split": input_hash}) % 1_000_000) < fraction * 1_000_000


@dataclass
class TrainingData:
    """Merged training and evaluation inputs, their labels, and what merging reported."""

    train: list[Merged]
    dev: list[Merged]
    labels: list[str]
    datasets: dict[str, int]
    eval_datasets: dict[str, int]
    merge: MergeResult
    eval_merge: MergeResult | None = None
    overlap: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def has_boxes(self) -> bool:
        """Whether any training input has token boxes."""
        return any(m.boxes is not None for m in self.train)

    @property
    def conflicts(self) -> int:
        """Contradictory answers dropped in training and evaluation data."""
        return self.merge.conflicts + (self.eval_merge.conflicts if self.eval_merge else 0)

    @property
    def conflict_inputs(self) -> list[int]:
        """Input hashes with a contradiction in training and evaluation data."""
        return self.merge.conflict_inputs + (self.eval_merge.conflict_inputs if self.eval_merge else [])

    @property
    def unusable(self) -> list[Unusable]:
        """Answers left out of training and evaluation data because they cannot be used."""
        return self.merge.unusable + (self.eval_merge.unusable if self.eval_merge else [])


def _counted(store: Any, name: str, counts: dict[str, int]) -> Iterator[dict]:
    for task in store.iter_examples(name):  # the query runs when the merge reaches this dataset
        counts[name] += 1
        yield task


def load_answers(store: Any, datasets: Sequence[str], nlp: Any, labels: Sequence[str] | None = None,
                 strict: bool = False) -> tuple[MergeResult, dict[str, int]]:
    """Merge every answer of the datasets (streamed from the store) and count answers per dataset."""
    counts = {name: 0 for name in datasets}
    for name in datasets:
        store.get_dataset(name)  # DatasetNotFound before anything is read
    streams = {name: _counted(store, name, counts) for name in datasets}
    result = merge_answers(streams, labels, tokenizer_nlp=nlp, strict=strict)
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        raise InputError(f"Dataset{'s' if len(empty) > 1 else ''} {', '.join(repr(n) for n in empty)} "
                         "has no examples: nothing to train on")
    return result, counts


def _check_trainable(result: MergeResult, counts: dict[str, int], what: str) -> None:
    names = ", ".join(f"'{n}'" for n in counts)
    if not result.merged:
        raise InputError(f"{what} {names}: no usable answers among {result.answers} "
                         f"({result.ignored} ignored, {result.rejected_complete} rejected manual tasks, "
                         f"{result.conflicts} contradictions, {len(result.unusable)} unusable"
                         + (f", e.g. {result.unusable[0]}" if result.unusable else "") + ")")
    if not any(m.ents for m in result.merged) and not any(m.complete for m in result.merged):
        raise InputError(f"{what} {names}: only rejected entities ({sum(len(m.negs) for m in result.merged)}), "
                         "no accepted ones: a model cannot learn what an entity is from rejects alone")


def prepare_data(store: Any, datasets: Sequence[str], *, lang: str = "en", eval_dataset: str | None = None,
                 eval_split: float | None = None, labels: Sequence[str] | None = None,
                 strict: bool = False) -> TrainingData:
    """Load, merge and split the answers for training; raise a clear error for unusable data.

    ``eval_split`` (default 0.2) and ``eval_dataset`` are alternatives: naming both is a UsageError.
    With ``strict``, an answer that cannot be used is an InputError instead of being left out.
    """
    if not datasets:
        raise UsageError("Name at least one dataset to train on")
    if eval_dataset and eval_split is not None:
        raise UsageError("--eval-dataset and --eval-split are alternatives: use one of them")
    given = eval_split is not None  # a note names the flag only when the user gave it
    eval_split = 0.2 if eval_split is None else eval_split
    if not 0 <= eval_split < 1:
        raise UsageError(f"--eval-split must be from 0 to below 1, not {eval_split}")
    tokenizer = blank_nlp(lang)
    result, counts = load_answers(store, datasets, tokenizer, strict=strict)
    _check_trainable(result, counts, "Dataset" + ("s" if len(counts) > 1 else ""))
    found = sorted(set().union(*(m.labels() for m in result.merged)))
    if labels:
        missing = [label for label in labels if label not in found]
        if missing:
            raise UsageError(f"--label {', '.join(missing)}: not in the data (labels found: "
                             f"{', '.join(found) or 'none'})")
        restrict_labels(result.merged, set(labels))
        _check_trainable(result, counts, "With --label " + ",".join(labels) + ", dataset" +
                         ("s" if len(counts) > 1 else ""))
    # The --label order, else the order the labels first come in the answers: the model keeps it (meta), so that the
    # app's keys 1-9 mean the same labels in every recipe that uses it.
    first_seen = list(dict.fromkeys(t[2] for m in result.merged for t in (*m.ents, *m.negs)))
    data_labels = list(dict.fromkeys(labels)) if labels else first_seen
    notes: list[str] = []
    if eval_dataset:
        eval_result, eval_counts = load_answers(store, [eval_dataset], tokenizer, strict=strict)
        _check_trainable(eval_result, eval_counts, "Evaluation dataset")
        if labels:
            restrict_labels(eval_result.merged, set(labels))
            if not eval_result.merged:
                raise InputError(f"Evaluation dataset '{eval_dataset}': no answer about --label "
                                 f"{', '.join(labels)} to evaluate on")
        held_out = {m.input_hash for m in eval_result.merged}
        train = [m for m in result.merged if m.input_hash not in held_out]
        overlap = len(result.merged) - len(train)
        if not train:
            raise InputError(f"Every training input is also in the evaluation dataset '{eval_dataset}': "
                             "nothing left to train on")
        return TrainingData(train, eval_result.merged, data_labels, counts, eval_counts, result, eval_result,
                            overlap, notes)
    train = [m for m in result.merged if not in_eval_split(m.input_hash, eval_split)]
    dev = [m for m in result.merged if in_eval_split(m.input_hash, eval_split)]
    if not train:
        raise InputError(f"--eval-split {eval_split} holds out all {len(dev)} inputs: nothing left to train on")
    if eval_split and not dev:
        notes.append(f"--eval-split {eval_split} held out no input of {len(train)}: no evaluation" if given else
                     f"{len(train)} inputs are too few to hold a fifth out for evaluation: trained on all, not evaluated")
    return TrainingData(train, dev, data_labels, counts, {}, result, None, 0, notes)


def restrict_labels(merged: list[Merged], labels: set[str]) -> None:
    """Keep only spans of these labels (in place); inputs left with nothing to learn are removed."""
    keep = []
    for m in merged:
        m.ents = [t for t in m.ents if t[2] in labels]
        m.negs = [t for t in m.negs if t[2] in labels]
        if m.complete or m.ents or m.negs:
            keep.append(m)
    merged[:] = keep
