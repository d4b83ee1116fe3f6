"""Train the pipeline on merged answers: data preparation and the split, the epoch loop, saving, curves.

Answers are merged per input and split into training and evaluation inputs by a hash of the
input, the same on every run. The Trainer keeps the weights of the epoch that scores best on
the evaluation inputs; the saved folder's meta.json holds the scores, datasets and settings.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .files import atomic_folder, check_output
from .errors import InputError, UsageError
from .evaluation import Scores, evaluate
from .merge import Merged, MergeResult, Unusable, answers_to_examples, merge_answers, rejected_words, spread_rejects
from .pipeline import Settings
from .tasks import stable_hash


# --- data ---------------------------------------------------------------------------------------------


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
    import spacy

    if not datasets:
        raise UsageError("Name at least one dataset to train on")
    if eval_dataset and eval_split is not None:
        raise UsageError("--eval-dataset and --eval-split are alternatives: use one of them")
    given = eval_split is not None  # a note names the flag only when the user gave it
    eval_split = 0.2 if eval_split is None else eval_split
    if not 0 <= eval_split < 1:
        raise UsageError(f"--eval-split must be from 0 to below 1, not {eval_split}")
    try:
        tokenizer = spacy.blank(lang)
    except ImportError:
        raise UsageError(f"--lang {lang}: spaCy has no language '{lang}'") from None
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


# --- training -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchDone:
    """Progress within an epoch: words trained on so far of the epoch's total."""

    epoch: int
    words: int
    total_words: int


@dataclass(frozen=True)
class EpochDone:
    """One finished epoch: loss, dev scores (None without a dev set), speed, and whether it is the best."""

    epoch: int
    loss: float
    scores: Scores | None
    words: int
    seconds: float
    best: bool

    @property
    def words_per_second(self) -> float:
        """Training words per second of this epoch (evaluation time included)."""
        return self.words / self.seconds if self.seconds else 0.0


def update_skipping(nlp: Any, examples: list[Any], optimizer: Any, drop: float, losses: dict[str, float]) -> int:
    """One update step on ``examples``; return how many had to be left out because spaCy's oracle failed on them.

    When no analysis of an example is free of its incorrect spans (binary answers can rule out
    every way to end an entity begun in an unknown region), thinc's beam search asserts, or the
    oracle that cuts long documents raises E024. Both happen before any gradient is computed, so
    the step is redone one example at a time (gradients summed, one optimizer step) without the
    ones that cannot be learnt.
    """
    try:
        nlp.update(examples, drop=drop, sgd=optimizer, losses=losses)
        return 0
    except (AssertionError, ValueError) as err:
        if isinstance(err, ValueError) and "E024" not in str(err):
            raise
    skipped = 0
    for eg in examples:
        try:
            nlp.update([eg], drop=drop, sgd=False, losses=losses)
        except AssertionError:
            skipped += 1
        except ValueError as err:
            if "E024" not in str(err):
                raise
            skipped += 1
    nlp.get_pipe("ner").finish_update(optimizer)
    return skipped


class Trainer:
    """Trains a blank pipeline epoch by epoch on merged inputs, keeps the best epoch's weights.

    With ``init_tok2vec`` (``pretraining.load_pretrained``), the NER's tok2vec starts from those
    pretrained weights instead of random ones.
    """

    def __init__(self, nlp: Any, train: Sequence[Merged], dev: Sequence[Merged], settings: Settings = Settings(),
                 init_tok2vec: Any = None):
        self.nlp, self.train, self.dev, self.settings = nlp, list(train), list(dev), settings
        self.init_tok2vec = init_tok2vec
        if settings.spread_rejects:
            rejected = rejected_words(self.train)
            self.train = [spread_rejects(m, rejected) for m in self.train]
        self.best: EpochDone | None = None
        self.skipped = 0  # example updates the beam search could not make (see update_skipping)
        self._best_weights: bytes | None = None

    def epochs(self) -> Iterator[BatchDone | EpochDone]:
        """Run the epochs, yielding progress; at the end the pipeline holds the best epoch's weights."""
        from spacy.training.batchers import minibatch_by_words
        from spacy.util import fix_random_seed
        from thinc.api import compounding

        s = self.settings
        fix_random_seed(s.seed)
        rng = random.Random(s.seed)
        nlp = self.nlp
        sample = answers_to_examples(nlp, self.train[:100])
        optimizer = nlp.initialize(lambda: sample)
        if self.init_tok2vec is not None:
            from .pretraining import apply_pretrained

            apply_pretrained(nlp, self.init_tok2vec)
        sizes = compounding(100.0, float(s.batch_size), 1.001)
        total_words = sum(m.n_words for m in self.train)
        ner = nlp.get_pipe("ner")
        for epoch in range(1, s.n_iter + 1):
            start = time.perf_counter()
            order = list(self.train)
            rng.shuffle(order)
            losses: dict[str, float] = {}
            done = 0
            for batch in minibatch_by_words(_lazy_examples(nlp, order), size=sizes, tolerance=0.2):
                self.skipped += update_skipping(nlp, batch, optimizer, s.dropout, losses)
                done += sum(len(eg) for eg in batch)
                yield BatchDone(epoch, done, total_words)
            scores = evaluate(nlp, self.dev) if self.dev else None
            is_best = self.best is None or scores is None or scores.overall.f >= self.best.scores.overall.f  # type: ignore[union-attr]
            result = EpochDone(epoch, losses.get("ner", 0.0), scores, done, time.perf_counter() - start, is_best)
            if is_best:
                self.best = result
                self._best_weights = ner.model.to_bytes() if scores is not None else None
            yield result
        if self._best_weights is not None and self.best is not None and self.best.epoch != s.n_iter:
            ner.model.from_bytes(self._best_weights)


