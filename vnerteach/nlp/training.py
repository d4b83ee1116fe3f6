"""Train the pipeline on merged answers: the epoch loop, the one call that trains and saves, curves.

``train`` is the one call, as spaCy's: prepare the data (``training_data``), build the blank
pipeline, run the epochs, save. The Trainer keeps the weights of the epoch that scores best on
the evaluation inputs; the saved folder's meta.json holds the scores, datasets and settings.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import InputError, UsageError
from ..files import atomic_folder, check_output
from ..tasks import stable_hash
from .evaluation import Scores, evaluate
from .merge import Merged, answers_to_examples, rejected_words, spread_rejects
from .pipeline import Settings, blank_pipeline
from .pretraining import Pretrained, apply_pretrained, check_pretrained
from .training_data import TrainingData, prepare_data, restrict_labels


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


# --- one call ---------------------------------------------------------------------------------------------


def blank_model(lang: str, labels: Iterable[str], layout: bool, settings: Settings = Settings(),
                pretrained: Pretrained | None = None, overrides: dict[str, Any] | None = None) -> Any:
    """The blank pipeline a model is trained from; UsageError naming --init-tok2vec if pretrained weights do not fit."""
    nlp = blank_pipeline(lang, labels, layout, settings, overrides)
    if pretrained is not None:
        check_pretrained(nlp, pretrained)
    return nlp


@dataclass(frozen=True)
class TrainStart:
    """The data is merged and the blank pipeline built: training is about to start."""

    data: TrainingData
    nlp: Any
    layout: bool


TrainEvent = TrainStart | BatchDone | EpochDone


@dataclass
class TrainResult:
    """A trained pipeline, its best epoch, updates skipped, whether ``stop`` ended it; ``train`` adds data, folder."""

    nlp: Any
    best: EpochDone | None
    skipped: int = 0
    stopped: bool = False
    data: TrainingData | None = None
    layout: bool = False
    output: Path | None = None


def fit(nlp: Any, train: Sequence[Merged], dev: Sequence[Merged], settings: Settings = Settings(),
        pretrained: Pretrained | None = None, on_event: Callable[[TrainEvent], None] | None = None,
        stop: Callable[[], bool] | None = None) -> TrainResult:
    """Run the Trainer's epochs on ``nlp``, which ends with the best epoch's weights; ``stop`` is asked after each."""
    trainer = Trainer(nlp, train, dev, settings, pretrained)
    for event in trainer.epochs():
        if on_event is not None:
            on_event(event)
        if stop is not None and stop():
            return TrainResult(nlp, trainer.best, trainer.skipped, stopped=True)
    return TrainResult(nlp, trainer.best, trainer.skipped)


def train(store: Any, datasets: Sequence[str], *, settings: Settings, lang: str = "en",
          eval_dataset: str | None = None, eval_split: float | None = None, labels: Sequence[str] | None = None,
          model_labels: Sequence[str] | None = None, strict: bool = False, layout: bool | None = True,
          pretrained: Pretrained | None = None, output: Path | None = None,
          on_event: Callable[[TrainEvent], None] | None = None, stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train a blank pipeline on the datasets' answers, as spaCy's ``train``: prepare data, build, run epochs, save.

    ``labels`` is --label (each must be in the data); ``model_labels`` are the labels of a model in the loop: answers
    about others are left out and the pipeline knows these. ``layout`` True uses token boxes when the data has them,
    None follows the pretrained weights (else the data). With ``output`` the pipeline is saved there, whole or not at
    all, unless ``stop`` ended training early.
    """
    if output is not None:
        output = check_output(output, model=True)
    data = prepare_data(store, datasets, lang=lang, eval_dataset=eval_dataset, eval_split=eval_split, labels=labels,
                        strict=strict)
    if model_labels is not None:
        for merged in (data.train, data.dev):
            restrict_labels(merged, set(model_labels))
        if not any(m.ents or m.complete for m in data.train):
            raise InputError(f"no accepted entity of {', '.join(model_labels)} to learn from")
        data.labels = list(model_labels)
    if layout is None:
        use_layout = pretrained.layout if pretrained is not None else data.has_boxes
    else:
        use_layout = layout and data.has_boxes
    nlp = blank_model(lang, data.labels, use_layout, settings, pretrained)
    if on_event is not None:
        on_event(TrainStart(data, nlp, use_layout))
    result = fit(nlp, data.train, data.dev, settings, pretrained, on_event, stop)
    result.data, result.layout = data, use_layout
    if output is not None and not result.stopped:
        result.output = save_model(nlp, output, data, result.best, use_layout, settings,
                                   str(pretrained.path) if pretrained is not None else None)
    return result


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


CURVE_SHARES = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class CurveRun:
    """A run of the training curve begins: ``inputs`` training inputs, ``share`` of them all."""

    share: float
    inputs: int


@dataclass(frozen=True)
class CurvePoint:
    """A run of the training curve ended: the best epoch's F1 and the example updates skipped."""

    share: float
    inputs: int
    f: float
    skipped: int


def train_curve(store: Any, datasets: Sequence[str], *, settings: Settings, lang: str = "en",
                eval_dataset: str | None = None, eval_split: float | None = None, labels: Sequence[str] | None = None,
                strict: bool = False, layout: bool = True, pretrained: Pretrained | None = None,
                on_event: Callable[[TrainStart | CurveRun | CurvePoint | BatchDone | EpochDone], None] | None = None,
                ) -> list[CurvePoint]:
    """Train from blank on growing shares of the training inputs (``CURVE_SHARES``), each scored on the same dev set."""
    data = prepare_data(store, datasets, lang=lang, eval_dataset=eval_dataset, eval_split=eval_split, labels=labels,
                        strict=strict)
    if not data.dev:
        raise UsageError("A training curve needs an evaluation set: use --eval-split or --eval-dataset")
    use_layout = layout and data.has_boxes
    nlp = blank_model(lang, data.labels, use_layout, settings, pretrained)  # the flags are checked before any run
    if on_event is not None:
        on_event(TrainStart(data, nlp, use_layout))
    points: list[CurvePoint] = []
    for share in CURVE_SHARES:
        subset = curve_subset(data.train, share)
        if on_event is not None:
            on_event(CurveRun(share, len(subset)))
        if points:  # each run from blank; the first one's pipeline is the one just checked
            nlp = blank_model(lang, data.labels, use_layout, settings, pretrained)
        result = fit(nlp, subset, data.dev, settings, pretrained, on_event)
        best = result.best
        points.append(CurvePoint(share, len(subset), best.scores.overall.f if best and best.scores else 0.0,
                                 result.skipped))
        if on_event is not None:
            on_event(points[-1])
    return points