def _lazy_examples(nlp: Any, merged: Iterable[Merged], chunk: int = 256) -> Iterator[Any]:
    """Examples made a chunk at a time, so only the batch in hand is held as Docs."""
    buffer: list[Merged] = []
    for m in merged:
        buffer.append(m)
        if len(buffer) >= chunk:
            yield from answers_to_examples(nlp, buffer)
            buffer = []
    if buffer:
        yield from answers_to_examples(nlp, buffer)


# --- saving --------------------------------------------------------------------------------------------


def save_model(nlp: Any, output: Path, data: TrainingData, best: EpochDone | None, layout: bool,
               settings: Settings, init_tok2vec: str | None = None) -> Path:
    """Write the pipeline folder; meta.json gets overall and per-label scores, datasets and sizes."""
    output = check_output(output, model=True)
    scores = best.scores.to_dict() if best is not None and best.scores is not None else {}
    nlp.meta["name"] = nlp.meta.get("name") or "vnerteach_ner"
    nlp.meta["description"] = "NER trained from a blank base by vnerteach ner.batch-train"
    nlp.meta["performance"] = {k: scores[k] for k in ("ents_p", "ents_r", "ents_f", "ents_per_type") if k in scores}
    nlp.meta["vnerteach"] = {
        "datasets": data.datasets, "eval_datasets": data.eval_datasets,
        "train_inputs": len(data.train), "eval_inputs": len(data.dev),
        "train_words": sum(m.n_words for m in data.train),
        "conflicts": data.conflicts, "unusable": len(data.unusable), "eval_overlap_excluded": data.overlap,
        "labels": data.labels, "layout": layout, "init_tok2vec": init_tok2vec,
        "vectors": {"source": settings.vectors, "name": nlp.vocab.vectors.name} if settings.vectors else None,
        "lookups": settings.lexemes,
        "best_epoch": best.epoch if best else None,
        "scores": scores, "settings": {"n_iter": settings.n_iter, "batch_size": settings.batch_size,
                                       "dropout": settings.dropout, "seed": settings.seed,
                                       "component": settings.component, "beam_width": settings.beam_width,
                                       "vectors": settings.vectors, "lookups": settings.lexemes},
    }
    with atomic_folder(output) as folder:
        nlp.to_disk(folder)
    return output


def curve_reading(points: Sequence[tuple[float, float]]) -> str:
    """A one-line reading of F1 at growing shares of the training data."""
    if len(points) < 2:
        return "too few points to read a trend"
    last_gain = points[-1][1] - points[-2][1]
    total_gain = points[-1][1] - points[0][1]
    if last_gain >= 0.01:
        return "still rising: more annotations will likely help"
    if last_gain <= -0.01:
        return "dropped at the end: the data may be noisy or contradictory; check the annotations"
    if total_gain >= 0.02:
        return "levelling off: more of the same annotations will help little; try harder examples or new labels"
    return "flat: the model does not gain from more of this data; check the labels and annotation guidelines"


def curve_subset(train: Sequence[Merged], share: float) -> list[Merged]:
    """The first ``share`` of the training inputs in a fixed hash order (nested: 25% is inside 50%)."""
    ordered = sorted(train, key=lambda m: stable_hash({"curve": m.input_hash}))
    return ordered[:max(1, round(len(ordered) * share))]
